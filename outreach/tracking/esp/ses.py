"""Amazon SES through SNS: the message's signature, its certificate's host, the subscription.

SNS signs every post it makes (AWS's "Verifying the signatures of Amazon SNS
messages"): the canonical string is ``Name\\nvalue\\n`` for a fixed list of
fields in byte order (``Message, MessageId, Subject`` if present``, Timestamp,
TopicArn, Type`` for a notification; ``Message, MessageId, SubscribeURL,
Timestamp, Token, TopicArn, Type`` for the subscription messages), signed with
RSA over SHA-1 (``SignatureVersion`` 1) or SHA-256 (2) by the key of the
certificate at ``SigningCertURL``.

Anyone can post a message naming a certificate of their own, so the URL is
the trust anchor: it must be https on an SNS host (``sns.REGION.amazonaws.com``,
``sns.REGION.amazonaws.com.cn``), with no user, no other port, no query, a
``.pem`` path; the certificate is then fetched over verified TLS (by the
fetcher the web layer gives, which follows no redirect) and kept, so one
certificate is fetched once. Only the topics listed in outreach.yaml are
accepted, and only for them is a subscription confirmed (by fetching its
``SubscribeURL``, under the same host rule). A post without a signature
(raw message delivery) is refused: nothing could tell it from a forgery.

The notification itself is SES's JSON, read by the same ``notifications.py``
that reads it when SES mails it instead.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from outreach.errors import HookError
from outreach.tracking.esp.common import event_id, parse_json, text
from outreach.tracking.esp.events import Parsed, ServiceEvent
from outreach.tracking.notifications import read_payload

Fetch = Callable[[str], bytes]

NOTIFICATION, SUBSCRIBE, UNSUBSCRIBE = "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"
SIGNED = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIBE: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    UNSUBSCRIBE: ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
_OPTIONAL = frozenset(("Subject",))
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_HOST = re.compile(r"^sns\.[a-z]{2}(?:-[a-z]+)+-\d{1,2}\.amazonaws\.com(?:\.cn)?$")
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]|[^\x00-\x7f]")


class FetchRefused(Exception):
    """What a fetcher raises when the server says there is no such document (a 4xx): not a genuine SNS URL.
    Anything else a fetcher raises is taken as "cannot reach AWS now" (503: SNS sends the message again)."""


def sns_url(value: object, *, certificate: bool) -> str:
    """``value`` if it is an https URL on an SNS host, else ValueError saying why.

    ``certificate``: a certificate's URL (a ``.pem`` path, no query), else a SubscribeURL.
    """
    url = value if isinstance(value, str) else ""
    if not url or len(url) > 2048 or _UNSAFE.search(url):
        raise ValueError("not a plain ASCII URL")
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise ValueError("not https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise ValueError("a URL with a user part")
    if parts.port not in (None, 443):
        raise ValueError("a port other than 443")
    if not _HOST.match(parts.hostname or ""):
        raise ValueError(f"host {parts.hostname!r} is not sns.REGION.amazonaws.com")
    if parts.fragment or (certificate and (parts.query or not parts.path.endswith(".pem"))):
        raise ValueError("not a certificate's address")
    return url


@dataclass(frozen=True)
class SnsMessage:
    """A post whose signature verified, from a topic outreach.yaml lists."""

    type: str
    topic_arn: str
    message_id: str
    message: str
    subscribe_url: str | None


class Certificates:
    """SNS's signing certificates, fetched once per URL (at most ``size`` kept) and checked for date."""

    def __init__(self, fetch: Fetch, size: int = 16) -> None:
        self.fetch = fetch
        self.size = size
        self._keys: OrderedDict[str, tuple[rsa.RSAPublicKey, datetime, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, url: str, now: datetime) -> rsa.RSAPublicKey:
        """The public key of the certificate at ``url``, valid at ``now`` (naive UTC)."""
        with self._lock:
            found = self._keys.get(url)
            if found is not None:
                self._keys.move_to_end(url)
        if found is None:
            found = self._load(url)
            with self._lock:
                self._keys[url] = found
                while len(self._keys) > self.size:
                    self._keys.popitem(last=False)
        key, not_before, not_after = found
        if not not_before <= now <= not_after:
            raise HookError("the signing certificate is not valid now", status=403)
        return key

    def _load(self, url: str) -> tuple[rsa.RSAPublicKey, datetime, datetime]:
        try:
            pem = self.fetch(url)
        except FetchRefused:
            raise HookError("the signing certificate's address has no certificate", status=403) from None
        except Exception as exc:  # noqa: BLE001 - AWS unreachable, a timeout: retry later, do not guess
            raise HookError(f"cannot fetch the signing certificate now ({type(exc).__name__})", status=503) from None
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise HookError("the signing certificate's address holds no certificate", status=403) from None
        key = cert.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise HookError("the signing certificate holds no RSA key", status=403)
        return key, _naive(cert.not_valid_before_utc), _naive(cert.not_valid_after_utc)


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def read(body: bytes, topics: Collection[str], certificates: Certificates, now: datetime) -> SnsMessage:
    """The SNS message of a post, once its topic is one of ``topics`` and its signature verified."""
    data = parse_json(body)
    if not isinstance(data, dict) or not isinstance(data.get("Type"), str) or data["Type"] not in SIGNED:
        raise HookError("not an SNS message (a subscription with raw message delivery cannot be verified: "
                        "turn raw delivery off)", status=400)  # fmt: skip
    topic = data.get("TopicArn")
    if not isinstance(topic, str) or topic not in topics:
        raise HookError(f"topic {text(topic, 300)!r} is not one of email_events.ses.topic_arns", status=403)
    verify(data, certificates, now)
    subscribe = data.get("SubscribeURL")
    return SnsMessage(data["Type"], topic, text(data.get("MessageId"), 200), data["Message"],
                      subscribe if isinstance(subscribe, str) else None)  # fmt: skip


def canonical(data: dict[str, object]) -> bytes:
    """The string SNS signed: ``Name\\nvalue\\n`` for each signed field of the message's type, in order."""
    lines = []
    for name in SIGNED[str(data.get("Type"))]:
        value = data.get(name)
        if value is None and name in _OPTIONAL:
            continue
        if not isinstance(value, str):
            raise HookError(f"the SNS message has no {name}", status=403)
        lines.append(f"{name}\n{value}\n")
    try:
        return "".join(lines).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: SNS never signed that
        raise HookError("the SNS message is not valid text", status=400) from None


def verify(data: dict[str, object], certificates: Certificates, now: datetime) -> None:
    """HookError(403) unless SNS signed exactly this message with the key of a certificate on an SNS host."""
    algorithm = _HASHES.get(str(data.get("SignatureVersion")))
    if algorithm is None:
        raise HookError("unknown or missing SignatureVersion (1 or 2)", status=403)
    signed = canonical(data)
    try:
        signature = base64.b64decode(str(data.get("Signature") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise HookError("the signature is not base64", status=403) from None
    if not signature:
        raise HookError("the message is not signed", status=401)
    try:
        url = sns_url(data.get("SigningCertURL"), certificate=True)
    except ValueError as exc:
        raise HookError(f"SigningCertURL refused: {exc}", status=403) from None
    key = certificates.key(url, now)
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm())
    except (InvalidSignature, ValueError):
        raise HookError("the signature does not verify", status=403) from None


def subscribe_url(message: SnsMessage) -> str:
    """The SubscribeURL to fetch to confirm ``message``'s subscription: on an SNS host, confirming its own topic."""
    try:
        url = sns_url(message.subscribe_url, certificate=False)
    except ValueError as exc:
        raise HookError(f"SubscribeURL refused: {exc}", status=403) from None
    query = parse_qs(urlsplit(url).query)
    if query.get("Action") != ["ConfirmSubscription"] or query.get("TopicArn") != [message.topic_arn]:
        raise HookError("SubscribeURL does not confirm this topic's subscription", status=403)
    return url


def events(message: SnsMessage) -> Parsed:
    """The bounce or complaint an SES notification holds (deliveries and the rest are ignored)."""
    try:
        data = json.loads(message.message)
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        return Parsed(ignored=1)  # a message published to the topic by something other than SES
    try:
        notice = read_payload(data)
    except (TypeError, ValueError, AttributeError):
        notice = None
    if notice is None or notice.kind not in ("bounce", "complaint"):
        return Parsed(ignored=1)
    own = data.get(notice.kind)
    feedback = own.get("feedbackId") if isinstance(own, dict) else None
    eid = event_id(feedback or message.message_id, data)  # SES's feedback id; SNS keeps its MessageId on a retry
    subject = _subject(data.get("mail"))
    if notice.kind == "bounce" and notice.verdict is not None:
        return Parsed([ServiceEvent("ses", eid, "bounce", failures=notice.verdict.failures,
                                    message_ids=notice.message_ids, subject=subject)])  # fmt: skip
    return Parsed([ServiceEvent("ses", eid, "complaint", recipients=notice.recipients, message_ids=notice.message_ids,
                                feedback_type=notice.feedback_type, subject=subject)])  # fmt: skip


def _subject(mail: object) -> str | None:
    common = mail.get("commonHeaders") if isinstance(mail, dict) else None
    if not isinstance(common, dict):
        return None
    return text(common.get("subject"), 300) or None
