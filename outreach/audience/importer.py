"""Importing contacts from any spreadsheet's CSV.

Import is all-or-nothing for the file (one transaction) and row by row for
its content: a bad row is rejected with its row number and reason, the good
rows go in. Re-importing updates contacts by email; an empty cell leaves the
stored value alone, so a partial sheet never wipes data.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.audience.contacts import COLUMNS
from outreach.errors import InputError
from outreach.sheets import decode_spreadsheet_bytes, sniff_reader, unneutralise, write_csv
from outreach.storage import transaction, utcnow
from outreach.storage.models import Company, Contact

STATUSES = ("prospect", "existing")
TEXT_FIELDS = ("first_name", "last_name", "title", "phone", "industry", "city", "owner")
MAX_FIELD = 500


class RowError(ValueError):
    """One row is unusable; the message is the reason written to the rejects file."""


@dataclass
class ImportResult:
    imported: int = 0
    updated: int = 0
    rejected: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.imported} imported, {self.updated} updated, {len(self.rejected)} rejected"
        )


def normalise_email(raw: str) -> str:
    """Syntax check (no DNS) and normalise; raises RowError with a readable reason."""
    raw = raw.strip()
    if not raw:
        raise RowError("email is empty")
    try:
        info = validate_email(raw, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        text = str(exc)
        if "smtputf8" in text.lower() or "internationali" in text.lower():
            text = "internationalised address (SMTPUTF8) is not supported"
        raise RowError(f"invalid email {raw!r}: {text}") from None
    # addresses are ASCII: an internationalised domain is kept in its IDNA (xn--) form
    return (info.ascii_email or info.normalized).lower()


def _clean(name: str, value: str) -> str:
    value = unneutralise(value.strip())
    if "\r" in value or "\n" in value:
        raise RowError(f"{name} contains a line break")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise RowError(f"{name} contains a control character")
    if len(value) > MAX_FIELD:
        raise RowError(f"{name} is longer than {MAX_FIELD} characters")
    return value


def parse_row(row: dict[str, str]) -> dict[str, Any]:
    """Validate one CSV row into contact fields; only non-empty cells are returned."""
    out: dict[str, Any] = {"email": normalise_email(row.get("email") or "")}
    custom: dict[str, str] = {}
    for name, raw in row.items():
        if name == "email" or raw is None:
            continue
        value = _clean(name, raw)
        if value == "":
            continue
        if name not in COLUMNS:
            custom[name] = value
            continue
        out[name] = _typed(name, value)
    if custom:
        out["custom"] = custom
    return out


def _typed(name: str, value: str) -> Any:
    if name == "status":
        if value.lower() not in STATUSES:
            raise RowError(f"status {value!r} is not one of: {', '.join(STATUSES)}")
        return value.lower()
    if name == "transactions":
        try:
            number = int(value)
        except ValueError:
            raise RowError(f"transactions {value!r} is not a whole number") from None
        if number < 0:
            raise RowError("transactions cannot be negative")
        return number
    if name == "last_contacted_at":
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            raise RowError(f"last_contacted_at {value!r} is not an ISO date (YYYY-MM-DD)") from None
    if name == "timezone":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise RowError(f"timezone {value!r} is not an IANA timezone name") from None
        return value
    if name == "tags":
        tags = sorted({t.strip().lower() for t in value.split(";") if t.strip()})
        return ";" + ";".join(tags) + ";" if tags else ""
    return value


def read_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Header (lowercased) and (row number, row) pairs; row numbers count the header as 1."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    reader = sniff_reader(decode_spreadsheet_bytes(data, str(path)))
    raw_header = reader.fieldnames or []
    header = [(h or "").strip().lower() for h in raw_header]
    if "email" not in header:
        raise InputError(f"no 'email' column in the header ({', '.join(header)})", path=path, line=1)
    dupes = sorted({h for h in header if header.count(h) > 1 and h})
    if dupes:
        raise InputError(f"duplicate column(s): {', '.join(dupes)}", path=path, line=1)
    reader.fieldnames = header

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for row in reader:
                extra = row.pop(None, None)
                # a quoted cell may span lines: report the line where the row starts
                cells = (*row.values(), *(extra or ()))
                line = reader.line_num - sum(_line_breaks(v) for v in cells)
                if extra:
                    yield line, {"__error__": "more cells than header columns", **row}
                    continue
                if not any((v or "").strip() for v in row.values()):
                    continue
                yield line, {k: v or "" for k, v in row.items() if k}
        except csv.Error as exc:
            # DictReader.line_num only moves on success; the csv reader's is where it failed
            raise InputError(str(exc), path=path, line=reader.reader.line_num) from None

    return header, rows()


_BREAK = re.compile(r"\r\n|\r|\n")


def _line_breaks(value: str | None) -> int:
    return len(_BREAK.findall(value)) if value else 0


def import_contacts(engine: Engine, path: Path) -> ImportResult:
    header, rows = read_csv(path)
    result = ImportResult(columns=header)
    seen: dict[str, int] = {}
    with transaction(engine) as session:
        companies = _CompanyCache(session)
        for line, row in rows:
            try:
                if "__error__" in row:
                    raise RowError(row.pop("__error__"))
                fields = parse_row(row)
                first = seen.setdefault(fields["email"], line)
                if first != line:
                    raise RowError(f"duplicate of line {first} ({fields['email']})")
                created = _upsert(session, companies, fields)
            except RowError as exc:
                result.rejected.append((line, str(exc), row))
                continue
            if created:
                result.imported += 1
            else:
                result.updated += 1
    return result


def write_rejects(result: ImportResult, out: Path) -> None:
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        write_csv(fh, ["row", "reason", *result.columns],
                  ([line, reason, *(row.get(c, "") for c in result.columns)] for line, reason, row in result.rejected))


class _CompanyCache:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.cache: dict[str, Company] = {}

    def get(self, name: str, fields: dict[str, Any]) -> Company:
        key = " ".join(name.split()).casefold()
        company = self.cache.get(key)
        if company is None:
            company = self.session.scalar(select(Company).where(Company.key == key))
        if company is None:
            company = Company(name=name, key=key)
            self.session.add(company)
        for attr in ("industry", "city", "timezone"):
            if fields.get(attr) and not getattr(company, attr):
                setattr(company, attr, fields[attr])
        self.cache[key] = company
        return company


def _upsert(session: Session, companies: _CompanyCache, fields: dict[str, Any]) -> bool:
    now = utcnow()
    contact = session.scalar(select(Contact).where(Contact.email == fields["email"]))
    created = contact is None
    if contact is None:
        contact = Contact(email=fields["email"], created_at=now, updated_at=now, custom={}, tags="")
        for name in TEXT_FIELDS + ("timezone",):
            setattr(contact, name, "")
        contact.status = "prospect"
        contact.transactions = 0
        session.add(contact)
    for name, value in fields.items():
        if name == "company":
            contact.company = companies.get(value, fields)
        elif name == "custom":
            contact.custom = {**(contact.custom or {}), **value}
        elif name != "email":
            setattr(contact, name, value)
    contact.updated_at = now
    session.flush()
    return created
