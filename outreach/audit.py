"""Who changed what: one record per change a person made through the app or the CLI.

A contact's fields keep their own history (``audience/history.py``,
``contact_changes``: old and new value per field). Everything else a person
changes by hand is recorded here: accounts (added, role changed, password
reset, disabled), contact lists imported, suppressions set or lifted. Each
record is written in the transaction of the change it records, so there is no
change without its record and no record of a change that rolled back.

``subject`` says what was changed as ``KIND:NAME`` (``user:cali``,
``contact:ani@contoh.co.id``, ``import:customers.xlsx``), so one page can list
the records about one thing with one indexed read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.storage import transaction, utcnow
from outreach.storage.models import AuditEntry

MAX_DETAIL = 2000


@dataclass(frozen=True)
class Record:
    at: datetime  # naive UTC, like the database
    who: str
    via: str
    action: str
    subject: str
    detail: str


def record(session: Session, who: str, via: str, action: str, subject: str, detail: str = "",
           at: datetime | None = None) -> None:  # fmt: skip
    """Add one record to the session of the change it describes."""
    session.add(AuditEntry(at=at or utcnow(), who=who[:120], via=via[:32], action=action[:64], subject=subject[:400],
                           detail=detail[:MAX_DETAIL]))  # fmt: skip


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
