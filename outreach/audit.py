"""Who changed what: one record per change a person made through the app or the CLI.

A contact's fields keep their own history (``audience/history.py``,
``contact_changes``: old and new value per field) and content its saves
(``studio/history.py``). Everything else a person changes by hand is recorded
here: accounts (added, role changed, password reset, disabled), contact lists
imported, suppressions set or lifted, campaign and segment files written from a
form (the detail is the file's unified diff), and a campaign built, sent,
scheduled, paused, resumed or cancelled.

``subject`` says what was changed as ``KIND:NAME`` (``user:cali``,
``contact:ani@contoh.co.id``, ``import:customers.xlsx``, ``campaign:promo``,
``segment:jakarta``), so one page lists the records about one thing with one
indexed read. A change that is a database write is recorded in its own
transaction (``record``): no change without its record, no record of a change
that rolled back. A file written beside the database is recorded right after
its rename (``record_now``).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.storage import transaction, utcnow
from outreach.storage.models import AuditEntry

MAX_DETAIL = 20_000  # a file's diff, cut beyond this


@dataclass(frozen=True)
class Record:
    at: datetime  # naive UTC, like the database
    who: str
    via: str
    action: str
    subject: str
    detail: str

    @property
    def kind(self) -> str:
        return self.subject.partition(":")[0]

    @property
    def name(self) -> str:
        return self.subject.partition(":")[2]


def record(session: Session, who: str, via: str, action: str, subject: str, detail: str = "",
           at: datetime | None = None) -> None:  # fmt: skip
    """Add one record to the session of the change it describes."""
    if len(detail) > MAX_DETAIL:
        detail = detail[:MAX_DETAIL] + "\n… (cut)\n"
    session.add(AuditEntry(at=at or utcnow(), who=who[:120], via=via[:32], action=action[:64], subject=subject[:400],
                           detail=detail))  # fmt: skip


def record_now(engine: Engine, *, who: str, via: str, kind: str, name: str, action: str, detail: str = "") -> None:
    """One record in a transaction of its own, for a change that is not a database write (a file, a step
    handed to the worker)."""
    with transaction(engine) as session:
        record(session, who, via, action, f"{kind}:{name}", detail)


def file_diff(before: str | None, after: str, name: str) -> str:
    """The change as a unified diff (a new file: every line added); ``record`` cuts it to ``MAX_DETAIL``."""
    lines = difflib.unified_diff((before or "").splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=f"a/{name}" if before is not None else "/dev/null", tofile=f"b/{name}")
    return "".join(lines)


def records(engine: Engine, *, prefix: str | None = None, subject: str | None = None,
            limit: int = 50) -> list[Record]:  # fmt: skip
    """The newest records, about ``subject`` exactly, or about every subject starting with ``prefix``."""
    query = select(AuditEntry)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    elif prefix is not None:
        query = query.where(AuditEntry.subject.startswith(prefix, autoescape=True))
    with transaction(engine) as session:
        rows = session.scalars(query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit))
        return [Record(r.at, r.who, r.via, r.action, r.subject, r.detail) for r in rows]


def entries(engine: Engine, kind: str, name: str, limit: int = 50) -> list[Record]:
    """The newest ``limit`` records of one campaign or segment (``KIND:NAME``)."""
    return records(engine, subject=f"{kind}:{name}", limit=limit)
