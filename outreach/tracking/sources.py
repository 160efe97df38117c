"""Where inbound mail comes from: .eml files, Maildir folders, mbox files.

Yields raw bytes and a label; reading one message never stops the others.
Every path is checked before the first message is yielded: one that does not
exist, or a file that is no email at all (a README handed over by mistake), is
an error naming it, and nothing is read.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from pathlib import Path

from outreach.errors import InputError

_FIELD = re.compile(rb"^[!-9;-~]+[ \t]*:")  # a header field's name (RFC 5322: printable ASCII but ':')
# headers one of which every email has (a bare ``To:`` or ``Sender:`` line also opens many a text file)
_MAIL_HEADERS = frozenset({b"from", b"to", b"subject", b"date", b"message-id", b"received", b"return-path",
                           b"content-type", b"mime-version", b"delivered-to", b"x-failed-recipients",
                           b"dkim-signature", b"x-original-to"})  # fmt: skip
HEAD = 64 * 1024


def is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def is_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(5) == b"From "
    except OSError:
        return False


def looks_like_mail(head: bytes) -> bool:
    """The start of a file reads as an email: header fields (continuation lines allowed) up to the first
    blank line, among them one every message has (From, Date, Message-ID, Received, ...); an mbox
    ``From `` line may come first."""
    names: set[bytes] = set()
    lines = re.split(rb"\r?\n", head.lstrip(b"\r\n"))
    if lines[0].startswith(b"From "):  # an mbox envelope line above the headers
        lines = lines[1:]
    for line in lines:
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t") and names:
            continue
        if _FIELD.match(line) is None:
            break
        names.add(line.split(b":", 1)[0].strip().lower())
    return bool(names & _MAIL_HEADERS)


def _files(paths: list[Path]) -> Iterator[Path]:
    """The plain files among ``paths`` and in their plain folders (not Maildirs, not mbox files)."""
    for path in paths:
        if is_maildir(path):
            continue
        if path.is_dir():
            yield from _files(sorted(p for p in path.rglob("*") if p.is_file()))
        elif not is_mbox(path):
            yield path


def check_sources(paths: list[Path]) -> None:
    """Every path exists, and every plain file is an email; else an error naming the first that is not."""
    for path in paths:
        if not path.exists():
            raise InputError("no such file or folder", path=path)
    for path in _files(paths):
        with path.open("rb") as fh:
            head = fh.read(HEAD)
        if not looks_like_mail(head):
            raise InputError("not an email message (no mail headers such as From:, Date: or Message-ID: at its "
                             "start); give .eml files, Maildir folders or mbox files; nothing was read",
                             path=path)  # fmt: skip


def iter_messages(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    check_sources(paths)
    yield from _messages(paths)


def _messages(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    for path in paths:
        if is_maildir(path):
            maildir = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(maildir.iterkeys()):
                yield f"{path}/{key}", maildir.get_bytes(key)
        elif path.is_dir():
            yield from _messages(sorted(p for p in path.rglob("*") if p.is_file()))
        elif is_mbox(path):
            box = mailbox.mbox(path, factory=None, create=False)
            for i, key in enumerate(box.iterkeys()):
                yield f"{path}#{i + 1}", box.get_bytes(key)
        else:
            yield str(path), path.read_bytes()
