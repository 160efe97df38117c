"""SendGrid: the signed event webhook, and what its events mean here.

With "Signed Event Webhook Requests" on, SendGrid signs each post with an
ECDSA P-256 key of its own: ``X-Twilio-Email-Event-Webhook-Signature`` is the
base64 DER signature, over SHA-256, of the ``X-Twilio-Email-Event-Webhook-
Timestamp`` header's value followed by the raw body, exactly as received
(SendGrid's "Getting Started with the Event Webhook Security Features"). The
verification key is the base64 DER public key SendGrid shows, given here
through the environment. A post's events are a JSON array; each has its own
``sg_event_id``, the key that records an event sent twice once.

Events: ``bounce`` is a bounce (``type: blocked`` a temporary one, so never
hard), judged from the remote server's reply in ``reason`` and ``status``, with
``bounce_classification`` as the hint; ``dropped`` for an address SendGrid
already bounced (or one it cannot send to) is a hard bounce, for one that
complained or unsubscribed it is that; ``spamreport`` is a complaint;
``unsubscribe`` and ``group_unsubscribe`` unsubscribe; the rest is ignored.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from outreach.errors import HookError
from outreach.tracking import reasons
from outreach.tracking.esp.common import address, event_id, reported_failure, text
from outreach.tracking.esp.events import Parsed, ServiceEvent
from outreach.tracking.message import message_ids

SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"
MAX_EVENTS = 10_000
_CLASSES = {
    "invalid address": reasons.USER_UNKNOWN, "invalid": reasons.USER_UNKNOWN,
    "mailbox unavailable": reasons.SUSPENDED, "content": reasons.CONTENT, "reputation": reasons.BAD_REPUTATION,
    "frequency or volume too high": reasons.RATE_LIMITED, "technical": reasons.SYSTEM,
}  # fmt: skip
_DROPPED = {"bounced address": "bounce", "invalid": "bounce", "spam reporting address": "complaint",
            "unsubscribed address": "unsubscribe"}  # fmt: skip


def load_key(value: str) -> ec.EllipticCurvePublicKey:
    """SendGrid's verification key (base64 DER, as its settings page shows it; PEM armour is accepted too)."""
    body = "".join(line for line in value.strip().splitlines() if not line.startswith("-----"))
    try:
        key = serialization.load_der_public_key(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError("not a base64 DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 public key")
    return key


def verify(body: bytes, signature: str | None, timestamp: str | None, key: ec.EllipticCurvePublicKey) -> None:
    """HookError(401) for an unsigned post, HookError(403) unless SendGrid's key signed timestamp + body."""
    if not signature or not timestamp:
        raise HookError("the post is not signed (X-Twilio-Email-Event-Webhook-Signature and -Timestamp)", status=401)
    if len(timestamp) > 40 or len(signature) > 400:
        raise HookError("the signature headers are malformed", status=403)
    try:
        key.verify(base64.b64decode(signature, validate=True), timestamp.encode("latin-1") + body,
                   ec.ECDSA(hashes.SHA256()))  # fmt: skip
    except (binascii.Error, ValueError, InvalidSignature, UnicodeEncodeError):
        raise HookError("the signature does not verify", status=403) from None


def events(payload: object) -> Parsed:
    """The bounces, complaints and unsubscribes in a post's array of events."""
    if not isinstance(payload, list):
        raise HookError("SendGrid posts a JSON array of events", status=400)
    if len(payload) > MAX_EVENTS:
        raise HookError(f"more than {MAX_EVENTS} events in one post", status=400)
    parsed = Parsed()
    for item in payload:
        event = _event(item) if isinstance(item, dict) else None
        if event is None:
            parsed.ignored += 1
        else:
            parsed.events.append(event)
    return parsed


def _event(item: dict[str, object]) -> ServiceEvent | None:
    kind = text(item.get("event"), 40).lower()
    recipient = address(item.get("email"))
    if recipient is None:
        return None
    hint: str | None = reasons.USER_UNKNOWN  # a drop: SendGrid keeps the address on its bounce (or invalid) list
    dropped = kind == "dropped"
    if dropped:
        kind = _DROPPED.get(text(item.get("reason"), 100).lower(), "")
    else:
        hint = _CLASSES.get(text(item.get("bounce_classification"), 60).lower())
    eid = event_id(item.get("sg_event_id"), item)
    ids = tuple(message_ids(text(item.get("smtp-id"), 1000)))
    if kind == "bounce":
        permanent = text(item.get("type"), 20).lower() != "blocked"
        words = {("note" if dropped else "diagnostic"): text(item.get("reason"), 2000)}  # a drop's reason is SendGrid's
        failure = reported_failure(recipient, permanent=permanent, hint=hint, status=text(item.get("status"), 40),
                                   **words)  # fmt: skip
        return ServiceEvent("sendgrid", eid, "bounce", failures=(failure,), message_ids=ids)
    if kind in ("spamreport", "complaint"):
        return ServiceEvent("sendgrid", eid, "complaint", recipients=(recipient,), message_ids=ids,
                            feedback_type="abuse")  # fmt: skip
    if kind in ("unsubscribe", "group_unsubscribe"):
        return ServiceEvent("sendgrid", eid, "unsubscribe", recipients=(recipient,), message_ids=ids)
    return None
