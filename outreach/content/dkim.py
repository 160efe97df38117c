"""DKIM signatures for outgoing mail (RFC 6376): bytes in, signed bytes out.

Why written here rather than calling dkimpy: dkimpy does RSA in pure Python
(6-9 ms a signature) and re-parses the PEM key on every call, which capped a
signed blast near 150 messages a second. Here the key is loaded once into an
OpenSSL key object (``cryptography``), so a signature costs what OpenSSL's
RSA-2048 costs (about a millisecond), and canonicalisation plus body hash add
tens of microseconds on top. dkimpy stays the reference verifier in the tests,
next to OpenDKIM's ``opendkim-testmsg``.

Why a class built once per campaign: the key files are read and checked before
anything is sent, so a missing or broken key stops the campaign with a
``ConfigError`` naming the file instead of failing (or worse, sending
unsigned mail) message by message. Signing itself is pure: no I/O, no state,
and a signer pickles as its key bytes, so worker processes can rebuild it.

Relaxed/relaxed canonicalisation (RFC 6376 §3.4.2, §3.4.4) survives the
header refolding and whitespace changes relays are allowed to make. The
signed header list covers everything a recipient judges the message by,
including the RFC 8058 unsubscribe headers, and names headers even when
absent so none can be added later without breaking the signature (dkimpy's
``include_headers`` semantics: each name once, its last occurrence signed).

With an Ed25519 key configured as well, every message carries two signatures
(RFC 8463 recommends this while receivers adopt Ed25519): ``rsa-sha256`` first,
then ``ed25519-sha256``, both over the same canonical headers and body hash.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from outreach.errors import ConfigError
from outreach.settings.config import Dkim

if TYPE_CHECKING:
    from outreach.settings.config import Dkim

SIGNED_HEADERS = (
    b"from", b"subject", b"date", b"message-id", b"list-unsubscribe", b"list-unsubscribe-post",
    b"to", b"mime-version", b"content-type", b"reply-to",
)  # fmt: skip
MIN_RSA_BITS = 1024  # RFC 8301: verifiers must not accept less

_FIELD_END = re.compile(rb"\r\n(?![ \t])")  # a line break not followed by folding whitespace
_WSP_RUN = re.compile(rb"[ \t]+")
_WSP_EOL = re.compile(rb"[ \t]+\r\n")
_LONE_CR_LF = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def crlf(message: bytes) -> bytes:
    """``message`` with every line break as CRLF and a final CRLF: the form SMTP carries it in.

    Signing any other form would sign bytes the recipient never sees. Cheap when
    already canonical (three counts), which is what ``outreach.mime`` builds.
    """
    if message.count(b"\n") != message.count(b"\r\n") or message.count(b"\r") != message.count(b"\r\n"):
        message = _LONE_CR_LF.sub(b"\r\n", message)
    return message if message.endswith(b"\r\n") else message + b"\r\n"


def relaxed_header(name: bytes, value: bytes) -> bytes:
    """RFC 6376 §3.4.2: lower-case name, unfolded value, whitespace runs as one space, no outer whitespace."""
    return name.rstrip(b" \t").lower() + b":" + _WSP_RUN.sub(b" ", value.replace(b"\r\n", b"")).strip(b" \t")


def relaxed_body(body: bytes) -> bytes:
    """RFC 6376 §3.4.4 on a CRLF body: no trailing whitespace on lines, runs as one space, no empty tail lines."""
    if b"\t" in body or b"  " in body or b" \r\n" in body:  # memchr-fast; MIME bodies rarely need the regexes
        body = _WSP_RUN.sub(b" ", _WSP_EOL.sub(b"\r\n", body))
    body = body.rstrip(b"\r\n")  # after crlf() the tail is whole CRLF pairs
    return body + b"\r\n" if body else b""


def select_headers(head: bytes, names: tuple[bytes, ...]) -> list[tuple[bytes, bytes]]:
    """(name, value) for each listed name's last occurrence in ``head``; absent names sign as nothing."""
    last: dict[bytes, tuple[bytes, bytes]] = {}
    for field in _FIELD_END.split(head):
        name, colon, value = field.partition(b":")
        key = name.rstrip(b" \t").lower()
        if colon and key in names:
            last[key] = (name, value)
    return [last[n] for n in names if n in last]


@dataclass(frozen=True)
class _Key:
    """One selector's key and the parts of its signature header that never change."""

    algorithm: bytes
    sign: Callable[[bytes], bytes]  # canonical data -> raw signature
    prefix: bytes  # "DKIM-Signature: v=1; a=...; c=...;\r\n d=...; s=...; t="
    middle: bytes  # ";\r\n h=...;\r\n bh="


def _fold_b64(value: bytes, first: int) -> bytes:
    """Base64 folded with CRLF+space (FWS is allowed inside b= and bh=); lines stay under 78."""
    cut = [value[:first]] + [value[i : i + 72] for i in range(first, len(value), 72)]
    return b"\r\n ".join(c for c in cut if c)


def _header_list(names: tuple[bytes, ...]) -> bytes:
    lines, line = [], b""
    for name in names:
        if line and len(line) + len(name) > 66:
            lines.append(line)
            line = b""
        line += name + b":"
    lines.append(line)
    return b"\r\n ".join(lines).rstrip(b":")


def _load_key(pem: bytes, source: str, kind: type[Any], what: str) -> Any:
    if kind is Ed25519PrivateKey and (seed := _base64_seed(pem)) is not None:
        return Ed25519PrivateKey.from_private_bytes(seed)  # dkimpy's dknewkey writes Ed25519 keys so
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        detail = " ".join(str(exc).split()) or type(exc).__name__
        raise ConfigError(f"{source}: not a PEM {what} private key ({detail})") from None
    if not isinstance(key, kind):
        raise ConfigError(f"{source}: not a PEM {what} private key (it holds another kind of key)")
    if isinstance(key, RSAPrivateKey) and key.key_size < MIN_RSA_BITS:
        raise ConfigError(f"{source}: a {key.key_size}-bit RSA key is too short; use 2048 bits")
    return key


