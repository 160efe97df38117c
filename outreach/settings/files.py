"""Writing a workspace file the app edits (a campaign, a segment) so that a reader never sees half of it.

The text goes to a temporary file beside the target, is flushed to disk, and
then renamed over it (``os.replace``: atomic on one file system), so the CLI,
the worker or a second browser reading at that moment see the old file or the
new one, never a mix. Creating (``exclusive``) links the temporary file to
the name instead, which fails when the name exists: two people creating the
same campaign at once cannot overwrite each other.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from outreach.errors import ConflictError, InputError


def version_of(text: str | None) -> str:
    """The version a form opened (hex SHA-256 of the file's text; '' when there was no file)."""
    return "" if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_or_none(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None


def write_atomically(path: Path, text: str, *, exclusive: bool = False, base: str | None = None) -> None:
    """Replace (or, ``exclusive``, create) ``path`` with ``text`` in one step.

    ``base``: the version the writer started from (``version_of``); when the file changed since, a
    ``ConflictError`` and nothing is written. ``exclusive``: an ``InputError`` when the file exists.
    """
    if base is not None and version_of(read_or_none(path)) != base:
        raise ConflictError(f"{path.name} changed since it was opened (someone saved it, or it was edited on "
                            "disk); nothing was written: open it again and redo your change", path=path)
    write_bytes_atomically(path, text.encode("utf-8"), exclusive=exclusive)


def write_bytes_atomically(path: Path, data: bytes, *, exclusive: bool = False) -> None:
    """Temp file in the same folder, fsync, ``os.replace`` (or ``os.link`` when ``exclusive``), fsync the
    folder: a reader sees the old file or the new, never half. A replaced file keeps its permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".saving", dir=path.parent)  # a crash's: swept
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise InputError(f"{path.name} already exists; choose another name", path=path) from None
        else:
            os.replace(tmp, path)
        _sync_folder(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _sync_folder(folder: Path) -> None:
    """The rename itself on disk (POSIX); a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
