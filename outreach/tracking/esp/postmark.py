"""Postmark: HTTP basic auth on its webhook posts, and what its bounce and spam-complaint records mean here.

Postmark signs nothing: its webhooks carry the user name and password set on
the webhook (HTTP basic auth), so those are the proof, compared in constant
time. The password comes from the environment, never from outreach.yaml.

Records: ``Bounce`` is a bounce whose ``Type`` says how sure Postmark is
(``HardBounce`` and ``BadEmailAddress`` are permanent; the others are
temporary or the sender's problem and never hard), judged from the remote
server's reply in ``Details``; ``SpamComplaint`` is a complaint; a
``SubscriptionChange`` that suppresses an address by the recipient's own
request, and Postmark's ``Unsubscribe`` bounce type, unsubscribe. Each record's
``ID`` is the key that records it once.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from outreach.errors import HookError
from outreach.tracking import reasons
from outreach.tracking.esp.common import address, event_id, reported_failure, text
from outreach.tracking.esp.events import Parsed, ServiceEvent
from outreach.tracking.message import message_ids

# Type -> (permanent, the reason it names when the server's words say nothing)
_BOUNCES: dict[str, tuple[bool, str | None]] = {
    "hardbounce": (True, reasons.USER_UNKNOWN), "bademailaddress": (True, reasons.USER_UNKNOWN),
    "softbounce": (False, None), "transient": (False, None), "unknown": (False, None),
    "dnserror": (False, reasons.NETWORK), "spamnotification": (False, reasons.SPAM),
    "virusnotification": (False, reasons.CONTENT), "blocked": (False, reasons.BLOCKED),
    "dmarcpolicy": (False, reasons.AUTH_FAILURE),
}  # fmt: skip


def check(authorization: str | None, username: str, password: str) -> None:
    """HookError(401) unless the Authorization header is Basic with exactly these credentials."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise HookError("no credentials (Postmark sends the webhook's HTTP basic auth)", status=401)
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise HookError("the credentials are malformed", status=401) from None
    expected = f"{username}:{password}".encode()
    if not hmac.compare_digest(given, expected):
        raise HookError("wrong user name or password", status=401)


def events(payload: object) -> Parsed:
    """The bounce, complaint or unsubscribe of one webhook post (Postmark posts one record at a time)."""
    if not isinstance(payload, dict):
        raise HookError("Postmark posts one JSON object", status=400)
    record = text(payload.get("RecordType"), 40).lower()
    if record == "subscriptionchange":
        return _subscription(payload)
    recipient = address(payload.get("Email"))
    kind = text(payload.get("Type"), 40).lower()
    if recipient is None or record not in ("bounce", "spamcomplaint"):
        return Parsed(ignored=1)
    eid = event_id(f"{record}:{text(payload.get('ID'), 40)}" if text(payload.get("ID"), 40) else None, payload)
    subject = text(payload.get("Subject"), 300) or None
    ids = tuple(message_ids(_message_id(payload)))
    if record == "spamcomplaint" or kind == "spamcomplaint":
        return Parsed([ServiceEvent("postmark", eid, "complaint", recipients=(recipient,), message_ids=ids,
                                    feedback_type="abuse", subject=subject)])  # fmt: skip
    if kind == "unsubscribe":
        return Parsed([ServiceEvent("postmark", eid, "unsubscribe", recipients=(recipient,), message_ids=ids,
                                    subject=subject)])  # fmt: skip
    if kind not in _BOUNCES:
        return Parsed(ignored=1)  # auto-responders, address changes, challenges, Postmark's own errors
    permanent, hint = _BOUNCES[kind]
    failure = reported_failure(recipient, permanent=permanent, hint=hint, diagnostic=text(payload.get("Details"), 2000))
    return Parsed([ServiceEvent("postmark", eid, "bounce", failures=(failure,), message_ids=ids, subject=subject)])


def _message_id(payload: dict[str, object]) -> str:
    """Our Message-ID, when the post carries the original's headers (Postmark's own MessageID is its id, not ours)."""
    headers = payload.get("Headers")
    for header in headers if isinstance(headers, list) else []:
        if isinstance(header, dict) and text(header.get("Name"), 40).lower() == "message-id":
            return text(header.get("Value"), 1000)
    return ""


def _subscription(payload: dict[str, object]) -> Parsed:
    recipient = address(payload.get("Recipient"))
    reason = text(payload.get("SuppressionReason"), 40).lower()
    if recipient is None or payload.get("SuppressSending") is not True or reason != "manualsuppression":
        return Parsed(ignored=1)  # a reactivation, or a suppression for a bounce or complaint sent on its own
    eid = event_id(None, payload)
    return Parsed([ServiceEvent("postmark", eid, "unsubscribe", recipients=(recipient,))])
