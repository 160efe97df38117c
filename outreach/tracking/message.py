"""Reading inbound mail: text of parts and bodies, addresses, Message-IDs, returned originals.

One home for what replies, bounces and complaints all need from a MIME message.
Everything here is defensive (hostile input never raises) and capped: text is
read up to ``MAX_SCAN_CHARS`` characters and at most 500 parts are walked.

Why a flattened "report text" (``report_parts``, ``report_text``): mail systems
write the facts of a bounce in many places — a text/plain explanation, a
text/html one, a message/delivery-status part, or all of them at once — and
some wrap the whole report in one text part with the returned original pasted
below. Reading one text that holds every part the *reporting* system wrote,
and stops where the returned original begins, lets one set of rules serve
every format (the same idea as Sisimai's flattened body cut at each MTA's
"backbone" marker).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from email.message import Message
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

MAX_SCAN_CHARS = 200_000
_ADDR = re.compile(r"^[^@\s<>()\[\],;:\"\\]+@[^@\s<>()\[\],;:\"\\]+$")
_MSGID = re.compile(r"<([^<>\s]{1,250})>")

# --------------------------------------------------------------------------- MIME text


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with the declared charset, falling back instead of failing.

    Real mail declares charsets Python does not know ("ansi_x3.110-1983",
    "unicode-1-1-utf-7", garbage), or lies about them; undecodable bytes become
    U+FFFD rather than an exception.
    """
    data = data[: MAX_SCAN_CHARS * 4]
    if charset:
        try:
            codecs.lookup(charset)
            return data.decode(charset, errors="replace")
        except (LookupError, ValueError, TypeError):
            pass
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def part_text(part: Message) -> str:
    """The decoded text of one leaf part ("" when it has none)."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - broken transfer encodings must not escape
        payload = None
    if isinstance(payload, bytes):
        try:
            charset = part.get_content_charset()
        except Exception:  # noqa: BLE001
            charset = None
        return decode_bytes(payload, charset)[:MAX_SCAN_CHARS]
    try:
        raw = part.get_payload()
    except Exception:  # noqa: BLE001 - e.g. a NUL in the charset name
        return ""
    return raw[:MAX_SCAN_CHARS] if isinstance(raw, str) else ""


def subparts(part: Message) -> list[Message]:
    """Children of a multipart or message/* part; [] for a leaf.

    ``is_multipart`` first: ``get_payload()`` on a leaf may try to decode it
    and raise on a hostile charset name.
    """
    if not part.is_multipart():
        return []
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _is_attachment(part: Message) -> bool:
    disposition = str(part.get("Content-Disposition", "")).strip().lower()
    return disposition.startswith("attachment")


def iter_body_parts(msg: Message) -> Iterator[Message]:
    """Leaf parts of the message itself, not of messages attached to it.

    A reply's own words never live inside an attached message/rfc822 (that is
    the returned or forwarded original), so we do not descend into one.
    """
    stack = [msg]
    while stack:
        part = stack.pop()
        if part.get_content_maintype() == "message" and part is not msg:
            continue
        if part.is_multipart():
            stack.extend(reversed(subparts(part)))
        elif not _is_attachment(part):
            yield part


def body_text(msg: Message) -> str:
    """The message's own text: first text/plain, else first text/html as text."""
    html: str | None = None
    for part in iter_body_parts(msg):
        ctype = part.get_content_type()
        if ctype == "text/plain":
            text = part_text(part)
            if text.strip():
                return text
        elif ctype == "text/html" and html is None:
            html = part_text(part)
    return readable_text(html) if html else ""


def all_text(msg: Message) -> str:
    """Every text/* leaf of the message itself, joined (capped): where inline
    copies of a returned original hide their "Message-ID:" line."""
    chunks: list[str] = []
    size = 0
    for part in iter_body_parts(msg):
        if part.get_content_maintype() == "text" and size < MAX_SCAN_CHARS:
            chunks.append(part_text(part))
            size += len(chunks[-1])
    return "\n".join(chunks)[:MAX_SCAN_CHARS]


# --------------------------------------------------------------------------- HTML


class _HtmlText(HTMLParser):
    """HTML to plain text that keeps what the trimmer needs to see.

    Blockquotes become "> " prefixed lines and <hr> a delimiter line, so Gmail,
    Apple Mail and Outlook web replies trim exactly like their text/plain twins.
    """

    _BLOCK = frozenset(
        ("p", "div", "tr", "table", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "pre")
        + ("center", "section", "article", "header", "footer", "form", "dl", "dt", "dd")
    )
    _SKIP = frozenset(("style", "script", "head", "title"))

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self.current: list[str] = []
        self.depth = 0
        self.line_depth = 0
        self.skip = 0

    def _flush(self) -> None:
        text = re.sub(r"[ \t\r\n\f\v]+", " ", "".join(self.current)).strip()
        self.lines.append((self.line_depth, text))
        self.current = []
        self.line_depth = self.depth

    def _break(self) -> None:
        if self.current or not self.lines or self.lines[-1][1]:
            self._flush()
        self.line_depth = self.depth

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self.skip += 1
        elif tag == "br":
            self._flush()
        elif tag == "blockquote":
            self._break()
            self.depth += 1
            self.line_depth = self.depth
        elif tag == "hr":
            self._break()
            self.lines.append((self.depth, "________________________________"))
        elif tag in self._BLOCK:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "blockquote":
            self._break()
            self.depth = max(0, self.depth - 1)
            self.line_depth = self.depth
        elif tag in self._BLOCK:
            self._break()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            if not self.current:
                self.line_depth = self.depth
            self.current.append(data)

    def text(self) -> str:
        self._flush()
        out = [
            ("> " * depth + line).rstrip() if line else ">" * depth for depth, line in self.lines
        ]
        while out and not out[-1].strip("> "):
            out.pop()
        while out and not out[0].strip("> "):
            out.pop(0)
        return re.sub(r"\n{3,}", "\n\n", "\n".join(out))


def readable_text(html: str) -> str:
    """Readable text of an HTML body; never raises."""
    parser = _HtmlText()
    try:
        parser.feed(html[:MAX_SCAN_CHARS])
        parser.close()
    except Exception:  # noqa: BLE001 - HTMLParser on hostile input
        pass
    return parser.text()


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


# --------------------------------------------------------------------------- reports

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
        return readable_text(text)
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
