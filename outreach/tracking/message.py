"""Reading inbound mail: text of parts and bodies, addresses, Message-IDs, returned originals.

One home for what replies, bounces and complaints all need from a MIME message.
Everything here is defensive (hostile input never raises) and capped: text is
read up to ``MAX_SCAN_CHARS`` characters and at most 500 parts are walked.
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
