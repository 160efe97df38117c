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
    iter_parts,
    message_ids,
    parse_headers,
    part_text,
    returned_headers,
    subparts,
)

_BODY_MSGID = re.compile(r"^[ \t>]*Message-ID:[ \t]*<([^<>\s]{1,250})>", re.I | re.M)
_NOT_COMPLAINTS = frozenset(("not-spam",))  # "this is not spam" is no reason to suppress

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


@dataclass(frozen=True)
class Complaint:
    """What an ARF report says: its feedback type and the complaining recipients."""

    feedback_type: str
    recipients: tuple[str, ...]
    is_complaint: bool


def _feedback_fields(msg: Message) -> Message | None:
    for part in iter_parts(msg):
        if part.get_content_type() != "message/feedback-report":
            continue
        inner = subparts(part)
        return inner[0] if inner else parse_headers(part_text(part))
    return None


def find_complaint(msg: Message) -> Complaint | None:
    """An ARF feedback report, or None when ``msg`` is not one."""
    report = str(msg.get_param("report-type", "", header="content-type") or "").lower()
    fields = _feedback_fields(msg)
    if fields is None and report != "feedback-report" and not msg.get("Feedback-Type"):
        return None
    source = fields if fields is not None else msg
    feedback = str(source.get("Feedback-Type", "") or "").strip().lower()
    feedback = re.sub(r"[^a-z0-9-]", "", feedback)[:40] or "complaint"
    recipients = address_list(source.get_all("Original-Rcpt-To") or [])
    if not recipients:
        original = returned_headers(msg)
        if original is not None:
            recipients = address_list(original.get_all("To") or [])
    return Complaint(feedback, tuple(recipients), feedback not in _NOT_COMPLAINTS)
