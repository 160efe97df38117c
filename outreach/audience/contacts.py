"""Contacts as the rest of outreach reads them: the template view of a contact, listing, lookups.

``ContactView`` is plain data with an allow-list of fields, so a template can
reach nothing through it; importing lives in ``importer.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TextIO

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from outreach.sheets import write_csv
from outreach.storage.models import Contact

COLUMNS = (
    "email", "first_name", "last_name", "title", "phone", "company", "industry", "city",
    "timezone", "status", "owner", "last_contacted_at", "transactions", "tags", "language",
)  # fmt: skip

@dataclass(frozen=True)
class ContactView:
    """What templates see as ``contact``: plain data, no ORM, nothing to reach through."""

    __template_fields__ = frozenset({
        "email", "first_name", "last_name", "full_name", "title", "phone", "company", "industry",
        "city", "timezone", "status", "owner", "last_contacted_at", "transactions", "tags", "custom",
        "language",
    })  # fmt: skip

    id: int
    email: str
    first_name: str
    last_name: str
    title: str
    phone: str
    company: str
    industry: str
    city: str
    timezone: str
    status: str
    owner: str
    last_contacted_at: date | None
    transactions: int
    tags: tuple[str, ...]
    custom: dict[str, str]
    language: str = ""  # id | en | "": the workspace's
    updated_at: datetime | None = None  # naive UTC; not for templates (the API's "updated_since")

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @classmethod
    def of(cls, c: Contact) -> ContactView:
        return cls(
            id=c.id, email=c.email, first_name=c.first_name, last_name=c.last_name,
            title=c.title, phone=c.phone, company=c.company.name if c.company else "",
            industry=c.industry, city=c.city,
            timezone=c.timezone or (c.company.timezone if c.company else "") or "",
            status=c.status, owner=c.owner, last_contacted_at=c.last_contacted_at,
            transactions=c.transactions, tags=tuple(t for t in c.tags.split(";") if t),
            custom=dict(c.custom or {}), language=c.language or "", updated_at=c.updated_at,
        )  # fmt: skip

    @classmethod
    def from_row(cls, r: Any) -> ContactView:
        """From a Core row as the outbox claim returns it (contact_id, company_name, company_tz)."""
        return cls(
            id=r.contact_id, email=r.email, first_name=r.first_name, last_name=r.last_name,
            title=r.title, phone=r.phone, company=r.company_name or "", industry=r.industry,
            city=r.city, timezone=r.timezone or r.company_tz or "", status=r.status, owner=r.owner,
            last_contacted_at=r.last_contacted_at, transactions=r.transactions,
            tags=tuple(t for t in (r.tags or "").split(";") if t), custom=dict(r.custom or {}),
            language=getattr(r, "language", "") or "",
        )  # fmt: skip

    def csv_row(self, custom_columns: Iterable[str]) -> list[object]:
        values: dict[str, object] = {
            **{name: getattr(self, name) for name in COLUMNS},
            "tags": ";".join(self.tags),
            "last_contacted_at": self.last_contacted_at.isoformat() if self.last_contacted_at else "",
        }
        return [values[c] for c in COLUMNS] + [self.custom.get(c, "") for c in custom_columns]


def iter_contacts(engine: Engine, query: Select[Any] | None = None, batch: int = 500) -> Iterator[ContactView]:
    """Stream contacts (in id order) without holding them all in memory."""
    query = query if query is not None else select(Contact).order_by(Contact.id)
    with Session(engine) as session:
        for contact in session.scalars(query.execution_options(yield_per=batch)):
            yield ContactView.of(contact)


def contacts_csv(engine: Engine, views: Iterable[ContactView], out: TextIO) -> None:
    """CSV with the import's column names, custom columns after; safe for spreadsheets."""
    custom = custom_columns(engine)
    write_csv(out, [*COLUMNS, *custom], (view.csv_row(custom) for view in views), lineterminator="\n")


def custom_columns(engine: Engine) -> list[str]:
    names: set[str] = set()
    with Session(engine) as session:
        for custom in session.scalars(select(Contact.custom).where(Contact.custom.is_not(None))):
            names.update((custom or {}).keys())
    return sorted(names)


def count_contacts(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count(Contact.id))) or 0


def get_contact(engine: Engine, email: str) -> ContactView | None:
    with Session(engine) as session:
        c = session.scalar(select(Contact).where(Contact.email == email.strip().lower()))
        return ContactView.of(c) if c else None



def find_contacts(engine: Engine, query: Select[Any] | None = None, *, email: str | None = None,
                  status: str | None = None, updated_since: datetime | None = None, after: int = 0,
                  limit: int = 100) -> list[ContactView]:  # fmt: skip
    """A page of contacts (of ``query``'s, else all) in id order after id ``after``, filtered; for the API."""
    query = query if query is not None else select(Contact)
    query = query.where(Contact.id > after)
    if email:
        query = query.where(Contact.email == email.strip().lower())
    if status:
        query = query.where(Contact.status == status)
    if updated_since is not None:
        query = query.where(Contact.updated_at >= updated_since)
    with Session(engine) as session:
        return [ContactView.of(c) for c in session.scalars(query.order_by(None).order_by(Contact.id).limit(limit))]
