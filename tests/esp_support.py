"""Support for the email services' hook tests: the documented payloads, and test keys to sign them with.

Nobody has the services' private keys, so the tests play the services: an RSA
certificate for SNS (served by a fake fetcher, so no test reaches the
internet), a P-256 key for SendGrid, a Mailgun signing key and Postmark
credentials. The documented payloads (tests/data/esp) are used as published,
with their addresses and Message-IDs swapped for those of messages a test sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from outreach.tracking.esp.ses import SIGNED, FetchRefused

DATA = Path(__file__).parent / "data" / "esp"
TOPIC = "arn:aws:sns:us-west-2:123456789012:MyTopic"  # the documented samples' own topic
CERT_URL = "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
MAILGUN_KEY = "key-0123456789abcdef0123456789abcdef"
POSTMARK_USER, POSTMARK_PASSWORD = "outreach-hooks", "s3cret pass:word"
ENV = {"MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY, "POSTMARK_WEBHOOK_PASSWORD": POSTMARK_PASSWORD}
SETTINGS = {"ses": {"topic_arns": [TOPIC]}, "mailgun": {}, "sendgrid": {},
            "postmark": {"username": POSTMARK_USER}}  # fmt: skip
SETTINGS_YAML = (
    "email_events:\n"
    f"  ses: {{topic_arns: ['{TOPIC}']}}\n"
    "  mailgun: {signing_key_env: MAILGUN_WEBHOOK_SIGNING_KEY}\n"
    "  sendgrid: {public_key_env: SENDGRID_WEBHOOK_PUBLIC_KEY}\n"
    f"  postmark: {{username: {POSTMARK_USER}, password_env: POSTMARK_WEBHOOK_PASSWORD}}\n"
)


def load(name: str) -> Any:
    return json.loads((DATA / name).read_text())


def swap(data: Any, mapping: dict[str, str]) -> Any:
    """``data`` with every occurrence of each key of ``mapping`` in its strings replaced."""
    if isinstance(data, dict):
        return {k: swap(v, mapping) for k, v in data.items()}
    if isinstance(data, list):
        return [swap(v, mapping) for v in data]
    if isinstance(data, str):
        for old, new in mapping.items():
            data = data.replace(old, new)
    return data


def environ() -> dict[str, str]:
    return {**ENV, "SENDGRID_WEBHOOK_PUBLIC_KEY": sendgrid_public()}


# -- SNS ------------------------------------------------------------------------------------------


@cache
def rsa_key(n: int = 0) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def certificate(key: rsa.RSAPrivateKey, not_before: datetime, not_after: datetime) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(not_before).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))  # fmt: skip
    return cert.public_bytes(serialization.Encoding.PEM)


@cache
def sns_certificate() -> bytes:
    now = datetime.now(UTC)
    return certificate(rsa_key(), now - timedelta(days=30), now + timedelta(days=365))


@dataclass
class FakeAws:
    """The fetcher the core gets in tests: AWS's certificate at CERT_URL, subscription confirmations answered;
    every URL asked for is noted, so a test sees that a hostile one was never fetched."""

    pem: bytes = field(default_factory=sns_certificate)
    fetched: list[str] = field(default_factory=list)
    fail: Exception | None = None

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        if self.fail is not None:
            raise self.fail
        if url == CERT_URL:
            return self.pem
        if urlsplit(url).query.startswith("Action=ConfirmSubscription"):
            return b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult/></ConfirmSubscriptionResponse>"
        raise FetchRefused("404")


def sns_sign(message: dict[str, Any], version: str = "1", key: rsa.RSAPrivateKey | None = None) -> dict[str, Any]:
    """``message`` signed as SNS signs it (the canonical string of its type), with the test certificate's key."""
    signed = {**message, "SignatureVersion": version, "SigningCertURL": CERT_URL}
    canonical = "".join(f"{name}\n{signed[name]}\n" for name in SIGNED[signed["Type"]] if name in signed)
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = (key or rsa_key()).sign(canonical.encode(), padding.PKCS1v15(), algorithm)
    signed["Signature"] = base64.b64encode(signature).decode()
    return signed


def sns_notification(ses_payload: dict[str, Any], version: str = "1", message_id: str | None = None) -> dict[str, Any]:
    """The documented SNS notification, carrying ``ses_payload`` as SES publishes it, signed."""
    envelope = load("sns-notification.json")
    envelope.pop("Subject")  # SES publishes without one
    envelope["Message"] = json.dumps(ses_payload)
    envelope["MessageId"] = message_id or envelope["MessageId"]
    return sns_sign(envelope, version)


def body(data: Any) -> bytes:
    return json.dumps(data).encode()


# -- Mailgun ---------------------------------------------------------------------------------------


def mailgun_sign(payload: dict[str, Any], key: str = MAILGUN_KEY, timestamp: float | None = None,
                 token: str | None = None) -> dict[str, Any]:  # fmt: skip
    stamp = str(int(time.time() if timestamp is None else timestamp))
    token = token or secrets.token_hex(25)
    mac = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return {**payload, "signature": {"timestamp": stamp, "token": token, "signature": mac}}


# -- SendGrid --------------------------------------------------------------------------------------


@cache
def sendgrid_key(n: int = 0) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sendgrid_public(n: int = 0) -> str:
    der = sendgrid_key(n).public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)  # fmt: skip
    return base64.b64encode(der).decode()


def sendgrid_headers(raw: bytes, n: int = 0, timestamp: str | None = None) -> dict[str, str]:
    stamp = timestamp or str(int(time.time()))
    signature = sendgrid_key(n).sign(stamp.encode() + raw, ec.ECDSA(hashes.SHA256()))
    return {"x-twilio-email-event-webhook-signature": base64.b64encode(signature).decode(),
            "x-twilio-email-event-webhook-timestamp": stamp}  # fmt: skip


# -- Postmark --------------------------------------------------------------------------------------


def postmark_headers(user: str = POSTMARK_USER, password: str = POSTMARK_PASSWORD) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
