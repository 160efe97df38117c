"""Complaint reports (ARF, RFC 5965), and the original Message-ID a report points at.

Why a complaint outranks everything else: a recipient who pressed "this is
spam" must never be mailed again, and mailbox providers judge a sender by how
fast that happens. ARF reports and DSNs (RFC 6522 multipart/report) carry the
original the same way, so bounces use ``original_message_ids`` too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message

from outreach.tracking.message import (
    address_list,
    clean_address,
    iter_parts,
    message_ids,
    parse_headers,
    part_text,
    returned_headers,
    subparts,
)

_BODY_MSGID = re.compile(r"^[ \t>]*Message-ID:[ \t]*<([^<>\s]{1,250})>", re.I | re.M)
def original_message_ids(msg: Message, text: str) -> list[str]:
    """The original outgoing Message-ID: returned part first, else a body line."""
    headers = returned_headers(msg)
    if headers is not None:
        ids = message_ids(headers.get("Message-ID"))
        if ids:
            return ids[:1]
    match = _BODY_MSGID.search(text)
    return [match.group(1)] if match else []


# --------------------------------------------------------------------------- complaints

_OPT_OUT = frozenset(("opt-out", "optout", "unsubscribe"))
_AUTH_FAILURE = frozenset(("auth-failure", "dmarc", "authfailure"))
_NOT_COMPLAINTS = frozenset(("not-spam",))  # "this is not spam" is no reason to suppress
# Feedback loops that send a plain multipart/mixed with the original attached, no ARF part:
# Microsoft's JMRP (staff@hotmail.com) and Amazon SES's forwarded complaints, as Sisimai reads them.
_FBL_SENDERS = re.compile(r"(?:staff@hotmail\.com|complaints@email-abuse\.amazonses\.com|@jmrp\.microsoft\.com)$", re.I)
_FBL_SUBJECT = re.compile(r"complaint about message from|abuse report|spam report|feedback report", re.I)
_JMRP_RECIPIENT = "X-HmXmrOriginalRecipient"


@dataclass(frozen=True)
class Complaint:
    """What a feedback report says: its feedback type, the recipients, and what it amounts to.

    ``kind`` is "complaint" (abuse, fraud, virus...), "unsubscribe" (an opt-out
    report: the recipient asked to be removed), "auth_failure" (a DMARC/SPF/DKIM
    failure report about our mail: the sender's health, no recipient's doing) or
    "other" ("not-spam").
    """

    feedback_type: str
    recipients: tuple[str, ...]
    kind: str = "complaint"

    @property
    def is_complaint(self) -> bool:
        return self.kind == "complaint"


def _feedback_fields(msg: Message) -> Message | None:
    for part in iter_parts(msg):
        if part.get_content_type() != "message/feedback-report":
            continue
        inner = subparts(part)
        return inner[0] if inner else parse_headers(part_text(part))
    return None


def _text_fields(msg: Message) -> Message | None:
    """ARF fields some reporters write into a text/plain part instead of a feedback-report part."""
    for part in iter_parts(msg):
        if part.get_content_type() != "text/plain":
            continue
        text = part_text(part)
        match = re.search(r"^Feedback-Type:[ \t]*\S", text, re.I | re.M)
        if match and re.search(r"^(?:User-Agent|Version|Original-Rcpt-To|Original-Mail-From):", text, re.I | re.M):
            return parse_headers(text[match.start() :])
    return None


def _kind(feedback: str) -> str:
    if feedback in _OPT_OUT:
        return "unsubscribe"
    if feedback in _AUTH_FAILURE:
        return "auth_failure"
    return "other" if feedback in _NOT_COMPLAINTS else "complaint"


def _fbl_without_arf(msg: Message) -> bool:
    """A feedback-loop report that carries the original but no ARF fields (JMRP, SES)."""
    original = returned_headers(msg)
    if original is not None and original.get(_JMRP_RECIPIENT):
        return True
    sender = clean_address(str(msg.get("From", "") or "")) or ""
    return bool(_FBL_SENDERS.search(sender)) and bool(_FBL_SUBJECT.search(str(msg.get("Subject", "") or "")))


def _recipients(source: Message, msg: Message) -> list[str]:
    """Original-Rcpt-To, else JMRP's original-recipient header, else the returned original's To."""
    recipients = address_list(source.get_all("Original-Rcpt-To") or [])
    if recipients:
        return recipients
    original = returned_headers(msg)
    if original is None:
        return []
    return address_list(original.get_all(_JMRP_RECIPIENT) or []) or address_list(original.get_all("To") or [])


_ARF_HINTS = (b"feedback-type", b"feedback-report", b"x-hmxmroriginalrecipient", b"complaint about message")


def find_complaint(msg: Message, raw: bytes | None = None) -> Complaint | None:
    """A feedback report (ARF, or a feedback loop's plain forward), or None when ``msg`` is not one.

    ``raw``, when given, lets mail that mentions no feedback report anywhere skip the part walk.
    """
    if raw is not None:
        low = raw[:1_000_000].lower()
        if not any(hint in low for hint in _ARF_HINTS):
            return None
    report = str(msg.get_param("report-type", "", header="content-type") or "").lower()
    fields = _feedback_fields(msg)
    if fields is None and report != "feedback-report" and not msg.get("Feedback-Type"):
        fields = _text_fields(msg)
        if fields is None:
            if not _fbl_without_arf(msg):
                return None
            return Complaint("abuse", tuple(_recipients(msg, msg)))
    source = fields if fields is not None else msg
    feedback = str(source.get("Feedback-Type", "") or "").strip().lower()
    feedback = re.sub(r"[^a-z0-9-]", "", feedback)[:40] or "complaint"
    return Complaint(feedback, tuple(_recipients(source, msg)), _kind(feedback))
