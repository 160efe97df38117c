"""Mailgun: the HMAC of every webhook post, its age and its token, and what its events mean here.

Mailgun signs the post inside its body: ``signature.signature`` is the hex
HMAC-SHA256, under the account's webhook signing key, of ``timestamp`` followed
by ``token`` (Mailgun's "Securing webhooks"). A captured post could be sent
again, so a post older than ``max_age`` (or more than five minutes ahead of
our clock) is refused, and so is one whose token was already used: tokens are
kept (``replay.py``) as long as a post stays acceptable, which closes the
replay whatever the window. The window is long by default because a post
Mailgun could not deliver is retried for about eight hours.

Events: a permanent ``failed`` is a bounce (Mailgun's own drops for an address
it already bounced, ``suppress-bounce``, are hard; those for a complaint or an
unsubscribe are recorded as such); a temporary ``failed`` is a delay Mailgun
retries itself, recorded nowhere, as a mailed delay notice is not;
``complained`` and ``unsubscribed`` are what they say; the rest is ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime

from outreach.errors import HookError
from outreach.tracking import reasons
from outreach.tracking.esp.common import address, event_id, reported_failure, text
from outreach.tracking.esp.events import Parsed, ServiceEvent
from outreach.tracking.message import message_ids

FUTURE_SKEW = 300.0  # seconds a timestamp may run ahead of our clock
_TOKEN = re.compile(r"^[A-Za-z0-9]{8,100}$")
_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_DIGITS = re.compile(r"^\d{1,12}(?:\.\d{1,9})?$")
_DROPS = {"suppress-complaint": "complaint", "suppress-unsubscribe": "unsubscribe"}
_HINTS = {"suppress-bounce": reasons.USER_UNKNOWN, "old": reasons.EXPIRED, "espblock": reasons.BLOCKED}


def verify(payload: object, key: bytes, now: datetime, max_age: float) -> str:
    """The post's token, once its signature verified and its timestamp is fresh; HookError(401/403) otherwise."""
    signature = payload.get("signature") if isinstance(payload, dict) else None
    if not isinstance(signature, dict):
        raise HookError("the post is not signed (no signature object)", status=401)
    timestamp, token, mac = (text(signature.get(k), 200) for k in ("timestamp", "token", "signature"))
    if not (timestamp and token and mac):
        raise HookError("the post is not signed (timestamp, token and signature are needed)", status=401)
    if not (_DIGITS.match(timestamp) and _TOKEN.match(token) and _HEX.match(mac)):
        raise HookError("the signature is malformed", status=403)
    expected = hmac.new(key, (timestamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, mac.lower()):
        raise HookError("the signature does not verify", status=403)
    age = now.replace(tzinfo=UTC).timestamp() - float(timestamp)  # ``now`` is naive UTC
    if age > max_age or age < -FUTURE_SKEW:
        raise HookError(f"the post was signed {age:.0f} s ago, outside the accepted window", status=403)
    return token


def events(payload: object) -> Parsed:
    """The bounce, complaint or unsubscribe of one webhook post (Mailgun posts one event at a time)."""
    data = payload.get("event-data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise HookError("no event-data object", status=400)
    kind = text(data.get("event"), 40).lower()
    recipient = address(data.get("recipient"))
    if recipient is None or kind not in ("failed", "complained", "unsubscribed"):
        return Parsed(ignored=1)
    reason = text(data.get("reason"), 60).lower()
    if kind == "failed" and text(data.get("severity"), 20).lower() != "permanent":
        return Parsed(ignored=1)  # Mailgun retries it: a delay, not a bounce
    eid = event_id(data.get("id"), data)
    ids = tuple(message_ids(text(_headers(data).get("message-id"), 1000)))
    subject = text(_headers(data).get("subject"), 300) or None
    if kind == "complained" or _DROPS.get(reason) == "complaint":
        return Parsed([ServiceEvent("mailgun", eid, "complaint", recipients=(recipient,), message_ids=ids,
                                    feedback_type="abuse", subject=subject)])  # fmt: skip
    if kind == "unsubscribed" or _DROPS.get(reason) == "unsubscribe":
        return Parsed([ServiceEvent("mailgun", eid, "unsubscribe", recipients=(recipient,), message_ids=ids,
                                    subject=subject)])  # fmt: skip
    delivery = _delivery(data)
    if reason.startswith("suppress-"):  # Mailgun did not even try: its list holds an earlier hard bounce
        delivery = {"note": delivery["diagnostic"], "status": delivery["status"]}
    failure = reported_failure(recipient, permanent=True, hint=_HINTS.get(reason), **delivery)
    return Parsed([ServiceEvent("mailgun", eid, "bounce", failures=(failure,), message_ids=ids, subject=subject)])


def _headers(data: dict[str, object]) -> dict[str, object]:
    message = data.get("message")
    headers = message.get("headers") if isinstance(message, dict) else None
    return headers if isinstance(headers, dict) else {}


def _delivery(data: dict[str, object]) -> dict[str, str]:
    """The remote server's reply as Mailgun passes it on: "550 5.1.1 The email account ... does not exist"."""
    status = data.get("delivery-status")
    if not isinstance(status, dict):
        return {"diagnostic": "", "status": ""}
    parts = [text(status.get(k), 1000) for k in ("code", "enhanced-code", "message", "description")]
    return {"diagnostic": " ".join(p for p in parts if p), "status": parts[1]}
