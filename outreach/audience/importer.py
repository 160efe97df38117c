"""Importing contacts from any spreadsheet's CSV.

Three steps, each on its own so they can be read, tested and (for large
files) streamed apart:

1. the header: which column is which field, settled once per file
   (``headers.plan_header``: the synonyms of common exports, ``--map``);
2. each row: ``parse_row(plan, cells, options)``, a pure function from the
   row's cells to contact fields and warnings, or a ``RowError``;
3. the upsert, all in one transaction.

Import is all-or-nothing for the file and row by row for its content: a bad
row is rejected with its row number and reason, a row that is usable in part
(an invalid phone number, an unknown owner) is kept and a warning says what
was left out, and the good rows go in. Re-importing updates contacts by email;
an empty cell leaves the stored value alone, so a partial sheet never wipes data.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.audience.cells import (
    RowError,
    normalise_email,
    parse_language,
    parse_phone,
    parse_tags,
    resolve_owner,
    split_name,
)
from outreach.audience.headers import HeaderPlan, find_header, plan_header
from outreach.errors import InputError
from outreach.sheets import decode_spreadsheet_bytes, sniff_delimiter, unneutralise, write_csv
from outreach.storage import transaction, utcnow
from outreach.storage.models import Company, Contact

__all__ = ["ImportOptions", "ImportResult", "RowError", "import_contacts", "normalise_email", "parse_row",
           "write_rejects"]  # fmt: skip

STATUSES = ("prospect", "existing")
TEXT_FIELDS = ("first_name", "last_name", "title", "phone", "industry", "city", "owner", "language")
MAX_FIELD = 500
HEADER_SEARCH = 20  # rows an export may put above its header (LinkedIn: a few lines of notes)


@dataclass(frozen=True)
class ImportOptions:
    region: str = "ID"  # phones without a country code are read as this country's
    senders: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # key -> (name, email)
    mapping: Mapping[str, str] = field(default_factory=dict)  # --map, normalised column -> field


@dataclass
class ImportResult:
    imported: int = 0
    updated: int = 0
    rejected: list[tuple[int, str, dict[str, str]]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    plan: HeaderPlan | None = None
    custom_filled: set[int] = field(default_factory=set)  # custom columns with a value somewhere

    def summary(self) -> str:
        return f"{self.imported} imported, {self.updated} updated, {len(self.rejected)} rejected"

    def warning_kinds(self) -> str:
        """``240 phone, 42 owner``: the warnings counted by the field they are about."""
        kinds: dict[str, int] = {}
        for _line, warning in self.warnings:
            kind = warning.split(" ", 1)[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1]))

    def details(self) -> list[str]:
        """What the summary line does not say: how the columns were read, which became custom fields."""
        plan = self.plan
        if plan is None:
            return []
        out = []
        if plan.header_line > 1:
            out.append(f"Header on line {plan.header_line}; the {plan.header_line - 1} line(s) above it were skipped")
        read = plan.describe()
        if read:
            out.append("Columns read as: " + ", ".join(read))
        kept = [_custom_label(plan.header[i], plan.custom[i]) for i in sorted(self.custom_filled)]
        if kept:
            out.append("Kept as custom fields: " + ", ".join(kept))
        empty = len(plan.custom) - len(self.custom_filled)
        if empty:
            out.append(f"Skipped {empty} column(s) empty in every row")
        if plan.ignored:
            named = [plan.header[i] for i in plan.ignored if plan.header[i]]
            if named:
                out.append("Ignored (--map ...=ignore): " + ", ".join(named))
        return out


def _custom_label(header: str, key: str) -> str:
    return key if header.strip().lower() == key else f"{header} (custom.{key})"


def _clean(name: str, value: str) -> str:
    value = unneutralise(value.strip())
    if "\r" in value or "\n" in value:
        raise RowError(f"{name} contains a line break")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise RowError(f"{name} contains a control character")
    if len(value) > MAX_FIELD:
        raise RowError(f"{name} is longer than {MAX_FIELD} characters")
    return value


@dataclass(frozen=True)
class ParsedRow:
    fields: dict[str, Any]  # only what the row has a value for
    warnings: tuple[str, ...] = ()


def parse_row(plan: HeaderPlan, cells: Sequence[str], options: ImportOptions) -> ParsedRow:
    """One row's cells (in header order) into contact fields; RowError when the row is unusable."""
    values = [_clean(_field_label(plan, i), c) if c and c.strip() else "" for i, c in enumerate(cells)]
    email_cols = plan.fields.get("email", ())
    out: dict[str, Any] = {"email": normalise_email(values[email_cols[0]] if email_cols else "")}
    warnings: list[str] = []
    for name, cols in plan.fields.items():
        present = [values[i] for i in cols if i < len(values) and values[i]]
        if name == "email" or not present:
            continue
        if name == "phone":
            phone = parse_phone(present, options.region)
            if phone.e164:
                out["phone"] = phone.e164
            if phone.warning:
                warnings.append(phone.warning)
        elif name == "owner":
            out["owner"], warning = resolve_owner(present[0], options.senders)
            warnings += [warning] if warning else []
        elif name == "language":
            code, warning = parse_language(present[0])
            out.update({"language": code} if code else {})
            warnings += [warning] if warning else []
        else:
            out[name] = _typed(name, present[0])
    _names(out)
    custom = {key: values[i] for i, key in plan.custom.items() if i < len(values) and values[i]}
    if custom:
        out["custom"] = custom
    return ParsedRow(out, tuple(warnings))


