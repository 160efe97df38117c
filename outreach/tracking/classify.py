"""Classify one inbound message: complaint, bounce, unsubscribe, auto-reply, reply or other.

Why one pure function: the mailbox poller, the CLI and the tests all need the
same answer for the same bytes, without a database or network. The decision
order matters and is fixed: a complaint outranks a bounce (ARF reports are
multipart/report too), a bounce outranks everything a human could write, an
explicit unsubscribe outranks an auto-reply, and only what is left that points
at an earlier message is a reply.

``classify_message`` never raises: whatever the bytes, the worst answer is
``Classification(kind="other", reason="malformed")``.
"""

from __future__ import annotations

import datetime as dt
import email
import logging
import re
from dataclasses import dataclass, replace
from email import policy
from email.header import decode_header
from email.message import Message
from email.utils import parsedate_to_datetime

from outreach.tracking.autoreply import is_auto_reply, is_challenge, return_date
from outreach.tracking.bounces import BounceVerdict, Failure, detect_bounce
from outreach.tracking.complaints import find_complaint, original_message_ids
from outreach.tracking.intents import Intent, intent
from outreach.tracking.message import (
    addresses_in,
    all_text,
    body_text,
    clean_address,
    decode_bytes,
    message_ids,
    returned_headers,
)
from outreach.tracking.notifications import read_notification
from outreach.tracking.reasons import AUTH_FAILURE, category
from outreach.tracking.replies import trim_reply

log = logging.getLogger(__name__)

_REPLY_SUBJECT = re.compile(
    r"^\s*(?:re|bls|balas|aw|sv|vs|antw|odp|ynt|回复|回覆)\s*(?:\[\d+\])?\s*:", re.I
)
_UNSUB_SUBJECT = re.compile(r"^\s*unsubscribe\b(?:[\s:]+(?P<token>[A-Za-z0-9._-]+))?\s*$", re.I)
_UNSUB_SUBJECT_START = re.compile(r"^\s*unsubscribe\b", re.I)
_UNSUB_BODY = re.compile(r"^\s*(?:unsubscribe|berhenti berlangganan)\s*[.!]*\s*$", re.I)


@dataclass(frozen=True)
class Classification:
    """What an inbound message is, and what it says about our earlier mail."""

    kind: str
    hard: bool = False
    reason: str | None = None
    status: str | None = None
    recipients: tuple[str, ...] = ()
    reply_text: str | None = None
    message_id: str | None = None
    from_address: str | None = None
    subject: str | None = None
    related_ids: tuple[str, ...] = ()
    envelope_recipients: tuple[str, ...] = ()
    unsubscribe_token: str | None = None
    return_date: dt.date | None = None
    failures: tuple[Failure, ...] = ()
    stage: str | None = None
    intent: Intent | None = None  # replies only: what the person wants (tracking/intents.py)

    @property
    def category(self) -> str | None:
        """Who has to act on a bounce ("dead", "mailbox", "sender", "other"), or an
        authentication-failure report ("sender"); None for everything else."""
        if self.kind == "bounce" or self.reason == AUTH_FAILURE:
            return category(self.reason)
        return None

    def to_json(self, file: str) -> dict[str, object]:
        """The contract's fields in a fixed order, then the per-recipient details."""
        return {
            "file": file,
            "kind": self.kind,
            "hard": self.hard,
            "reason": self.reason,
            "status": self.status,
            "recipients": list(self.recipients),
            "reply_text": self.reply_text,
            "intent": self.intent.name if self.intent else None,
            "stage": self.stage,
            "category": self.category,
            "failures": [f.to_json() for f in self.failures],
            "intent_detail": self.intent.to_json() if self.intent else None,
        }


MALFORMED = Classification(kind="other", reason="malformed")


def classify_message(raw: bytes) -> Classification:
    """Classify raw RFC 5322 bytes; never raises."""
    try:
        if not isinstance(raw, bytes | bytearray) or not raw.strip():
            return MALFORMED
        msg = email.message_from_bytes(bytes(raw), policy=policy.compat32)
        if not msg.keys():
            return MALFORMED
        return _classify(msg, bytes(raw))
    except Exception:  # noqa: BLE001 - the contract is "never raise"
        log.debug("unclassifiable message", exc_info=True)
        return MALFORMED


# --------------------------------------------------------------------------- headers


def header_text(msg: Message, name: str) -> str:
    """A header decoded from RFC 2047, on one line, whatever charsets it claims."""
    value = msg.get(name)
    if value is None:
        return ""
    pieces: list[str] = []
    try:
        for chunk, charset in decode_header(str(value)):
            if isinstance(chunk, bytes):
                pieces.append(decode_bytes(chunk, charset))
            else:
                pieces.append(chunk)
    except Exception:  # noqa: BLE001 - malformed encoded words
        pieces = [str(value)]
    text = "".join(pieces)
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


def _received(msg: Message) -> dt.date:
    try:
        return parsedate_to_datetime(str(msg.get("Date", ""))).date()
    except Exception:  # noqa: BLE001 - missing or nonsense Date
        return dt.datetime.now(dt.UTC).date()


