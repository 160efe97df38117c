"""Where inbound mail comes from: .eml files, Maildir folders, mbox files.

Yields raw bytes and a label; reading one message never stops the others.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from outreach.errors import InputError


def is_maildir(path: Path) -> bool:
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()


def is_mbox(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(5) == b"From "
    except OSError:
        return False


def iter_messages(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    for path in paths:
        if not path.exists():
            raise InputError("no such file or folder", path=path)
    for path in paths:
        if is_maildir(path):
            maildir = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(maildir.iterkeys()):
                yield f"{path}/{key}", maildir.get_bytes(key)
        elif path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                yield from iter_messages([child])
        elif is_mbox(path):
            box = mailbox.mbox(path, factory=None, create=False)
            for i, key in enumerate(box.iterkeys()):
                yield f"{path}#{i + 1}", box.get_bytes(key)
        else:
            yield str(path), path.read_bytes()
