"""Finding contacts: the sales admin's contact list, a page at a time, as quick with 100,000 as with 100.

Why it works as it does:

* Pages are keyset pages in email order (``after``/``before`` an address),
  read through the unique index on ``contacts.email``: page 2,000 costs what
  page 1 costs, where ``OFFSET`` would read every row before it.
* The filters a person picks from a list (status, city, owner, language)
  compare exact stored values, so the indexes on those columns serve them
  (migration 0005_admin); the list offers the values the contacts have.
* The search box matches every word somewhere in the email, the name, the
  company or the phone, case aside (``ILIKE`` on PostgreSQL, ``LIKE`` on
  SQLite). A word in the middle of a name cannot use an index; on 100,000
  contacts that scan is tens of milliseconds (bench/contacts.py measures it).
* ``suppressed`` is an indexed ``EXISTS`` against the suppression list (its
  key is the address), so "who may not be mailed" needs no join of the whole list.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Engine, and_, exists, func, or_, select, true
from sqlalchemy.orm import Session

from outreach.fields.builtin import STATUSES
from outreach.storage.models import Company, Contact, Suppression

PAGE = 50
MAX_QUERY = 200  # characters of the search box: more is no search anyone types
MAX_WORDS = 8
MAX_CHOICES = 500  # distinct cities or owners offered in a filter's list
SEARCHED = (Contact.email, Contact.first_name, Contact.last_name, Contact.phone)
LANGUAGES = ("id", "en", "default")  # a contact's language, or none (it gets the workspace's)


@dataclass(frozen=True)
class ContactFilter:
    """What the list is narrowed to; "" leaves a filter off. ``suppressed``: "yes", "no" or ""."""

    q: str = ""
    status: str = ""
    city: str = ""
    owner: str = ""
    tag: str = ""
    language: str = ""
    suppressed: str = ""

    @classmethod
    def of(cls, values: Any) -> ContactFilter:
        """From a query string (any mapping of str): each value cut to a sane length, unknown keys ignored."""
        found = {f.name: str(values.get(f.name) or "").strip()[:MAX_QUERY] for f in fields(cls)}
        return cls(**found)

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self))

    def query(self) -> dict[str, str]:
        """The filters that are on, for a link to another page of the same list."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass(frozen=True)
class Listed:
    """One contact as the list shows it."""

    id: int
    email: str
    name: str
    company: str
    title: str
    city: str
    status: str
    owner: str
    language: str
    tags: tuple[str, ...]
    suppressed: str | None  # the suppression's reason, or None


@dataclass(frozen=True)
class ContactPage:
    rows: list[Listed]
    total: int  # every contact the filter matches
    after: str | None  # the next page starts after this address (None: this is the last page)
    before: str | None  # the previous page ends before this address (None: this is the first page)


@dataclass(frozen=True)
class Choices:
    """The values each list filter can take, as the contacts have them."""

    statuses: tuple[str, ...]
    cities: tuple[str, ...]
    owners: tuple[str, ...]
    languages: tuple[str, ...]


def _words(q: str) -> list[str]:
    return [w for w in q.split() if w][:MAX_WORDS]


def _conditions(flt: ContactFilter) -> list[Any]:
    out: list[Any] = []
    for word in _words(flt.q):
        companies = select(Company.id).where(Company.name.icontains(word, autoescape=True))
        out.append(or_(*(col.icontains(word, autoescape=True) for col in SEARCHED), Contact.company_id.in_(companies)))
    for name in ("status", "city", "owner"):
        value = getattr(flt, name)
        if value:
            out.append(getattr(Contact, name) == value)
    if flt.language:
        out.append(Contact.language == ("" if flt.language == "default" else flt.language))
    if flt.tag:
        out.append(Contact.tags.contains(f";{flt.tag.lower()};", autoescape=True))
    blocked = exists(select(Suppression.email).where(Suppression.email == Contact.email).correlate_except(Suppression))
    if flt.suppressed == "yes":
        out.append(blocked)
    elif flt.suppressed == "no":
        out.append(~blocked)
    return out


def _listed(contact: Contact, company: str | None, reason: str | None) -> Listed:
    name = " ".join(p for p in (contact.first_name, contact.last_name) if p)
    tags = tuple(t for t in (contact.tags or "").split(";") if t)
    return Listed(contact.id, contact.email, name, company or "", contact.title, contact.city, contact.status,
                  contact.owner, contact.language, tags, reason)  # fmt: skip


def search_contacts(engine: Engine, flt: ContactFilter, *, after: str | None = None, before: str | None = None,
                    limit: int = PAGE) -> ContactPage:  # fmt: skip
    """One page of the contacts ``flt`` matches, in email order, after (or before) an address."""
    where = _conditions(flt)
    query = (select(Contact, Company.name, Suppression.reason)
                          .outerjoin(Company, Company.id == Contact.company_id)
                          .outerjoin(Suppression, Suppression.email == Contact.email)
                          .where(and_(true(), *where)))  # fmt: skip
    backwards = before is not None and after is None
    if backwards:
        query = query.where(Contact.email < before).order_by(Contact.email.desc())
    else:
        if after is not None:
            query = query.where(Contact.email > after)
        query = query.order_by(Contact.email)
    with Session(engine) as session:
        found = list(session.execute(query.limit(limit + 1)).all())
        total = session.scalar(select(func.count()).select_from(Contact).where(and_(true(), *where))) or 0
    more = len(found) > limit
    found = found[:limit]
    if backwards:
        found.reverse()
    rows = [_listed(c, company, reason) for c, company, reason in found]
    first, last = (rows[0].email, rows[-1].email) if rows else (None, None)
    if backwards:
        return ContactPage(rows, total, after=last, before=first if more else None)
    return ContactPage(rows, total, after=last if more else None, before=first if after is not None else None)


def filter_choices(engine: Engine) -> Choices:
    """The distinct values of the city and owner filters, each read from its index."""
    with Session(engine) as session:

        def distinct(column: Any) -> tuple[str, ...]:
            values = session.scalars(select(column).where(column != "").distinct().order_by(column).limit(MAX_CHOICES))
            return tuple(v for v in values if v)

        return Choices(STATUSES, distinct(Contact.city), distinct(Contact.owner), LANGUAGES)
