"""Contacts as the rest of outreach reads them: the template view of a contact, listing, lookups.

``ContactView`` is plain data with an allow-list of fields, so a template can
reach nothing through it; it is made from the registry of contact fields
(``outreach.fields``), as ``COLUMNS`` is. Importing lives in ``importer.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any, TextIO

from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from outreach.fields import BUILTIN, ContactView, FieldSet
from outreach.sheets import write_csv
from outreach.storage.models import Contact

COLUMNS = BUILTIN.columns  # the contacts CSV's columns: the import's, and contacts list's


def iter_contacts(engine: Engine, query: Select[Any] | None = None, batch: int = 500,
                  registry: FieldSet = BUILTIN) -> Iterator[ContactView]:  # fmt: skip
    """Stream contacts (in id order) without holding them all in memory, as ``registry``'s views."""
    query = query if query is not None else select(Contact).order_by(Contact.id)
    view = registry.view
    with Session(engine) as session:
        for contact in session.scalars(query.execution_options(yield_per=batch)):
            yield view.of(contact)


def contacts_csv(engine: Engine, views: Iterable[ContactView], out: TextIO, registry: FieldSet = BUILTIN) -> None:
    """CSV with the import's column names (``registry``'s, as the views'), custom columns after; safe
    for spreadsheets."""
    custom = custom_columns(engine)
    write_csv(out, [*registry.columns, *custom], (view.csv_row(custom) for view in views), lineterminator="\n")


def custom_columns(engine: Engine) -> list[str]:
    names: set[str] = set()
    with Session(engine) as session:
        for custom in session.scalars(select(Contact.custom).where(Contact.custom.is_not(None))):
            names.update((custom or {}).keys())
    return sorted(names)


def count_contacts(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count(Contact.id))) or 0


def get_contact(engine: Engine, email: str, registry: FieldSet = BUILTIN) -> ContactView | None:
    with Session(engine) as session:
        c = session.scalar(select(Contact).where(Contact.email == email.strip().lower()))
        return registry.view.of(c) if c else None


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


__all__ = ["COLUMNS", "ContactView", "contacts_csv", "count_contacts", "custom_columns", "get_contact",
           "find_contacts", "iter_contacts"]  # fmt: skip
