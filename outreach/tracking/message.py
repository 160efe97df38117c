"""General readers of inbound MIME messages that reports (bounces, complaints) need.

Why a flattened "report text": mail systems write the facts of a bounce in
many places — a text/plain explanation, a text/html one, a
message/delivery-status part, or all of them at once — and some wrap the whole
report in one text part with the returned original pasted below. Reading one
text that holds every part the *reporting* system wrote, and stops where the
returned original begins, lets one set of rules serve every format (the same
idea as Sisimai's flattened body cut at each MTA's "backbone" marker).
"""

from __future__ import annotations

import re
from email.message import Message
from email.parser import HeaderParser

from outreach.tracking.replies import MAX_SCAN_CHARS, html_to_text, part_text, subparts

# Where a returned copy of the original message starts inside a text part.
# Collected from the markers MTAs write (Sendmail, Postfix, Exim, qmail, dma,
# Exchange, Notes, OpenSMTPD, MailRu, GMX, mFILTER, FML...).
_ORIGINAL_STARTS = re.compile(
    r"^[ \t>]*(?:"
    r"-{2,} ?(?:below this line is a copy of the message|this is a copy of (?:the|your) message"
    r"|original message(?: follows| header(?:s)?)?|unsent message follows|no message was collected"
    r"|the header of the original message is following|returned message|header of the source mail"
    r"|start of returned message|returned mail|original (?:message|mail) info|message header follows)"
    r"|original message follows|message headers follow|original message headers:?"
    r"|en-t.tes de message d'origine|intestazioni originali del messaggio"
    r"|included is a copy of the message header|below is a copy of the original message"
    r"|the attachment contains the original mail headers|original mail as follows"
    r"|a copy of the original message below this line|below this line is a copy of the message"
    r"|your message reads \(in part\)|here is a copy of the first part of the message"
    r"|the first \d+ lines of your original message|-+ ?original message ?-+"
    r"|the non-delivered message is attached"
    r")|^(?:received|return-path|dkim-signature|x-original-to|delivered-to): ?\S",
    re.I | re.M,
)
_TEXT_TYPES = ("text/plain", "text/html", "text/enriched")
_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ORIGINAL_TYPES = (
    "message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers",
    "message/global-headers", "message/partial",
)  # fmt: skip


_KEY_FIELD = re.compile(
    r"^(?:from|to|subject|date|message-id|received|return-path|mime-version|reply-to|cc):[ \t]", re.I | re.M
)
_FIELD_LINE = re.compile(r"^[A-Za-z][\w-]{0,60}:(?:[ \t]|$)")


def _header_block_at(lines: list[str]) -> bool:
    """Whether ``lines`` start a header block: three header fields, two of them an original's."""
    fields = keys = 0
    for line in lines[:8]:
        if not line.strip():
            break
        if line[0] in " \t":
            continue
        if not _FIELD_LINE.match(line):
            return False
        fields += 1
        keys += bool(_KEY_FIELD.match(line))
    return fields >= 3 and keys >= 2


def original_start(text: str) -> int | None:
    """Where a pasted copy of the original message begins: a marker line, or its header block."""
    marker = _ORIGINAL_STARTS.search(text)
    end = marker.start() if marker else len(text)
    for match in _KEY_FIELD.finditer(text, 0, end):
        if _header_block_at(text[match.start() : match.start() + 2000].split("\n")):
            return match.start()
    return marker.start() if marker else None


def cut_original(text: str) -> str:
    """``text`` up to the line where a pasted copy of the original message begins."""
    start = original_start(text)
    return text if start is None else text[:start]


def pasted_original(parts: list[tuple[str, str]]) -> Message | None:
    """The headers of an original message pasted into a bounce's text (``report_parts``), if any."""
    for ctype, text in parts:
        start = original_start(text) if ctype.startswith("text/") else None
        if start is None:
            continue
        rest = text[start:].split("\n")
        if not _header_block_at(rest):
            rest = rest[1:]  # the marker line ("--- Below this line is a copy of the message.")
            while rest and not rest[0].strip():
                rest = rest[1:]
        if _header_block_at(rest):
            headers = HeaderParser().parsestr("\n".join(rest[:200]), headersonly=True)
            return headers if headers.keys() else None
    return None


def status_text(part: Message) -> str:
    """A delivery-status part as text; the email package parses it into header blocks."""
    if part.is_multipart():
        return "\n\n".join("\n".join(f"{k}: {v}" for k, v in block.items()) for block in subparts(part))
    return part_text(part).replace("\r\n", "\n")


def _leaf_text(part: Message) -> str:
    ctype = part.get_content_type()
    text = part_text(part)
    if ctype == "text/html":
        return html_to_text(text)
    return text


def report_parts(msg: Message) -> list[tuple[str, str]]:
    """(content type, text) of every part the reporting system wrote itself.

    Descends multiparts, keeps text/* and delivery-status parts, and stops at
    the returned original (message/rfc822 and its header-only variants) and at
    non-text attachments. A text/html twin of a text/plain part is skipped. A
    message that is not multipart is read as text whatever it claims to be: a
    broken boundary parameter leaves a multipart/report as one opaque body.
    """
    found: list[tuple[str, str]] = []
    size = 0
    stack = [msg]
    while stack and size < MAX_SCAN_CHARS and len(found) < 50:
        part = stack.pop()
        ctype = part.get_content_type()
        if part is not msg and ctype in _ORIGINAL_TYPES:
            continue
        if ctype in _STATUS_TYPES:
            found.append((ctype, status_text(part)))
            continue
        if part.is_multipart():
            children = subparts(part)
            if ctype == "multipart/alternative":
                plain = [c for c in children if c.get_content_type() == "text/plain"]
                children = plain[:1] or children[:1]
            stack.extend(reversed(children))
            continue
        if ctype in _TEXT_TYPES or (part is msg and part.get_content_maintype() != "image"):
            text = _leaf_text(part).replace("\r\n", "\n").replace("\r", "\n")
            found.append((ctype, text))
            size += len(text)
    return found


def report_text(parts: list[tuple[str, str]]) -> str:
    """The report's own words (``report_parts``) joined, cut where a pasted original begins."""
    chunks = []
    for ctype, text in parts:
        if ctype in _STATUS_TYPES:
            chunks.append(text)
            continue
        chunks.append(cut_original(text))
        if len(chunks[-1]) < len(text):  # the original starts here: nothing after it is ours
            break
    return "\n".join(chunks)[:MAX_SCAN_CHARS]


_SIMPLE_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"'@]+@[^\s<>()\[\],;:\"'@]+\.[^\s<>()\[\],;:\"'@]+")


def addresses_in(values: list[str]) -> list[str]:
    """Every address-looking token in some header values, lower-cased, first seen first.

    A quick scan where exact RFC 5322 parsing is not needed (whose mail a report
    is about, which addresses are ours); ``arf.address_list`` parses properly.
    """
    found: dict[str, None] = {}
    for value in values:
        for match in _SIMPLE_ADDRESS.finditer(value[:5000]):
            found.setdefault(match.group(0).lower().rstrip("."), None)
    return list(found)


def header_values(msg: Message | None, *names: str) -> list[str]:
    """Every value of the named header fields, as strings (empty for a missing message)."""
    if msg is None:
        return []
    values: list[str] = []
    for name in names:
        values.extend(str(v) for v in (msg.get_all(name) or []))
    return values
