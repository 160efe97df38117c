"""DKIM: is there a key record at the configured selector, and is it the pair of the workspace's key?

The record is rebuilt from the private key the workspace signs with
(``dkim.private_key_file``; with issue 14's dual signing also
``dkim.ed25519_private_key_file`` at ``dkim.ed25519_selector``), so the
executive gets the exact line to publish, and a record that holds another key
(an old one, a copy-paste slip) is caught by comparing the keys themselves:
the RSA modulus and exponent, or the raw Ed25519 public key.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from outreach.deliverability.findings import Finding, txt_record
from outreach.deliverability.resolver import Dns

PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey


class KeyProblem(Exception):
    pass


def check_dkim(dkim: Any, root: Path, dns: Dns) -> list[Finding]:
    """One finding per configured key (RSA always, Ed25519 when set); a fail when DKIM is off."""
    if dkim is None:
        return [Finding("dkim", "fail", "messages are not signed (no dkim: section in outreach.yaml); Gmail and "
                        "Yahoo require DKIM from bulk senders. Make a key (openssl genrsa -out dkim-private.pem "
                        "2048) and add dkim: {selector, domain, private_key_file}")]  # fmt: skip
    findings = [_one("dkim", dkim.selector, dkim.domain, root / dkim.private_key_file, dns)]
    ed_selector = getattr(dkim, "ed25519_selector", None)
    ed_file = getattr(dkim, "ed25519_private_key_file", None)
    if ed_selector and ed_file:
        findings.append(_one("dkim_ed25519", ed_selector, dkim.domain, root / ed_file, dns))
    return findings


def _one(check: str, selector: str, domain: str, key_file: Path, dns: Dns) -> Finding:
    name = f"{selector}._domainkey.{domain}"
    try:
        public = load_public_key(key_file)
    except KeyProblem as exc:
        return Finding(check, "fail", str(exc))
    wanted = txt_record(name, dkim_record_value(public))
    records = [r for r in dns.txt(name).records if "p=" in r.replace(" ", "")]
    if not records:
        return Finding(check, "fail", f"no DKIM record at {name}: receivers cannot verify the signature, so the "
                       "mail counts as unsigned", wanted)  # fmt: skip
    if len(records) > 1:
        return Finding(check, "fail", f"{len(records)} DKIM records at {name}; receivers may pick either: keep one",
                       wanted)  # fmt: skip
    try:
        published = parse_record(records[0])
    except KeyProblem as exc:
        return Finding(check, "fail", f"the DKIM record at {name} is unusable: {exc}", wanted)
    if not same_key(public, published):
        return Finding(check, "fail", f"the DKIM record at {name} holds another key than {key_file.name}: every "
                       "signature fails; publish the record of the key the workspace signs with", wanted)  # fmt: skip
    if isinstance(public, rsa.RSAPublicKey) and public.key_size < 2048:
        return Finding(check, "warn", f"{name} matches {key_file.name}, but the key has {public.key_size} bits; "
                       "use 2048")  # fmt: skip
    return Finding(check, "ok", f"{name} publishes the public half of {key_file.name}")


def load_public_key(path: Path) -> PublicKey:
    """The public half of a PEM private key (RSA, or Ed25519 in PEM or as dkimpy's base64 seed)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyProblem(f"cannot read the DKIM key {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        try:
            seed = base64.b64decode(data.strip(), validate=True)
            key = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
        except (ValueError, binascii.Error):
            raise KeyProblem(f"{path} is not a PEM private key") from None
    public = key.public_key()
    if not isinstance(public, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise KeyProblem(f"{path}: DKIM keys are RSA or Ed25519")
    return public


def dkim_record_value(public: PublicKey) -> str:
    """``v=DKIM1; k=rsa; p=...`` (SubjectPublicKeyInfo) or ``k=ed25519; p=`` (the raw 32 bytes, RFC 8463)."""
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "v=DKIM1; k=ed25519; p=" + base64.b64encode(raw).decode("ascii")
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode("ascii")


def parse_record(value: str) -> PublicKey:
    """The key of a DKIM TXT record (RFC 6376 3.6.1); errors say what is wrong with it."""
    tags = {}
    for part in value.split(";"):
        name, _, tag_value = part.partition("=")
        if name.strip():
            tags[name.strip().lower()] = "".join(tag_value.split())
    if tags.get("v", "DKIM1") != "DKIM1":
        raise KeyProblem(f"v={tags['v']} (must be DKIM1)")
    p = tags.get("p", "")
    if not p:
        raise KeyProblem("p= is empty: the key is revoked")
    try:
        raw = base64.b64decode(p, validate=True)
    except (ValueError, binascii.Error):
        raise KeyProblem("p= is not base64") from None
    kind = tags.get("k", "rsa").lower()
    try:
        if kind == "ed25519":
            return ed25519.Ed25519PublicKey.from_public_bytes(raw)
        if kind != "rsa":
            raise KeyProblem(f"k={kind} is not a key type receivers know")
        try:
            public = serialization.load_der_public_key(raw)
        except ValueError:  # some publish the bare PKCS#1 RSAPublicKey
            pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(raw) + b"-----END RSA PUBLIC KEY-----\n"
            public = serialization.load_pem_public_key(pem)
    except ValueError:
        raise KeyProblem(f"p= is not a valid {kind} public key") from None
    if not isinstance(public, rsa.RSAPublicKey):
        raise KeyProblem("k=rsa but p= holds another kind of key")
    return public


def same_key(a: PublicKey, b: PublicKey) -> bool:
    if isinstance(a, rsa.RSAPublicKey) and isinstance(b, rsa.RSAPublicKey):
        return a.public_numbers() == b.public_numbers()
    if isinstance(a, ed25519.Ed25519PublicKey) and isinstance(b, ed25519.Ed25519PublicKey):
        raw = (serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return a.public_bytes(*raw) == b.public_bytes(*raw)
    return False