def _base64_seed(data: bytes) -> bytes | None:
    """The 32-byte private seed when ``data`` is one line of base64 (not PEM), else None."""
    try:
        seed = base64.b64decode(data.strip(), validate=True)
    except ValueError:
        return None
    return seed if len(seed) == 32 else None


def _normal_pem(pem: bytes) -> bytes:
    return pem.replace(b"\r\n", b"\n").strip() + b"\n"


class DkimSigner:
    """Signs messages for one domain with an RSA key and, optionally, an Ed25519 key beside it.

    Keys are PEM, PKCS#1 or PKCS#8 (as ``openssl genrsa`` / ``openssl genpkey -algorithm
    ed25519`` write them), unencrypted; an Ed25519 key may also be dkimpy's base64 seed.
    """

    def __init__(self, selector: str, domain: str, private_key: bytes, source: str = "the DKIM key",
                 ed25519: tuple[str, bytes, str] | None = None) -> None:  # fmt: skip
        """``ed25519`` is (selector, PEM key, source) for the second signature."""
        self.domain = domain.lower()
        self._pems = (selector, _normal_pem(private_key), source, ed25519)
        rsa_key = _load_key(self._pems[1], source, RSAPrivateKey, "RSA")
        self.keys = [self._key(b"rsa-sha256", selector,
                               lambda data: rsa_key.sign(data, padding.PKCS1v15(), hashes.SHA256()))]  # fmt: skip
        if ed25519 is not None:
            ed_selector, ed_pem, ed_source = ed25519
            ed_key = _load_key(_normal_pem(ed_pem), ed_source, Ed25519PrivateKey, "Ed25519")
            self.keys.append(self._key(b"ed25519-sha256", ed_selector,
                                       lambda data: ed_key.sign(hashlib.sha256(data).digest())))  # fmt: skip

    def _key(self, algorithm: bytes, selector: str, sign: Callable[[bytes], bytes]) -> _Key:
        prefix = (f"DKIM-Signature: v=1; a={algorithm.decode()}; c=relaxed/relaxed;\r\n d={self.domain}; "
                  f"s={selector}; t=").encode("ascii")  # fmt: skip
        return _Key(algorithm, sign, prefix, b";\r\n h=" + _header_list(SIGNED_HEADERS) + b";\r\n bh=")

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its key bytes (for worker processes): OpenSSL key objects do not pickle."""
        selector, pem, source, ed = self._pems
        return (DkimSigner, (selector, self.domain, pem, source, ed))

    @classmethod
    def from_settings(cls, cfg: Dkim, root: Path) -> DkimSigner:
        """Read ``private_key_file`` (and ``ed25519_private_key_file``), relative to the workspace, once."""
        key, source = _read_key(root, "dkim.private_key_file", cfg.private_key_file)
        ed = None
        if cfg.ed25519_selector and cfg.ed25519_private_key_file:
            ed_key, ed_source = _read_key(root, "dkim.ed25519_private_key_file", cfg.ed25519_private_key_file)
            ed = (cfg.ed25519_selector, ed_key, ed_source)
        return cls(cfg.selector, cfg.domain, key, source=source, ed25519=ed)

    def dns_records(self) -> dict[str, str]:
        """selector -> the TXT record to publish at ``SELECTOR._domainkey.DOMAIN`` for its key."""
        selector, pem, _, ed = self._pems
        records = {selector: _txt("rsa", serialization.load_pem_private_key(pem, None).public_key())}
        if ed is not None:
            records[ed[0]] = _txt("ed25519", serialization.load_pem_private_key(_normal_pem(ed[1]), None).public_key())
        return records

    def signature(self, message: bytes, now: float | None = None) -> bytes:
        """The ``DKIM-Signature:`` header field(s), CRLF-terminated, for a message already in :func:`crlf` form."""
        split = message.find(b"\r\n\r\n")
        head, body = (message[:split], message[split + 4 :]) if split >= 0 else (message, b"")
        canon = b"".join(relaxed_header(n, v) + b"\r\n" for n, v in select_headers(head, SIGNED_HEADERS))
        body_hash = base64.b64encode(hashlib.sha256(relaxed_body(body)).digest())
        stamp = str(int(time.time() if now is None else now)).encode("ascii")
        out = []
        for key in self.keys:
            unsigned = key.prefix + stamp + key.middle + _fold_b64(body_hash, 60) + b";\r\n b="
            name, _, value = unsigned.partition(b":")
            raw = key.sign(canon + relaxed_header(name, value))  # hashed without its final CRLF (§3.7)
            out.append(unsigned + _fold_b64(base64.b64encode(raw), 74) + b"\r\n")
        return b"".join(out)

    def sign(self, message: bytes, now: float | None = None) -> bytes:
        """The message (in :func:`crlf` form) with its signature(s) prepended."""
        message = crlf(message)
        return self.signature(message, now) + message


def _read_key(root: Path, setting: str, name: str) -> tuple[bytes, str]:
    path = Path(name)
    path = path if path.is_absolute() else root / path
    try:
        return path.read_bytes(), f"{setting} {path}"
    except OSError as exc:
        raise ConfigError(f"{setting} {path}: cannot read it ({exc.strerror or exc})") from None


def _txt(kind: str, public: Any) -> str:
    if kind == "ed25519":  # RFC 8463: p= is the raw 32-byte key
        der = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return f"v=DKIM1; k={kind}; p={base64.b64encode(der).decode('ascii')}"
