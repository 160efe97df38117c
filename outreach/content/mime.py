"""MIME bytes for one message, written directly.

The stdlib ``EmailMessage`` path costs milliseconds per message (policy
objects, header folding, generator); a blast does the same thing thousands of
times with only a few fields changing. This writes the same structure by
hand: RFC 5322 headers with RFC 2047 encoded words where needed, a
``multipart/alternative`` with a quoted-printable UTF-8 text part (readable in
the raw message) and a base64 HTML part (binascii's base64 is several times
faster than its quoted-printable on a few KB of markup). The boundary starts
with ``=_``, which neither encoding can produce, so
it cannot collide with a body line. Tests parse the result back with the
stdlib parser to hold it to the standard.

Pictures embedded from the workspace make the HTML part a
``multipart/related`` (RFC 2387) of the HTML and one part per image, each
named by the Content-ID its ``cid:`` URL refers to; their base64 is made once
per campaign (images.py), so a recipient costs no more than a join.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from outreach.content.images import InlineImage
from outreach.errors import InputError

_ATEXT = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ .-]*$")
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*$")
MAX_WORD_BYTES = 39  # 39 bytes -> 52 base64 chars; a 64-char word leaves room for "Subject: " in 76


def _check_line(name: str, value: str) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        raise InputError(f"header {name} would contain a line break: {value!r}")
    return value


def encode_words(text: str) -> str:
    """RFC 2047 B-encoded words, split on character boundaries, folded with CRLF+space."""
    words: list[bytes] = []
    chunk = b""
    for ch in text:
        b = ch.encode("utf-8")
        if len(chunk) + len(b) > MAX_WORD_BYTES:
            words.append(chunk)
            chunk = b""
        chunk += b
    if chunk:
        words.append(chunk)
    return "\r\n ".join(f"=?utf-8?b?{base64.b64encode(w).decode('ascii')}?=" for w in words)


MAX_PLAIN_WORD = 900  # a longer unbroken word could not be folded under the 998-byte line limit


def header_text(value: str) -> str:
    """An unstructured header value (Subject): ASCII as is, folded; else encoded words."""
    if (
        value.isascii()
        and not re.search(r"=\?", value)
        and all(len(w) <= MAX_PLAIN_WORD for w in value.split(" "))
    ):
        return _fold(value)
    return encode_words(value)


def _fold(value: str, width: int = 76) -> str:
    if len(value) <= width:
        return value
    lines, line = [], ""
    for word in value.split(" "):
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return "\r\n ".join(lines)


def address(name: str, email: str) -> str:
    """``Name <addr>`` with the name quoted or encoded as RFC 5322/2047 require."""
    _check_line("address", email)
    if not email.isascii() or any(c in email for c in '<>", ') or email.count("@") != 1:
        raise InputError(f"not a plain ASCII address: {email!r}")
    name = " ".join(name.split())
    if not name:
        return email
    if not name.isascii() or len(name) > 200:  # encoded words fold: no line over 998 bytes
        return f"{encode_words(name)}\r\n <{email}>"  # RFC 2047: lines with encoded words <= 76
    if _PLAIN_NAME.match(name):
        return f"{name} <{email}>"
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{email}>'


def _lf(text: str) -> bytes:
    """UTF-8 with every line break (CRLF, bare CR, LF) as LF; replacing on bytes is the cheap way."""
    data = text.encode("utf-8")
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def b64(text: str) -> bytes:
    """Base64 of the canonical (CRLF) UTF-8 text, in 76-character lines with CRLF ends.

    One C call over the whole text, then slicing: ``base64.encodebytes`` calls binascii
    once per 57-byte line, twice as slow on a few KB of HTML.
    """
    data = binascii.b2a_base64(_lf(text).replace(b"\n", b"\r\n"), newline=False)
    return b"".join([data[i : i + 76] + b"\r\n" for i in range(0, len(data), 76)])


def qp(text: str) -> bytes:
    """Quoted-printable UTF-8 body with CRLF line ends (binascii: C speed).

    A bare CR becomes a line break (as SMTP would make it) and a line's leading dot is
    written ``=2E``, so the bytes never need SMTP dot-stuffing (see :func:`wire_safe`).
    """
    out = binascii.b2a_qp(_lf(text), quotetabs=False, istext=True, header=False).replace(b"\n.", b"\n=2E")
    if out.startswith(b"."):
        out = b"=2E" + out[1:]
    return out.replace(b"\n", b"\r\n")


def wire_safe(data: bytes) -> bool:
    """True when ``data`` can follow SMTP DATA as is: CRLF line ends only, no line starting with a dot.

    :func:`build` produces such bytes by construction; the sender checks anyway (a few µs)
    and lets aiosmtplib normalise anything else.
    """
    crlf = data.count(b"\r\n")
    return (
        data.count(b"\n") == crlf and data.count(b"\r") == crlf
        and b"\n." not in data and not data.startswith(b".")
    )  # fmt: skip


@dataclass(frozen=True)
class Envelope:
    """Everything about one message except its bodies."""

    from_name: str
    from_email: str
    to_name: str
    to_email: str
    subject: str
    message_id: str  # without angle brackets
    date: datetime
    list_unsubscribe_url: str
    list_unsubscribe_mailto: str
    reply_to: str | None = None
    extra: tuple[tuple[str, str], ...] = ()


def build(env: Envelope, text: str, html: str, images: Sequence[InlineImage] = ()) -> bytes:
    """The complete message as bytes, CRLF line ends, no line starting with a dot: ready for SMTP DATA.

    With ``images``, the HTML part and the pictures it shows form a ``multipart/related``."""
    boundary = "=_" + hashlib.blake2b(env.message_id.encode(), digest_size=12).hexdigest()
    headers: list[tuple[str, str]] = [
        ("From", address(env.from_name, env.from_email)),
        ("To", address(env.to_name, env.to_email)),
        ("Subject", header_text(_check_line("Subject", env.subject))),
        ("Date", format_datetime(env.date)),
        ("Message-ID", f"<{_check_line('Message-ID', env.message_id)}>"),
    ]
    if env.reply_to:
        headers.append(("Reply-To", _check_line("Reply-To", env.reply_to)))
    headers += [
        ("List-Unsubscribe", f"<{_url(env.list_unsubscribe_url)}>,\r\n <{_url(env.list_unsubscribe_mailto)}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        *((k, _check_line(k, v)) for k, v in env.extra),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/alternative; boundary="{boundary}"'),
    ]
    html_part = _part(boundary, "text/html", b64(html), "base64") if not images else _related(boundary, html, images)
    return b"".join(
        (
            _header_block(headers),
            b"\r\n",
            _part(boundary, "text/plain", qp(text), "quoted-printable"),
            html_part,
            f"--{boundary}--\r\n".encode("ascii"),
        )
    )


def _related(outer: str, html: str, images: Sequence[InlineImage]) -> bytes:
    """The HTML part with its pictures: a nested ``multipart/related`` inside the alternative."""
    inner = outer + "_r"  # still starts with "=_": cannot occur in base64 or quoted-printable lines
    head = (f'--{outer}\r\nContent-Type: multipart/related; type="text/html";\r\n boundary="{inner}"\r\n'
            "\r\n").encode("ascii")  # fmt: skip
    parts = [head, _part(inner, "text/html", b64(html), "base64")]
    for image in images:
        parts.append((
            f"--{inner}\r\nContent-Type: {image.content_type}; name=\"{image.filename}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            f"Content-ID: <{_check_line('Content-ID', image.cid)}>\r\n"
            f"Content-Disposition: inline; filename=\"{image.filename}\"\r\n\r\n"
        ).encode("ascii") + image.b64 + b"\r\n")  # fmt: skip
    parts.append(f"--{inner}--\r\n".encode("ascii"))
    return b"".join(parts)


def _url(url: str) -> str:
    _check_line("List-Unsubscribe", url)
    if any(c in url for c in "<> ") or not url.isascii():
        raise InputError(f"List-Unsubscribe URL must be plain ASCII without spaces: {url!r}")
    return url


def _header_block(headers: Iterable[tuple[str, str]]) -> bytes:
    return "".join(f"{k}: {v}\r\n" for k, v in headers).encode("ascii")


def _part(boundary: str, ctype: str, body: bytes, encoding: str) -> bytes:
    head = (
        f"--{boundary}\r\nContent-Type: {ctype}; charset=\"utf-8\"\r\n"
        f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
    ).encode("ascii")
    # the CRLF before a boundary belongs to the boundary, so add one after the body's own
    return head + body + b"\r\n"
