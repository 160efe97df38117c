"""Who changed what, for the things that are files or lifecycle steps rather than contact fields.

Contacts keep their own history (``audience/history.py``) and content its
saves; a campaign or segment file written from the app, and a campaign built,
sent, scheduled, paused, resumed or cancelled from it, get one row here:
who, through what (``app``, ``cli``), what (``campaign``/``segment`` NAME),
the action, and a short detail (for a file, the unified diff of the change,
cut at ``MAX_DETAIL`` characters). Read back newest first by ``entries``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from outreach.storage import transaction, utcnow
from outreach.storage.models import AuditEntry

MAX_DETAIL = 20_000


@dataclass(frozen=True)
class Entry:
    at: datetime
    who: str
    via: str
    kind: str
    name: str
    action: str
    detail: str


def file_diff(before: str | None, after: str, name: str) -> str:
    """The change as a unified diff (a new file: every line added), cut to ``MAX_DETAIL`` characters."""
    lines = difflib.unified_diff((before or "").splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=f"a/{name}" if before is not None else "/dev/null", tofile=f"b/{name}")
    text = "".join(lines)
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "\n… (cut)\n"


def record(engine: Engine, *, who: str, via: str, kind: str, name: str, action: str, detail: str = "",
           at: datetime | None = None) -> None:  # fmt: skip
    with transaction(engine) as session:
        session.add(AuditEntry(at=at or utcnow(), who=who[:120], via=via[:32], kind=kind[:32], name=name[:200],
                               action=action[:32], detail=detail[: MAX_DETAIL + 20]))  # fmt: skip


def entries(engine: Engine, kind: str, name: str, limit: int = 50) -> Sequence[Entry]:
    """The newest ``limit`` entries of one campaign or segment."""
    with transaction(engine) as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.kind == kind, AuditEntry.name == name)
                               .order_by(AuditEntry.id.desc()).limit(limit)).all()  # fmt: skip
        return [Entry(r.at, r.who, r.via, r.kind, r.name, r.action, r.detail) for r in rows]
