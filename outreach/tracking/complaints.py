"""Complaint reports (ARF, RFC 5965) and the report plumbing bounces share.

Why a complaint outranks everything else: a recipient who pressed "this is
spam" must never be mailed again, and mailbox providers judge a sender by how
fast that happens. The helpers for addresses, Message-IDs and the returned
original message live here because ARF reports and DSNs (RFC 6522
multipart/report) carry the original the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

from outreach.tracking.replies import MAX_SCAN_CHARS, part_text, subparts

_ADDR = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+$")
_MSGID = re.compile(r"<([^<>\s]{1,250})>")
_BODY_MSGID = re.compile(r"^[ \t>]*Message-ID:[ \t]*<([^<>\s]{1,250})>", re.I | re.M)
_NOT_COMPLAINTS = frozenset(("not-spam",))  # "this is not spam" is no reason to suppress

# --------------------------------------------------------------------------- addresses and ids


def clean_address(value: str | None) -> str | None:
    """Lower-cased addr-spec, or None for anything that is not exactly one address."""
    if not value:
        return None
    value = re.sub(r"[\r\n\t]+", " ", str(value)).strip()
    if _ADDR.match(value):  # already a bare addr-spec: skip the slow parser
        return value.lower()
    addr = parseaddr(value)[1] or value
    addr = addr.strip().strip("<>").strip().lower()
    return addr if _ADDR.match(addr) else None


def address_list(values: list[str]) -> list[str]:
    """Every valid address in some header values, lower-cased, first seen first."""
    try:
        pairs = getaddresses([re.sub(r"[\r\n]+", " ", str(v)) for v in values])
    except Exception:  # noqa: BLE001 - hostile header values
        pairs = []
    found: list[str] = []
    for _name, addr in pairs:
        cleaned = clean_address(addr)
        if cleaned and cleaned not in found:
            found.append(cleaned)
    return found


def message_ids(value: object) -> list[str]:
    """Message-IDs (without angle brackets) in a header value, in order."""
    if not value:
        return []
    text = str(value)
    ids = _MSGID.findall(text) or [t.strip("<>") for t in text.split() if "@" in t]
    return [i for i in ids if i.isprintable() and " " not in i]


# --------------------------------------------------------------------------- parts


def iter_parts(msg: Message) -> list[Message]:
    """All parts of ``msg``, not descending into attached messages."""
    found: list[Message] = []
    stack = [msg]
    while stack and len(found) < 500:
        part = stack.pop()
        found.append(part)
        if part is not msg and part.get_content_maintype() == "message":
            continue
        stack.extend(reversed(subparts(part)))
    return found


def parse_headers(text: str) -> Message | None:
    try:
        return HeaderParser().parsestr(text.lstrip()[:MAX_SCAN_CHARS], headersonly=True)
    except Exception:  # noqa: BLE001
        return None


def returned_headers(msg: Message) -> Message | None:
    """Headers of the original message that a report sends back, if it does."""
    for part in iter_parts(msg)[1:]:
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "message/global"):
            inner = subparts(part)
            return inner[0] if inner else parse_headers(part_text(part))
        if ctype in ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers"):
            return parse_headers(part_text(part))
    return None


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
