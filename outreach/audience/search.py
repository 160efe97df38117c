"""Finding contacts: the sales admin's contact list, a page at a time, as quick with 100,000 as with 100.

Why it works as it does:

* Pages are keyset pages in email order (``after``/``before`` an address),
  read through the unique index on ``contacts.email``: page 2,000 costs what
  page 1 costs, where ``OFFSET`` would read every row before it.
* The filters a person picks from a list (status, city, owner, language)
  compare exact stored values, so the indexes on those columns serve them
  (migration 0013_admin); the list offers the values the contacts have.
* The search box matches every word somewhere in the email, the name, the
  company or the phone, case aside (``ILIKE`` on PostgreSQL; SQLite's
  ``LIKE``, which ignores the case of ASCII letters only). A word in the
  middle of a name cannot use an index: a search counts its matches up to
  ``COUNT_CAP`` (a common word stops early), a rare word reads the list
  once, on 100,000 contacts under a tenth of a second (bench/contacts.py).
* ``suppressed`` is driven by the suppression list (its key is the address),
  so "who may not be mailed" costs one index look-up per suppressed address.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Engine, and_, func, literal_column, or_, select, text, true
from sqlalchemy.orm import Session

from outreach.fields.builtin import STATUSES
from outreach.storage.models import Company, Contact, Suppression

PAGE = 50
MAX_QUERY = 200  # characters of the search box: more is no search anyone types
MAX_WORDS = 8
MAX_CHOICES = 500  # distinct cities or owners offered in a filter's list
SEARCHED = (Contact.email, Contact.first_name, Contact.last_name, Contact.phone)
COUNT_CAP = 1000  # a search counts its matches up to here ("1000+ found")
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
    capped: bool = False  # a search found more than ``total`` (COUNT_CAP): counting stopped there


@dataclass(frozen=True)
class Choices:
    """The values each list filter can take, as the contacts have them."""

    statuses: tuple[str, ...]
    cities: tuple[str, ...]
    owners: tuple[str, ...]
    languages: tuple[str, ...]


def _words(q: str) -> list[str]:
    return [w for w in q.split() if w][:MAX_WORDS]


def _contains(col: Any, word: str, dialect: str) -> Any:
    """Case aside: SQLite's LIKE already ignores the case of ASCII letters (``lower()`` on both sides would
    double the scan's cost); PostgreSQL's ILIKE ignores every letter's."""
    return col.contains(word, autoescape=True) if dialect == "sqlite" else col.icontains(word, autoescape=True)


def _conditions(flt: ContactFilter, dialect: str) -> list[Any]:
    out: list[Any] = []
    for word in _words(flt.q):
        companies = select(Company.id).where(_contains(Company.name, word, dialect))
        out.append(or_(*(_contains(col, word, dialect) for col in SEARCHED), Contact.company_id.in_(companies)))
    for name in ("status", "city", "owner"):
        value = getattr(flt, name)
        if value:
            out.append(getattr(Contact, name) == value)
    if flt.language:
        out.append(Contact.language == ("" if flt.language == "default" else flt.language))
    if flt.tag:
        out.append(Contact.tags.contains(f";{flt.tag.lower()};", autoescape=True))
    if flt.suppressed == "yes":  # driven by the (short) suppression list, each address one index look-up
        out.append(Contact.email.in_(select(Suppression.email)))
    elif flt.suppressed == "no":
        out.append(Contact.email.not_in(select(Suppression.email)))
    return out


_LISTED = (Contact.id, Contact.email, Contact.first_name, Contact.last_name, Company.name, Contact.title, Contact.city,
           Contact.status, Contact.owner, Contact.language, Contact.tags, Suppression.reason)  # fmt: skip


def _listed(row: Any) -> Listed:
    cid, email, first, last, company, title, city, status, owner, language, tags, reason = row
    name = " ".join(p for p in (first, last) if p)
    return Listed(cid, email, name, company or "", title, city, status, owner, language,
                  tuple(t for t in (tags or "").split(";") if t), reason)  # fmt: skip


def search_contacts(engine: Engine, flt: ContactFilter, *, after: str | None = None, before: str | None = None,
                    limit: int = PAGE) -> ContactPage:  # fmt: skip
    """One page of the contacts ``flt`` matches, in email order, after (or before) an address.

    The count comes first: a search that matches at most ``COUNT_CAP`` contacts (a name) is then read
    by scanning the table and sorting the few matches (SQLite: ``ORDER BY +email``), since walking the
    email index to find them would visit every row in index order; a common word keeps the index order
    and stops at the page's end."""
    dialect = engine.dialect.name
    where = and_(true(), *_conditions(flt, dialect))
    with Session(engine) as session:
        counted = select(Contact.id).where(where)
        if flt.q:  # a common word stops counting early; a rare one reads the list once
            counted = counted.limit(COUNT_CAP + 1)
        total = session.scalar(select(func.count()).select_from(counted.subquery())) or 0
        key: Any = Contact.email
        if dialect == "sqlite" and flt.q and total <= COUNT_CAP:  # few matches: sort them, do not walk the index
            key = literal_column("+contacts.email")
        query = (select(*_LISTED).outerjoin(Company, Company.id == Contact.company_id)
                 .outerjoin(Suppression, Suppression.email == Contact.email).where(where))  # fmt: skip
        backwards = before is not None and after is None
        if backwards:
            query = query.where(Contact.email < before).order_by(key.desc())
        else:
            query = query.where(Contact.email > after) if after is not None else query
            query = query.order_by(key)
        found = list(session.execute(query.limit(limit + 1)).all())
    more = len(found) > limit
    found = found[:limit]
    if backwards:
        found.reverse()
    rows = [_listed(row) for row in found]
    first, last = (rows[0].email, rows[-1].email) if rows else (None, None)
    capped = bool(flt.q) and total > COUNT_CAP
    total = min(total, COUNT_CAP) if capped else total
    if backwards:
        return ContactPage(rows, total, after=last, before=first if more else None, capped=capped)
    return ContactPage(rows, total, after=last if more else None, before=first if after is not None else None,
                       capped=capped)  # fmt: skip


# The distinct values of an indexed column, one index seek each (a loose index scan): a list of 100,000
# contacts in 12 cities costs 12 seeks, not a pass over 100,000 index entries. Works on SQLite and PostgreSQL.
_DISTINCT = """WITH RECURSIVE found(value) AS (
    SELECT min({col}) FROM contacts WHERE {col} > ''
    UNION ALL
    SELECT (SELECT min({col}) FROM contacts WHERE {col} > found.value) FROM found WHERE found.value IS NOT NULL
) SELECT value FROM found WHERE value IS NOT NULL LIMIT :n"""


def filter_choices(engine: Engine) -> Choices:
    """The distinct values of the city and owner filters, each read from its index."""
    with engine.connect() as conn:

        def distinct(col: str) -> tuple[str, ...]:
            return tuple(conn.execute(text(_DISTINCT.format(col=col)), {"n": MAX_CHOICES}).scalars())

        return Choices(STATUSES, distinct("city"), distinct("owner"), LANGUAGES)
