"""Saving the writer's files: checked against the version the writer opened, written atomically, kept in history.

Two writers open ``campaigns/promo.md``; the first saves. The second's copy is
now stale: saving it would silently undo the first writer's work. So every
editor carries the version it opened (``base``: the SHA-256 of the file's
bytes), and ``save_content`` compares it with the file on disk *under a lock*
before it writes. A stale copy raises ``StaleCopy`` with both texts (the page
shows them side by side) and the file stays as it is. A file edited on disk
(an editor, ``git pull``) is stale the same way, since the bytes changed.

The write is atomic: the new text goes to a temporary file in the same folder,
is flushed to disk (fsync), and only then replaces the file with one rename
(``os.replace``), after which the folder is synced too. A crash at any point
leaves either the old file or the new one, never half of each; a temporary file
a crash left behind is removed by the next save of that file.

Who saved what and when goes into ``content_versions`` (storage/models.py) with
the text, in the lock, so the history (``history.py``) is complete: a change made
on disk meanwhile is recorded first, as ``found``, before the app's save.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.errors import ConflictError, InputError
from outreach.settings.files import write_bytes_atomically as write_atomically
from outreach.storage import transaction, utcnow
from outreach.storage.models import ContentVersion
from outreach.studio.editable import Editable

MAX_SOURCE = 1024 * 1024  # bytes of one content file: ten times the size Gmail shows in full
ABSENT = "absent"  # the ``base`` of a file that is not there yet (a new language version)
_LOCAL_LOCK = threading.Lock()  # where fcntl is missing (Windows): one process at a time at least


def version_of(data: bytes | None) -> str:
    """A file's version as the editor carries it: the hex SHA-256 of its bytes (``absent`` for no file)."""
    return ABSENT if data is None else hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Opened:
    """A file as the editor shows it: its text exactly as on disk, its version, its line ends."""

    file: Editable
    text: str
    base: str
    newline: str  # "crlf" when the file's lines end in CR LF, else "lf"

    @property
    def exists(self) -> bool:
        return self.base != ABSENT


def decode(data: bytes, file: Editable) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{file.relpath} is not UTF-8 text ({exc.reason} at byte {exc.start}); fix its encoding "
                         "in an editor before opening it here", path=file.path) from None  # fmt: skip


def open_file(file: Editable) -> Opened:
    """The file's text and version, for the editor (a missing file: empty, version ``absent``)."""
    data = read_bytes(file.path)
    if data is None:
        return Opened(file, "", ABSENT, "lf")
    text = decode(data, file)
    return Opened(file, text, version_of(data), newline_style(text))


def newline_style(text: str) -> str:
    """``crlf`` when most line ends are CR LF (a file from a Windows editor), else ``lf``."""
    crlf = text.count("\r\n")
    return "crlf" if crlf and crlf >= text.count("\n") - crlf else "lf"


def with_newlines(text: str, style: str | None) -> str:
    """A browser sends a textarea with CR LF line ends whatever the file had: put back the file's own
    (``style`` from ``Opened.newline``; None keeps the text as sent)."""
    if style not in ("lf", "crlf"):
        return text
    lf = text.replace("\r\n", "\n")
    return lf.replace("\n", "\r\n") if style == "crlf" else lf


@dataclass(frozen=True)
class Saved:
    file: Editable
    base: str  # the new version: what the editor carries from now on
    size: int
    changed: bool  # False: the text was the file's already (nothing written, nothing recorded)
    version_id: int | None = None


class StaleCopy(ConflictError):
    """The file changed since the writer opened it: ``theirs`` is the file now (None: deleted), ``base`` its
    version (to save again after merging), ``yours`` the text that was not saved."""

    def __init__(self, file: Editable, theirs: str | None, base: str, yours: str) -> None:
        what = "was deleted" if theirs is None else "was changed by someone else (in the app or on disk)"
        super().__init__(f"{file.relpath} {what} since you opened it; nothing was saved. Merge your text with "
                         "theirs and save again", path=file.relpath)  # fmt: skip
        self.file, self.theirs, self.base, self.yours = file, theirs, base, yours


