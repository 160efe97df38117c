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


def cut_original(text: str) -> str:
    """``text`` up to the line where a pasted copy of the original message begins."""
    match = _ORIGINAL_STARTS.search(text)
    return text[: match.start()] if match else text


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
        if part.is_multipart():
            children = subparts(part)
            if ctype == "multipart/alternative":
                plain = [c for c in children if c.get_content_type() == "text/plain"]
                children = plain[:1] or children[:1]
            stack.extend(reversed(children))
            continue
        if ctype in _TEXT_TYPES or ctype in _STATUS_TYPES or (part is msg and part.get_content_maintype() != "image"):
            text = _leaf_text(part).replace("\r\n", "\n").replace("\r", "\n")
            found.append((ctype, text))
            size += len(text)
    return found


def report_text(msg: Message) -> str:
    """The report's own words, every part joined, cut where a pasted original begins."""
    chunks = []
    for ctype, text in report_parts(msg):
        if ctype in _STATUS_TYPES:
            chunks.append(text)
            continue
        chunks.append(cut_original(text))
        if len(chunks[-1]) < len(text):  # the original starts here: nothing after it is ours
            break
    return "\n".join(chunks)[:MAX_SCAN_CHARS]


def header_values(msg: Message | None, *names: str) -> list[str]:
    """Every value of the named header fields, as strings (empty for a missing message)."""
    if msg is None:
        return []
    values: list[str] = []
    for name in names:
        values.extend(str(v) for v in (msg.get_all(name) or []))
    return values
