"""Writing imported contacts in batches: a few statements per few hundred rows, not a few per row.

The importer hands over each batch of parsed rows in file order; for each
batch, inside the import's one transaction:

1. the rows whose email an earlier row of the file already had are named, with
   that row's line (``earlier``): the file's emails are kept in a temporary
   table, not in memory, so a file of a million rows needs no more memory than
   one of a thousand;
2. the batch's companies are upserted (``INSERT ... ON CONFLICT (key) DO
   UPDATE``), a stored industry, city or timezone kept, an empty one filled;
3. the contacts already stored are read (to count them as updated, and to merge
   their custom fields with the file's);
4. the contacts are upserted in one ``INSERT ... ON CONFLICT (email) DO
   UPDATE``: each field is set from the row when the row has a value for it,
   and kept as stored when its cell was empty (``COALESCE`` of the row's value,
   NULL when absent, and the stored one). New contacts get their ids in file
   order, as one row at a time gave them; every contact written has the
   import's start as its ``updated_at``.

SQLite and PostgreSQL both support ``ON CONFLICT DO UPDATE``; it is also what
keeps a contact that another import inserted meanwhile from failing this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table

from outreach.errors import ConfigError
from outreach.fields import BUILTIN
from outreach.fields.kinds import DATE
from outreach.storage.driver import Driver, marks

# The columns a row may set, with what a new contact gets where its cell is empty: the registry's
# stored fields (``outreach.fields``), and the company the row's ``company`` names.
DEFAULTS: dict[str, Any] = {**BUILTIN.new_contact, "company_id": None}
COMPANY_FIELDS = BUILTIN.company_fills  # copied to a company that has none yet

_SEEN = Table(
    "outreach_import_seen", MetaData(),
    Column("email", String(320), primary_key=True), Column("line", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)  # fmt: skip

_FIELDS, _DEFAULT_VALUES = tuple(DEFAULTS), tuple(DEFAULTS.values())
_COMPANY_ID = _FIELDS.index("company_id")
_DAYS = tuple(i for i, name in enumerate(_FIELDS) if name in BUILTIN and BUILTIN[name].kind is DATE)
_CONTACT_COLUMNS = ("email", "created_at", "updated_at", "custom", *DEFAULTS)
UPSERT_CONTACT = (
    f"INSERT INTO contacts ({', '.join(_CONTACT_COLUMNS)}) VALUES ({marks(len(_CONTACT_COLUMNS))}) "
    "ON CONFLICT (email) DO UPDATE SET "
    + ", ".join(f"{name} = COALESCE(?, contacts.{name})" for name in DEFAULTS)
    + ", custom = excluded.custom, updated_at = excluded.updated_at"
)
# A stored company is written only when the batch fills one of its empty fields: most rows name a
# company already stored, and an update that changes nothing still writes a row (PostgreSQL: a new
# row version each time).
COMPANY_COLUMNS = (("name", "varchar"), ("key", "varchar"), *((f, "varchar") for f in COMPANY_FIELDS))
KEEP_COMPANY = (
    "ON CONFLICT (key) DO UPDATE SET "
    + ", ".join(f"{f} = COALESCE(NULLIF(companies.{f}, ''), excluded.{f}, companies.{f})" for f in COMPANY_FIELDS)
    + " WHERE "
    + " OR ".join(f"(COALESCE(companies.{f}, '') = '' AND excluded.{f} IS NOT NULL)" for f in COMPANY_FIELDS)
)


def company_key(name: str) -> str:
    """``"PT  Satu Dua"`` and ``"pt satu dua"`` are one company."""
    return " ".join(name.split()).casefold()


class ContactWriter:
    """One file's contacts written batch by batch on ``conn``, in the caller's transaction."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        if conn.dialect.name not in ("sqlite", "postgresql"):
            raise ConfigError(f"contact import needs SQLite or PostgreSQL (INSERT ... ON CONFLICT), "
                              f"not {conn.dialect.name}")  # fmt: skip
        self.db = Driver(conn)
        self.now = self.db.ts(now)
        self.seen, self.analysed = 0, 0
        _SEEN.drop(conn, checkfirst=True)  # left by an import that failed on this pooled connection
        _SEEN.create(conn)

    def earlier(self, emails: Iterable[str]) -> dict[str, int]:
        """Of these emails, those an earlier batch of the file had: email -> its line."""
        wanted = list(emails)
        if not wanted:
            return {}
        where, params = self.db.among("email", wanted)
        return {row[0]: row[1] for row in self.db.run(f"SELECT email, line FROM {_SEEN.name} WHERE {where}", params)}

    def write(self, rows: Sequence[tuple[int, dict[str, Any]]]) -> set[str]:
        """Upsert a batch of (line, fields) in file order, emails unique; returns the emails that were new."""
        if not rows:
            return set()
        db = self.db
        db.insert(_SEEN.name, (("email", "varchar"), ("line", "integer")), [(f["email"], line) for line, f in rows])
        self._analyse(len(rows))
        company_ids = self._companies([f for _line, f in rows])
        emails = [f["email"] for _line, f in rows]
        where, params = db.among("email", emails)
        found = db.run(f"SELECT email, custom FROM contacts WHERE {where}", params)
        stored = {row[0]: db.from_json(row[1]) for row in found}
        db.many(UPSERT_CONTACT, [self._params(f, company_ids, stored) for _line, f in rows])
        return {email for email in emails if email not in stored}

    def _analyse(self, added: int) -> None:
        """PostgreSQL plans each batch's lookups (``key = ANY(...)``) once, from the tables' statistics
        then; those of this transaction's rows are only what ANALYZE gathers (autovacuum does not see
        them, nor ever a temporary table). Analysed whenever the file's rows have doubled, the lookups
        keep to the indexes instead of scanning, for each batch, tables grown a hundredfold since."""
        self.seen += added
        if self.db.dialect == "postgresql" and self.seen >= 2 * self.analysed:
            self.db.run(f"ANALYZE {_SEEN.name}, companies, contacts")
            self.analysed = self.seen

    def close(self) -> None:
        _SEEN.drop(self.db.conn)

    def _companies(self, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
        """Upsert the batch's companies: their names as the rows write them -> id. Of several rows of
        one company, the first with a value gives each of its fields, as the stored company's own value
        comes before them all."""
        found: dict[str, list[Any]] = {}  # key -> [name, industry, city, timezone]
        keys: dict[str, str] = {}  # the name in a row -> key
        for fields in rows:
            name = fields.get("company")
            if not name:
                continue
            key = keys.get(name) or keys.setdefault(name, company_key(name))
            company = found.setdefault(key, [name, *(None for _f in COMPANY_FIELDS)])
            for n, f in enumerate(COMPANY_FIELDS, 1):
                if fields.get(f) and not company[n]:
                    company[n] = fields[f]
        if not found:
            return {}
        self.db.insert("companies", COMPANY_COLUMNS, [(name, key, *rest) for key, (name, *rest) in found.items()],
                       KEEP_COMPANY)  # fmt: skip
        where, params = self.db.among("key", list(found))
        ids = {row[1]: row[0] for row in self.db.run(f"SELECT id, key FROM companies WHERE {where}", params)}
        return {name: ids[key] for name, key in keys.items()}

    def _params(self, fields: dict[str, Any], company_ids: dict[str, int],
                stored: dict[str, dict[str, str] | None]) -> tuple[Any, ...]:  # fmt: skip
        """The row for ``UPSERT_CONTACT``: its values for a new contact (defaults where a cell is
        empty), then for a stored one (NULL where a cell is empty: the stored value stays)."""
        email = fields["email"]
        values = [fields.get(name) for name in _FIELDS]  # company_id: None, the row has "company"
        company = fields.get("company")
        if company:
            values[_COMPANY_ID] = company_ids[company]
        for day in _DAYS:
            if values[day] is not None:
                values[day] = self.db.day(values[day])
        custom = fields.get("custom") or {}
        if email in stored:
            custom = {**(stored[email] or {}), **custom}
        new = [default if value is None else value for value, default in zip(values, _DEFAULT_VALUES, strict=True)]
        return (email, self.now, self.now, self.db.json(custom), *new, *values)
