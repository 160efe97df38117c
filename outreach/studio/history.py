"""The history of the writer's files: every version saved (who, when, how big), its diff, and restoring one.

The versions live in the database (``content_versions``), beside everything
else the workspace remembers: a restart, a backup and a restore keep them, and
the CLI (``outreach content history``) and the app show the same list. A
restore is a save (``saving.save_content``) of the old text, checked against
the version the writer is looking at like any save, and recorded as
``restored`` with the version it came from: restoring never deletes history.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from outreach.errors import NotFoundError
from outreach.storage.models import ContentVersion
from outreach.studio.editable import Editable
from outreach.studio.saving import Saved, save_content

MAX_DIFF_LINES = 2000  # a diff longer than this is cut (with a note): a page, not a dump


@dataclass(frozen=True)
class Version:
    id: int
    path: str
    at: datetime  # naive UTC, as the database keeps times
    who: str
    via: str
    action: str
    size: int
    digest: str
    note: str
    number: int  # 1 for the first version of the file, counting up

    @property
    def label(self) -> str:
        what = {"found": "changed outside the app", "created": "created", "restored": "restored",
                "uploaded": "uploaded"}.get(self.action, "saved")  # fmt: skip
        return f"{what} ({self.note})" if self.note and self.action == "restored" else what


def _version(row: ContentVersion, number: int) -> Version:
    return Version(row.id, row.path, row.at, row.who, row.via, row.action, row.size, row.digest, row.note, number)


def versions(engine: Engine, file: Editable) -> list[Version]:
    """Every recorded version of ``file``, newest first."""
    with Session(engine) as session:
        rows = session.scalars(select(ContentVersion).where(ContentVersion.path == file.relpath)
                               .order_by(ContentVersion.id)).all()  # fmt: skip
        return [_version(row, n) for n, row in enumerate(rows, 1)][::-1]


def text_of(engine: Engine, file: Editable, version_id: int) -> tuple[Version, str]:
    """One version's text; ``NotFoundError`` for an id that is not a version of this file."""
    with Session(engine) as session:
        row = session.get(ContentVersion, version_id)
        if row is None or row.path != file.relpath or row.body is None:
            raise NotFoundError(f"{file.relpath} has no version {version_id} (outreach content history "
                                f"{file.relpath} lists them)")  # fmt: skip
        number = session.scalar(select(func.count()).where(ContentVersion.path == file.relpath,
                                                           ContentVersion.id <= version_id))  # fmt: skip
        return _version(row, int(number or 1)), row.body


@dataclass(frozen=True)
class Diff:
    version: Version
    previous: Version | None
    lines: tuple[str, ...]  # unified diff lines (``+``, ``-``, `` ``, ``@@``), without line ends
    cut: int = 0  # lines left out past MAX_DIFF_LINES

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.startswith("+") and not line.startswith("+++"))

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.startswith("-") and not line.startswith("---"))


def diff(engine: Engine, file: Editable, version_id: int) -> Diff:
    """What ``version_id`` changed against the version before it (the first: against an empty file)."""
    version, text = text_of(engine, file, version_id)
    with Session(engine) as session:
        before = session.scalars(select(ContentVersion).where(ContentVersion.path == file.relpath,
                                                              ContentVersion.id < version_id,
                                                              ContentVersion.body.is_not(None))
                                 .order_by(ContentVersion.id.desc()).limit(1)).first()  # fmt: skip
        previous = _version(before, version.number - 1) if before is not None else None
        old = before.body if before is not None and before.body is not None else ""
    lines = unified(old, text, f"version {previous.number}" if previous else "(nothing)", f"version {version.number}")
    cut = max(len(lines) - MAX_DIFF_LINES, 0)
    return Diff(version, previous, tuple(lines[:MAX_DIFF_LINES]), cut)


def unified(old: str, new: str, old_name: str, new_name: str) -> list[str]:
    """A unified diff of two texts, line ends dropped (a CR LF file diffs as its lines)."""
    return [line.rstrip("\r\n") for line in difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name, n=3)]  # fmt: skip


def restore(engine: Engine, file: Editable, version_id: int, base: str, who: str, via: str = "app") -> Saved:
    """Save version ``version_id``'s text again, as a new version (checked against ``base`` like any save)."""
    version, text = text_of(engine, file, version_id)
    return save_content(engine, file, text, base, who, via, action="restored",
                        note=f"version {version.number} of {version.at:%Y-%m-%d %H:%M} UTC")  # fmt: skip