def _envelope(msg: Message) -> tuple[str, ...]:
    values: list[str] = []
    for field in ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc"):
        values.extend(str(v) for v in (msg.get_all(field) or []))
    return tuple(addresses_in(values))


def _thread_ids(msg: Message) -> list[str]:
    ids = message_ids(msg.get("In-Reply-To"))
    ids += list(reversed(message_ids(msg.get("References"))))
    return ids


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _report_ids(msg: Message) -> tuple[str, ...]:
    """Message-IDs a machine report (bounce, complaint) points at: those of the returned
    original first, then the report's own threading headers."""
    original = returned_headers(msg)
    ids = message_ids(original.get("Message-ID"))[:1] if original is not None else []
    if not ids:  # no returned headers: look for a pasted "Message-ID:" line (decodes every part)
        ids = original_message_ids(msg, all_text(msg))
    return _unique(ids + _thread_ids(msg))


# --------------------------------------------------------------------------- decision


def _classify(msg: Message, raw: bytes) -> Classification:
    subject = header_text(msg, "Subject")
    from_header = header_text(msg, "From")
    ids = message_ids(msg.get("Message-ID"))
    base = Classification(
        kind="other",
        message_id=ids[0] if ids else None,
        from_address=clean_address(from_header) or _bare_sender(from_header),
        subject=subject or None,
        envelope_recipients=_envelope(msg),
    )
    body = body_text(msg)
    return _report(msg, raw, base, from_header, body) or _personal(msg, base, body)


def _bare_sender(from_header: str) -> str | None:
    """Local-only senders such as "MAILER-DAEMON" still identify the sender."""
    match = re.fullmatch(r"\s*(?:.*<)?([A-Za-z0-9._-]{1,64})>?\s*", from_header)
    return match.group(1).lower() if match else None


def _report(msg: Message, raw: bytes, base: Classification, from_header: str, body: str) -> Classification | None:
    """Complaints, SES notifications, bounces and delay notices: machine reports about our mail."""
    complaint = find_complaint(msg, raw)
    if complaint is not None:
        kind = {"complaint": "complaint", "unsubscribe": "unsubscribe"}.get(complaint.kind, "other")
        reason = AUTH_FAILURE if complaint.kind == "auth_failure" else complaint.feedback_type
        return _with(base, kind=kind, reason=reason, recipients=complaint.recipients,
                     related_ids=_report_ids(msg))  # fmt: skip
    notice = read_notification(msg, body)
    if notice is not None:
        ids = _unique(list(notice.message_ids) + list(_report_ids(msg)))
        if notice.kind == "bounce" and notice.verdict is not None:
            return _bounce(base, notice.verdict, ids)
        return _with(base, kind=notice.kind, reason=notice.feedback_type, recipients=notice.recipients,
                     related_ids=ids)  # fmt: skip
    if is_challenge(msg, body):
        return None  # a challenge/response filter's request: an auto-reply, whatever its sender
    verdict = detect_bounce(msg, raw, from_header, base.subject or "", returned_headers(msg))
    if verdict is None:
        return None
    return _bounce(base, verdict, _report_ids(msg))


def _bounce(base: Classification, verdict: BounceVerdict, ids: tuple[str, ...]) -> Classification:
    """A bounce, or a delay notice (kind "other", reason "delayed") that is not one."""
    return _with(
        base,
        kind="other" if verdict.delayed else "bounce",
        hard=verdict.hard,
        reason=verdict.reason,
        status=verdict.status,
        recipients=verdict.recipients,
        related_ids=ids,
        failures=verdict.counted,
        stage=verdict.stage,
    )


def _personal(msg: Message, base: Classification, body: str) -> Classification:
    """Unsubscribe requests, auto-replies, replies and the rest."""
    subject = base.subject or ""
    text = trim_reply(body)
    related = _unique(_thread_ids(msg))
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    if _UNSUB_SUBJECT_START.match(subject) or _UNSUB_BODY.match(first_line):
        return _with(
            base, kind="unsubscribe", related_ids=related, unsubscribe_token=_token(subject)
        )
    if is_auto_reply(msg, subject, text):
        when = return_date(text, _received(msg))
        return _with(
            base, kind="auto_reply", reply_text=text, related_ids=related, return_date=when
        )
    if related or _REPLY_SUBJECT.match(subject):
        return _with(base, kind="reply", reply_text=text, related_ids=related, intent=intent(text, subject))
    return _with(base, related_ids=related, reason="malformed" if _defective(msg) else None)


def _defective(msg: Message) -> bool:
    """Whether the parser had to guess at the MIME structure (broken boundaries etc.)."""
    return any(getattr(part, "defects", None) for part in msg.walk())


def _token(subject: str) -> str | None:
    """The token of "unsubscribe TOKEN"; plain words ("me", "please") are not tokens."""
    match = _UNSUB_SUBJECT.match(subject)
    token = match.group("token") if match else None
    if token and (len(token) >= 8 or any(c.isdigit() for c in token)):
        return token
    return None


def _with(base: Classification, **changes: object) -> Classification:
    return replace(base, **changes)  # type: ignore[arg-type]