def _field_label(plan: HeaderPlan, i: int) -> str:
    return plan.mapped.get(i) or (plan.header[i].strip().lower() if i < len(plan.header) else f"column {i + 1}")


def _names(out: dict[str, Any]) -> None:
    """First and last name from a full-name column where the sheet has no split ones; a middle
    name goes in front of the last name (the greeting uses the first)."""
    full, middle = out.pop("full_name", ""), out.pop("middle_name", "")
    if full and not out.get("first_name") and not out.get("last_name"):
        first, last = split_name(full)
        if first:
            out["first_name"] = first
        if last:
            out["last_name"] = last
    if middle and out.get("first_name"):
        out["last_name"] = f"{middle} {out.get('last_name', '')}".strip()


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
        return parse_tags(value)
    return value


# -- reading the file ----------------------------------------------------------------------


@dataclass
class _Rows:
    """A CSV file as (line, cells) after its header, the header planned once."""

    path: Path
    plan: HeaderPlan
    rows: Iterator[tuple[int, list[str], str | None]]  # (line, cells, why the row is unusable as a whole)


def read_csv(path: Path, mapping: Mapping[str, str] | None = None) -> _Rows:
    """Decode, find the header (it may follow a few lines of notes), plan it, and stream the rows."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    text = decode_spreadsheet_bytes(data, str(path))
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))
    head: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            head.append((reader.line_num, row))
            if len(head) >= HEADER_SEARCH:
                break
    except csv.Error as exc:
        raise InputError(str(exc), path=path, line=reader.line_num) from None
    if not head:
        raise InputError("the file is empty; it needs a header line with an email column", path=path)
    at = find_header([row for _line, row in head], mapping)
    line, header = head[at]
    plan = plan_header(header, mapping, path=path, line=line)
    if "email" not in plan.fields:
        shown = ", ".join(h.strip().lower() for h in header)
        raise InputError(f"no 'email' column in the header ({shown}); name the column that holds the "
                         "addresses with --map COLUMN=email", path=path, line=head[0][0])  # fmt: skip
    dupes = sorted({h.strip().lower() for h in header if h.strip() and
                    [x.strip().lower() for x in header].count(h.strip().lower()) > 1})  # fmt: skip
    if dupes:
        raise InputError(f"duplicate column(s): {', '.join(dupes)}", path=path, line=line)
    return _Rows(path, plan, _rows(path, reader, head[at + 1 :], len(header)))


def _rows(path: Path, reader: Any, buffered: list[tuple[int, list[str]]], width: int
          ) -> Iterator[tuple[int, list[str], str | None]]:  # fmt: skip
    def numbered() -> Iterator[tuple[int, list[str]]]:
        yield from buffered
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            raise InputError(str(exc), path=path, line=reader.line_num) from None

    for end_line, row in numbered():
        if not any(c.strip() for c in row):
            continue
        # a quoted cell may span lines: report the line where the row starts
        line = end_line - sum(_line_breaks(c) for c in row)
        if len(row) > width and any(c.strip() for c in row[width:]):
            yield line, row[:width], "more cells than header columns"
            continue
        yield line, row[:width] + [""] * (width - len(row)), None


_BREAK = re.compile(r"\r\n|\r|\n")


def _line_breaks(value: str | None) -> int:
    return len(_BREAK.findall(value)) if value else 0


# -- importing -----------------------------------------------------------------------------


def import_contacts(engine: Engine, path: Path, options: ImportOptions | None = None) -> ImportResult:
    options = options or ImportOptions()
    source = read_csv(path, options.mapping)
    plan = source.plan
    result = ImportResult(columns=list(plan.header), plan=plan)
    seen: dict[str, int] = {}
    with transaction(engine) as session:
        companies = _CompanyCache(session)
        for line, cells, unusable in source.rows:
            try:
                if unusable:
                    raise RowError(unusable)
                parsed = parse_row(plan, cells, options)
                email = parsed.fields["email"]
                first = seen.setdefault(email, line)
                if first != line:
                    raise RowError(f"duplicate of line {first} ({email})")
                created = _upsert(session, companies, parsed.fields)
            except RowError as exc:
                result.rejected.append((line, str(exc), dict(zip(plan.header, cells, strict=False))))
                continue
            result.warnings.extend((line, w) for w in parsed.warnings)
            result.custom_filled.update(i for i, key in plan.custom.items() if key in parsed.fields.get("custom", {}))
            if created:
                result.imported += 1
            else:
                result.updated += 1
    return result


def write_warnings(result: ImportResult, out: Path) -> None:
    """Every warning (the contact was imported, a cell was not): row and what was left out."""
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        write_csv(fh, ["row", "warning"], ([line, warning] for line, warning in result.warnings))


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
