"""DKIM signatures for outgoing mail (dkimpy): bytes in, signed bytes out.

Why a class built once per campaign: the key file is read and checked before
anything is sent, so a missing or broken key stops the campaign with a
``ConfigError`` naming the file instead of failing (or worse, sending
unsigned mail) message by message. Signing itself is pure: no I/O, no state.

Relaxed/relaxed canonicalisation survives the header refolding and
whitespace changes relays are allowed to make. The signed header list covers
everything a recipient judges the message by, including the RFC 8058
unsubscribe headers, and names headers even when absent so none can be added
later without breaking the signature.
"""

from __future__ import annotations

from pathlib import Path

import dkim
from dkim.crypto import UnparsableKeyError, parse_pem_private_key

from outreach.errors import ConfigError
from outreach.settings.config import Dkim

SIGNED_HEADERS = (
    b"from", b"subject", b"date", b"message-id", b"list-unsubscribe", b"list-unsubscribe-post",
    b"to", b"mime-version", b"content-type", b"reply-to",
)  # fmt: skip
CANONICALIZE = (b"relaxed", b"relaxed")


class DkimSigner:
    """Signs messages for one selector and domain with one RSA key (PEM, PKCS#1 or PKCS#8)."""

    def __init__(self, selector: str, domain: str, private_key: bytes, source: str = "the DKIM key") -> None:
        self.selector = selector.encode("ascii")
        self.domain = domain.lower().encode("ascii")
        self.key = private_key.replace(b"\r\n", b"\n").strip() + b"\n"
        try:
            parse_pem_private_key(self.key)  # fail now, not on the first message
        except (UnparsableKeyError, ValueError, IndexError, TypeError) as exc:
            raise ConfigError(f"{source}: not a PEM RSA private key ({' '.join(str(exc).split())})") from None

    @classmethod
    def from_settings(cls, cfg: Dkim, root: Path) -> DkimSigner:
        """Read ``private_key_file`` (relative to the workspace) once."""
        path = Path(cfg.private_key_file)
        path = path if path.is_absolute() else root / path
        try:
            key = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"dkim.private_key_file {path}: cannot read it ({exc.strerror or exc})") from None
        return cls(cfg.selector, cfg.domain, key, source=f"dkim.private_key_file {path}")

    def signature(self, message: bytes) -> bytes:
        """The ``DKIM-Signature:`` header field, CRLF-terminated."""
        return bytes(dkim.sign(message, self.selector, self.domain, self.key, canonicalize=CANONICALIZE,
                               include_headers=list(SIGNED_HEADERS)))  # fmt: skip

    def sign(self, message: bytes) -> bytes:
        """The message with its signature prepended."""
        return self.signature(message) + message