def encode(source: str, file: Editable) -> bytes:
    """The text as the file's bytes; refused when it cannot be a content file (too big, not text)."""
    if "\0" in source:
        raise InputError(f"{file.relpath}: the text holds a NUL character; content is plain text")
    try:
        data = source.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{file.relpath}: the text is not valid Unicode (a broken character)") from None
    if len(data) > MAX_SOURCE:
        raise InputError(f"{file.relpath}: {len(data) // 1024} KB is too big for one content file "
                         f"(at most {MAX_SOURCE // 1024} KB); move text into blocks/ or shorten it")  # fmt: skip
    return data


def save_content(engine: Engine, file: Editable, source: str, base: str, who: str, via: str = "app", *,
                 action: str = "saved", note: str = "") -> Saved:  # fmt: skip
    """Write ``source`` to ``file`` if the file is still at version ``base``; record the version.

    Raises ``StaleCopy`` (a ``ConflictError``) when it is not, and ``InputError`` for text that cannot
    be saved; in both cases the file is untouched.
    """
    data = encode(source, file)
    new = version_of(data)
    with folder_lock(file.path.parent):
        current = read_bytes(file.path)
        if version_of(current) != base:
            theirs = None if current is None else current.decode("utf-8", "replace")
            raise StaleCopy(file, theirs, version_of(current), source)
        if current == data:
            return Saved(file, new, len(data), changed=False)
        with transaction(engine) as session:
            if current is not None:
                _note_outside_change(session, file, current)
            row = _record(session, file, data, who, via, action if current is not None or action != "saved"
                          else "created", note)  # fmt: skip
            write_atomically(file.path, data)
        return Saved(file, new, len(data), changed=True, version_id=row.id)


def record_version(engine: Engine, file: Editable, data: bytes, who: str, via: str, action: str,
                   note: str = "") -> None:  # fmt: skip
    """Record a file written by other means (``content new``, an uploaded image) as its first version."""
    with transaction(engine) as session:
        _record(session, file, data, who, via, action, note)


def _record(session: Session, file: Editable, data: bytes, who: str, via: str, action: str,
            note: str) -> ContentVersion:  # fmt: skip
    body = data.decode("utf-8", "replace").replace("\0", "\ufffd") if file.kind != "image" else None
    row = ContentVersion(path=file.relpath, at=utcnow(), who=who[:120], via=via[:32], action=action,
                         size=len(data), digest=version_of(data), body=body, note=note[:200])  # fmt: skip
    session.add(row)
    session.flush()
    return row


def _note_outside_change(session: Session, file: Editable, current: bytes) -> None:
    """The file on disk is not the last version recorded (edited outside the app, or never saved through it):
    keep it as a version first, so the history can restore it and its diff shows what changed there."""
    last = session.scalar(select(ContentVersion.digest).where(ContentVersion.path == file.relpath)
                          .order_by(ContentVersion.id.desc()).limit(1))  # fmt: skip
    if last != version_of(current):
        _record(session, file, current, "on disk", "disk", "found", "changed outside the app")


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """One save at a time in ``folder`` (every process of the workspace: ``flock`` on the folder itself, so no lock
    file is left lying around); temporary files a crash left behind are removed while it is held."""
    folder.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        with _LOCAL_LOCK:
            yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        _sweep(folder)
        yield
    finally:
        os.close(fd)  # closing releases the lock


_LEFTOVER = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.saving$")  # mkstemp's: .NAME.md.RANDOM8.saving


def _sweep(folder: Path) -> None:
    for leftover in folder.glob(".*.saving"):
        if _LEFTOVER.match(leftover.name):
            with contextlib.suppress(OSError):
                leftover.unlink()


BLOCK_STARTER = "{# A reusable block: include it in content with {% include \"blocks/NAME.md\" %} #}\n"


def new_block(engine: Engine, file: Editable, who: str, via: str = "app") -> Saved:
    """Start ``blocks/NAME.md`` (a comment saying how to include it); refused when it exists."""
    text = BLOCK_STARTER.replace("blocks/NAME.md", file.relpath)
    try:
        return save_content(engine, file, text, ABSENT, who, via, action="created")
    except StaleCopy:
        raise InputError(f"{file.relpath} already exists; open it to edit it (or choose another name)") from None
