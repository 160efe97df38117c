"""Amazon SES bounce and complaint notifications delivered by e-mail (SNS JSON in the body).

A relay on Amazon SES reports bounces and complaints as JSON: either the SNS
envelope (``{"Type": "Notification", "Message": "{...}"}``) or the SES
notification itself, with ``notificationType`` (or ``eventType`` for event
publishing) ``Bounce``, ``Complaint`` or ``Delivery``. The bounce sub-types say
as much as a DSN does, so they become the same per-recipient failures (the
mapping follows Sisimai's AmazonSES reader, BSD-2-Clause, see NOTICE).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from email.message import Message

from outreach.tracking import reasons
from outreach.tracking.bounces import BounceVerdict
from outreach.tracking.esp.common import reported_failure
from outreach.tracking.message import clean_address, message_ids

_SUBTYPE_REASONS = {
    "mailboxfull": reasons.MAILBOX_FULL, "messagetoolarge": reasons.CONTENT, "contentrejected": reasons.CONTENT,
    "attachmentrejected": reasons.CONTENT, "noemail": reasons.USER_UNKNOWN,
    # a permanent bounce SES says nothing more about is a dead address ("remove the recipient", AWS's docs
    # say), and so is one SES refused because its own list holds an earlier hard bounce
    "general": reasons.USER_UNKNOWN, "suppressed": reasons.USER_UNKNOWN,
    "onaccountsuppressionlist": reasons.USER_UNKNOWN,
}  # fmt: skip


@dataclass(frozen=True)
class Notification:
    """What an SES notification says: a bounce verdict, or complained recipients."""

    kind: str  # "bounce", "complaint" or "other"
    verdict: BounceVerdict | None = None
    recipients: tuple[str, ...] = ()
    feedback_type: str | None = None
    message_ids: tuple[str, ...] = ()


def _payload(text: str) -> dict[str, object] | None:
    """The SES notification object in ``text``, unwrapping the SNS envelope."""
    start = text.find("{")
    if start < 0:
        return None
    body = text[start:].split("\n--\n", 1)[0]
    for candidate in (body, re.sub(r"!\n ?", "", body), body.replace("\n", "")):
        try:
            data, _ = json.JSONDecoder().raw_decode(candidate)
        except ValueError:
            continue
        if isinstance(data, dict) and isinstance(data.get("Message"), str):
            try:
                data = json.loads(data["Message"])
            except ValueError:
                return None
        return data if isinstance(data, dict) else None
    return None


def _ids(mail: object) -> tuple[str, ...]:
    if not isinstance(mail, dict):
        return ()
    found: list[str] = []
    for header in mail.get("headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
            found += message_ids(header.get("value"))
    common = mail.get("commonHeaders")
    if isinstance(common, dict):
        found += message_ids(common.get("messageId"))
    return tuple(dict.fromkeys(found))


def _bounce(data: dict[str, object]) -> Notification:
    bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
    assert isinstance(bounce, dict)
    kind = str(bounce.get("bounceType", "")).lower()
    hint = _SUBTYPE_REASONS.get(str(bounce.get("bounceSubType", "")).lower())
    if kind != "permanent" and hint == reasons.USER_UNKNOWN:
        hint = None  # a transient or undetermined "general" bounce names nobody dead
    failures = []
    items = bounce.get("bouncedRecipients")
    for item in items if isinstance(items, list) else []:
        address = clean_address(str(item.get("emailAddress", ""))) if isinstance(item, dict) else None
        if not address:
            continue
        failures.append(reported_failure(address, permanent=kind == "permanent", hint=hint,
                                         diagnostic=str(item.get("diagnosticCode", "") or ""),
                                         status=str(item.get("status", "") or "")))  # fmt: skip
    verdict = BounceVerdict(False, tuple(failures))
    return Notification("bounce" if failures else "other", verdict, verdict.recipients, None, _ids(data.get("mail")))


def _complaint(data: dict[str, object]) -> Notification:
    complaint = data.get("complaint") if isinstance(data.get("complaint"), dict) else {}
    assert isinstance(complaint, dict)
    items = complaint.get("complainedRecipients")
    recipients = tuple(
        a for a in (clean_address(str(r.get("emailAddress", ""))) for r in (items if isinstance(items, list) else [])
                    if isinstance(r, dict)) if a
    )  # fmt: skip
    feedback = re.sub(r"[^a-z0-9-]", "", str(complaint.get("complaintFeedbackType") or "abuse").lower())[:40]
    kind = "other" if feedback == "not-spam" else "complaint"  # "this is not spam" is no reason to suppress
    return Notification(kind, None, recipients, feedback or "abuse", _ids(data.get("mail")))


def read_notification(msg: Message, body: str) -> Notification | None:
    """An SES notification carried by ``msg`` (whose body text is ``body``), or None."""
    head = body[:4000]
    if "notificationType" not in head and "eventType" not in head:
        return None
    if not (msg.get("X-Amz-Sns-Message-Id") or msg.get("X-Amz-Sns-Topic-Arn") or body.lstrip().startswith("{")):
        return None
    data = _payload(body)
    return read_payload(data) if data is not None else None


def read_payload(data: dict[str, object]) -> Notification | None:
    """What an SES notification already parsed from JSON says (mail's path above, and the SNS hook's), or None."""
    kind = str(data.get("notificationType") or data.get("eventType") or "").lower()
    if kind == "bounce":
        return _bounce(data)
    if kind == "complaint":
        return _complaint(data)
    if kind in ("delivery", "send", "open", "click", "reject", "deliverydelay", "received"):
        return Notification("other", message_ids=_ids(data.get("mail")))
    return None
