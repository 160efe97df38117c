"""Importing contacts from any spreadsheet's CSV or an .xlsx workbook, streamed: memory does not grow
with the file.

Three steps, each on its own so they can be read, tested and run apart:

1. the header: which column is which field, settled once per file
   (``headers.plan_header``: the synonyms of common exports, ``--map``);
2. each row: ``parse_row(plan, cells, options)``, a pure function from the
   row's cells to contact fields and warnings, or a ``RowError``. This is most
   of an import's work (email-validator and phonenumbers are pure Python), so
   a large file's rows are parsed in worker processes (``workers.py``), batch
   by batch, while this one reads the next rows and writes the last batch;
3. the upsert, in batches of ``BATCH`` rows (``upsert.ContactWriter``), all in
   one transaction.

Import is all-or-nothing for the file and row by row for its content: a bad
row is rejected with its row number and reason, a row that is usable in part
(an invalid phone number, an unknown owner) is kept and a warning says what
was left out, and the good rows go in. Re-importing updates contacts by email;
an empty cell leaves the stored value alone, so a partial sheet never wipes data.
The file is read as a stream, rejects and warnings beyond the first thousand
wait in a temporary file and the file's emails (for "duplicate of line N") in
a temporary table, so a million rows need the memory of a thousand.
"""

from __future__ import annotations

import csv
import itertools
import os
import pickle
import re
import tempfile
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar, overload

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from outreach import audit
from outreach.audience.headers import IGNORE, HeaderPlan, find_header, plan_header
from outreach.audience.upsert import ContactWriter
from outreach.audience.workers import Workers
from outreach.errors import InputError
from outreach.fields import BUILTIN, FieldSet
from outreach.fields.cells import RowError, normalise_email, split_name
from outreach.sheets import open_spreadsheet, sniff_file_delimiter, unneutralise, write_csv, xlsx_rows
from outreach.storage import utcnow

__all__ = ["ImportOptions", "ImportResult", "RowError", "import_contacts", "import_records", "normalise_email",
           "parse_row", "write_rejects"]  # fmt: skip

MAX_FIELD = 500
HEADER_SEARCH = 20  # rows an export may put above its header (LinkedIn: a few lines of notes)
BATCH = 500  # rows per upsert, and per batch a worker parses
PARALLEL_BYTES = 2_000_000  # about 20,000 rows: a smaller file is done before a worker has started
# Parsing costs about twice what reading and writing cost here, so two workers keep this process busy;
# on two cores the three share them fully (one worker would leave this process idle half the time).
MAX_WORKERS = 2


@dataclass(frozen=True)
class ImportOptions:
    region: str = "ID"  # phones without a country code are read as this country's
    senders: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # key -> (name, email)
    mapping: Mapping[str, str] = field(default_factory=dict)  # --map, normalised column -> field
    # processes parsing rows beside this one; None: up to MAX_WORKERS (one a core) for a file of
    # PARALLEL_BYTES or more on a machine with two cores or more, else none (0: all in this process)
    workers: int | None = None
    registry: FieldSet = BUILTIN  # the fields a column can be (a workspace's derived and typed custom ones too)


T = TypeVar("T")


class RowLog(Sequence[T]):
    """Rows in file order, as a list reads them; the first ``keep`` in memory, the rest pickled to a
    temporary file, so that a file with a million bad rows costs no more memory than one with a few.
    Appended to while the import runs, read after it (not both at once)."""

    def __init__(self, keep: int = 1000) -> None:
        self._head: list[T] = []
        self._keep = keep
        self._spill: IO[bytes] | None = None
        self._count = 0

    def append(self, item: T) -> None:
        self._count += 1
        if len(self._head) < self._keep:
            self._head.append(item)
            return
        if self._spill is None:
            self._spill = tempfile.TemporaryFile()  # noqa: SIM115 - open as long as the log lives
        pickle.dump(item, self._spill, pickle.HIGHEST_PROTOCOL)

    def extend(self, items: Iterable[T]) -> None:
        for item in items:
            self.append(item)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[T]:
        yield from self._head
        spill = self._spill
        if spill is None:
            return
        end = spill.tell()
        spill.seek(0)
        try:
            while spill.tell() < end:
                yield pickle.load(spill)  # noqa: S301 - our own temporary file
        finally:
            spill.seek(end)

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...
    def __getitem__(self, index: int | slice) -> T | Sequence[T]:
        if isinstance(index, int) and 0 <= index < len(self._head):
            return self._head[index]
        return list(self)[index]


@dataclass
class ImportResult:
    imported: int = 0
    updated: int = 0
    rejected: RowLog[tuple[int, str, dict[str, str]]] = field(default_factory=RowLog)
    warnings: RowLog[tuple[int, str]] = field(default_factory=RowLog)
    columns: list[str] = field(default_factory=list)
    plan: HeaderPlan | None = None
    custom_filled: set[int] = field(default_factory=set)  # custom columns with a value somewhere
    # import_records only: each row's fate (created / updated / rejected), the field at fault in a rejected
    # row where one is, and what a row is called in the reasons ("duplicate of item 3")
    outcomes: dict[int, str] | None = None
    fields: dict[int, str] = field(default_factory=dict)
    row_word: str = "line"

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


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean(plan: HeaderPlan, i: int, value: str) -> str:
    value = unneutralise(value.strip())
    if _CONTROL.search(value):
        if "\r" in value or "\n" in value:
            raise RowError(f"{_field_label(plan, i)} contains a line break", _field_label(plan, i))
        raise RowError(f"{_field_label(plan, i)} contains a control character", _field_label(plan, i))
    if len(value) > MAX_FIELD:
        raise RowError(f"{_field_label(plan, i)} is longer than {MAX_FIELD} characters", _field_label(plan, i))
    return value


def _values(plan: HeaderPlan, cells: Sequence[str]) -> list[str]:
    """The cells stripped and checked (``_clean``); at a glance for the whole row where nothing in it
    is suspect (no control character, apostrophe or overlong cell), as in nearly every row."""
    values = [c.strip() for c in cells]
    joined = "".join(values)
    if not _CONTROL.search(joined) and "'" not in joined and max(map(len, values), default=0) <= MAX_FIELD:
        return values
    return [_clean(plan, i, c) if c else "" for i, c in enumerate(values)]


@dataclass(frozen=True)
class ParsedRow:
    fields: dict[str, Any]  # only what the row has a value for
    warnings: tuple[str, ...] = ()


def parse_row(plan: HeaderPlan, cells: Sequence[str], options: ImportOptions) -> ParsedRow:
    """One row's cells (in header order) into contact fields; RowError when the row is unusable.

    Each field's cells go through its parser in the registry (``outreach.fields``), which
    rejects the row or keeps the contact without the value and says so, as the field says."""
    values = _values(plan, cells)
    registry = plan.registry
    email_cols = plan.fields.get("email", ())
    out: dict[str, Any] = {"email": registry["email"].read([values[email_cols[0]] if email_cols else ""], options)[0]}
    warnings: list[str] = []
    for name, cols in plan.fields.items():
        present = [values[i] for i in cols if i < len(values) and values[i]]
        if name == "email" or not present:
            continue
        found = registry.get(name)
        if found is None:  # middle_name: folded into the last name below
            out[name] = present[0]
            continue
        value, warning = found.read(present, options)
        if value is not None:
            out[name] = value
        if warning:
            warnings.append(warning)
    _names(out)
    custom = _custom(plan, values, options, warnings)
    if custom:
        out["custom"] = custom
    return ParsedRow(out, tuple(warnings))


def _custom(plan: HeaderPlan, values: list[str], options: ImportOptions, warnings: list[str]) -> dict[str, Any]:
    """The custom columns' cells; a typed custom field's (``custom.KEY`` in the registry) parsed."""
    custom: dict[str, Any] = {}
    for i, key in plan.custom.items():
        if i >= len(values) or not values[i]:
            continue
        typed = plan.registry.get(f"custom.{key}")
        if typed is None:
            custom[key] = values[i]
            continue
        value, warning = typed.read([values[i]], options)
        if value is not None:
            custom[key] = value if isinstance(value, int | float | str) else typed.text(value)
        if warning:
            warnings.append(warning)
    return custom


Outcome = tuple[dict[str, Any], tuple[str, ...]] | str  # (fields, warnings), or why the row is rejected
RawRow = tuple[int, list[str], str | None]  # (line, cells, why the row is unusable as a whole)


def parse_rows(plan: HeaderPlan, options: ImportOptions, rows: Sequence[RawRow],
               fields: dict[int, str] | None = None) -> list[Outcome]:  # fmt: skip
    """``parse_row`` for a batch, in plain data (what a worker process sends back cheaply); ``fields``, when
    given, gets the field at fault of each rejected row that has one."""
    out: list[Outcome] = []
    for line, cells, unusable in rows:
        if unusable:
            out.append(unusable)
            continue
        try:
            parsed = parse_row(plan, cells, options)
        except RowError as exc:
            out.append(str(exc))
            if fields is not None and exc.field:
                fields[line] = exc.field
            continue
        out.append((parsed.fields, parsed.warnings))
    return out


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


# -- reading the file ----------------------------------------------------------------------


@dataclass
class _Rows:
    """A sheet (CSV file or workbook) as (line, cells) after its header, the header planned once."""

    path: Path
    plan: HeaderPlan
    rows: Iterator[RawRow]
    size: int  # bytes in the file
    position: Callable[[], int]  # bytes read so far (a workbook: its share of the rows read)


_ZIP = b"PK\x03\x04"  # an .xlsx workbook is a zip archive
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an Excel 97-2003 .xls (or an encrypted .xlsx)


def _is_workbook(path: Path) -> bool:
    """True for an .xlsx workbook, False for CSV text (by the file's bytes, whatever its name)."""
    try:
        with path.open("rb") as fh:
            magic = fh.read(8)
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except IsADirectoryError:
        raise InputError("this is a folder; give a .csv or .xlsx file", path=path) from None
    if magic.startswith(_OLE):
        raise InputError("an Excel 97-2003 workbook (.xls) or a password-protected one, which cannot be read; "
                         "open it in Excel or LibreOffice and save it as .xlsx or CSV", path=path)  # fmt: skip
    return magic.startswith(_ZIP)


@contextmanager
def open_rows(path: Path, mapping: Mapping[str, str] | None = None,
              registry: FieldSet = BUILTIN) -> Iterator[_Rows]:  # fmt: skip
    """A contact list, whatever it is: an .xlsx workbook (its first sheet; by its bytes, whatever its
    name) or CSV text (``open_csv``)."""
    opener = open_xlsx if _is_workbook(path) else open_csv
    with opener(path, mapping, registry) as rows:
        yield rows


@dataclass(frozen=True)
class Peek:
    """A file's header as the import reads it, and its first rows: what the app's mapping table shows."""

    header_line: int
    header: tuple[str, ...]
    targets: tuple[str, ...]  # per column: a field (``--map``'s names), ``custom.KEY`` or ``ignore``
    rows: list[list[str]]  # the first rows after the header, as many cells as the header
    problems: list[str]  # what would stop the import as the columns are read now (no email column, ...)


def peek_file(path: Path, mapping: Mapping[str, str] | None = None, registry: FieldSet = BUILTIN,
              rows: int = 5) -> Peek:  # fmt: skip
    """The header planned as ``import_contacts`` plans it (the synonyms, then ``mapping``) and the first
    ``rows`` rows; unlike the import, a missing email column is a problem listed, not an error raised."""
    head = _head(path, HEADER_SEARCH + rows)
    if not head:
        raise InputError("the file is empty; it needs a header line with an email column", path=path)
    at = find_header([row for _line, row in head[:HEADER_SEARCH]], mapping, registry)
    line, header = head[at]
    plan = plan_header(header, mapping, path=path, line=line, registry=registry)
    targets = []
    for i in range(len(header)):
        if i in plan.custom:
            targets.append(f"custom.{plan.custom[i]}")
        else:
            targets.append(next((f for f, cols in plan.fields.items() if i in cols), IGNORE))
    problems = []
    if "email" not in plan.fields:
        problems.append("no column is read as the email address: choose email for the column that holds them")
    names = [h.strip().lower() for h in header if h.strip()]
    dupes = sorted({h for h in names if names.count(h) > 1})
    if dupes:
        problems.append(f"duplicate column(s): {', '.join(dupes)}; rename them in the file")
    width = len(header)
    shown = [(row[:width] + [""] * (width - len(row))) for _line, row in head[at + 1 :] if any(c.strip() for c in row)]
    return Peek(line, tuple(header), tuple(targets), shown[:rows], problems)


def _head(path: Path, n: int) -> list[tuple[int, list[str]]]:
    """The first ``n`` rows of a sheet, numbered as the import numbers them."""
    if _is_workbook(path):
        with xlsx_rows(path) as (sheet, _total):
            return list(itertools.islice(sheet, n))
    try:
        fh = open_spreadsheet(path)
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    with fh:
        return _read_head(csv.reader(fh, delimiter=sniff_file_delimiter(fh)), n, path)


def _read_head(reader: Any, n: int, path: Path) -> list[tuple[int, list[str]]]:
    """The first ``n`` rows of a csv reader, each with its line number (a row may span lines)."""
    head: list[tuple[int, list[str]]] = []
    try:
        for row in reader:
            head.append((reader.line_num, row))
            if len(head) >= n:
                break
    except csv.Error as exc:
        raise InputError(str(exc), path=path, line=reader.line_num) from None
    return head


def _planned(path: Path, head: list[tuple[int, list[str]]], mapping: Mapping[str, str] | None,
             registry: FieldSet = BUILTIN) -> tuple[int, HeaderPlan, int]:  # fmt: skip
    """Which of the first rows is the header (it may follow a few lines of notes), planned:
    (its index in ``head``, the plan, its width)."""
    if not head:
        raise InputError("the file is empty; it needs a header line with an email column", path=path)
    at = find_header([row for _line, row in head], mapping, registry)
    line, header = head[at]
    plan = plan_header(header, mapping, path=path, line=line, registry=registry)
    if "email" not in plan.fields:
        shown = ", ".join(h.strip().lower() for h in header)
        raise InputError(f"no 'email' column in the header ({shown}); name the column that holds the "
                         "addresses with --map COLUMN=email", path=path, line=head[0][0])  # fmt: skip
    dupes = sorted({h.strip().lower() for h in header if h.strip() and
                    [x.strip().lower() for x in header].count(h.strip().lower()) > 1})  # fmt: skip
    if dupes:
        raise InputError(f"duplicate column(s): {', '.join(dupes)}", path=path, line=line)
    return at, plan, len(header)


@contextmanager
def open_csv(path: Path, mapping: Mapping[str, str] | None = None,
             registry: FieldSet = BUILTIN) -> Iterator[_Rows]:  # fmt: skip
    """Find the encoding, the delimiter and the header (it may follow a few lines of notes), plan the
    header, and stream the rows."""
    try:
        fh = open_spreadsheet(path)
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    with fh:
        reader = csv.reader(fh, delimiter=sniff_file_delimiter(fh))
        head = _read_head(reader, HEADER_SEARCH, path)
        at, plan, width = _planned(path, head, mapping, registry)
        rows = _rows(_csv_lines(path, reader, head[at + 1 :], head[at][0]), width)
        yield _Rows(path, plan, rows, path.stat().st_size, fh.buffer.tell)


@contextmanager
def open_xlsx(path: Path, mapping: Mapping[str, str] | None = None,
              registry: FieldSet = BUILTIN) -> Iterator[_Rows]:  # fmt: skip
    """The first sheet of a workbook, read-only and streamed, its cells as text (dates in ISO); rows are
    numbered as the sheet numbers them, so "row 12" is row 12 in Excel."""
    with xlsx_rows(path) as (sheet, total):
        head = list(itertools.islice(sheet, HEADER_SEARCH))
        at, plan, width = _planned(path, head, mapping, registry)
        size, done = path.stat().st_size, [head[-1][0] if head else 0]

        def counted() -> Iterator[tuple[int, list[str]]]:
            for number, row in itertools.chain(head[at + 1 :], sheet):
                done[0] = number
                yield number, row

        def position() -> int:
            return min(size, size * done[0] // total) if total else 0

        yield _Rows(path, plan, _rows(counted(), width), size, position)


def _csv_lines(path: Path, reader: Any, buffered: list[tuple[int, list[str]]], header_end: int
               ) -> Iterator[tuple[int, list[str]]]:  # fmt: skip
    """CSV rows with the line each starts on (a quoted cell may span lines)."""

    def numbered() -> Iterator[tuple[int, list[str]]]:
        yield from buffered
        try:
            for row in reader:
                yield reader.line_num, row
        except csv.Error as exc:
            raise InputError(str(exc), path=path, line=reader.line_num) from None

    previous_end = header_end
    for end_line, row in numbered():
        # a quoted cell may span lines: report the line where the row starts
        line = end_line if end_line == previous_end + 1 else end_line - sum(_line_breaks(c) for c in row)
        previous_end = end_line
        yield line, row


def _rows(numbered: Iterable[tuple[int, list[str]]], width: int) -> Iterator[RawRow]:
    """Rows cut or padded to the header's width; blank rows skipped, a row with cells past the header refused."""
    for line, row in numbered:
        if not any(c.strip() for c in row):
            continue
        if len(row) > width and any(c.strip() for c in row[width:]):
            yield line, row[:width], "more cells than header columns"
            continue
        yield line, row[:width] + [""] * (width - len(row)), None


_BREAK = re.compile(r"\r\n|\r|\n")


def _line_breaks(value: str | None) -> int:
    return len(_BREAK.findall(value)) if value else 0


def _batches(rows: Iterator[RawRow], size: int) -> Iterator[list[RawRow]]:
    batch: list[RawRow] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- parsing, here or in a worker ----------------------------------------------------------


def _workers(options: ImportOptions, size: int) -> int:
    if options.workers is not None:
        return options.workers
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(cores, MAX_WORKERS) if size >= PARALLEL_BYTES and cores > 1 else 0


def _parsed(source: _Rows, options: ImportOptions) -> Generator[tuple[list[RawRow], list[Outcome]], None, None]:
    """Each batch of rows with its outcomes, in file order.

    With workers (``workers.Workers``), a few batches are in flight at a time, never the
    whole file: the workers parse while this process reads on and writes the batch before.
    """
    batches = _batches(source.rows, BATCH)
    workers = _workers(options, source.size)
    if not workers:
        for batch in batches:
            yield batch, parse_rows(source.plan, options, batch)
        return
    pool = Workers(workers, source.plan, options)
    pending: deque[tuple[list[RawRow], Callable[[], list[Outcome]]]] = deque()
    try:
        for batch in batches:
            pending.append((batch, pool.submit(batch)))
            if len(pending) > 2 * workers:
                done, answer = pending.popleft()
                yield done, answer()
        while pending:
            done, answer = pending.popleft()
            yield done, answer()
    finally:
        pool.close()


# -- importing -----------------------------------------------------------------------------

Progress = Callable[[int, int], None]  # (bytes read, bytes in the file)


def import_contacts(engine: Engine, path: Path, options: ImportOptions | None = None,
                    progress: Progress | None = None, *, who: str | None = None, via: str = "cli",
                    label: str | None = None) -> ImportResult:  # fmt: skip
    """Import the file; with ``who``, the audit log records who imported ``label`` (default: the file's name),
    through ``via``, with its counts, in the import's own transaction."""
    options = options or ImportOptions()
    with open_rows(path, options.mapping, options.registry) as source, engine.begin() as conn:
        plan = source.plan
        result = ImportResult(columns=list(plan.header), plan=plan)
        writer = ContactWriter(conn, utcnow())
        with closing(_parsed(source, options)) as parsed:  # on any error, the workers stop at once
            for batch, outcomes in parsed:
                _write(writer, plan, batch, outcomes, result)
                if progress is not None:
                    progress(source.position(), source.size)
        writer.close()
        if who is not None:
            with Session(bind=conn) as session:
                name = label or path.name
                audit.record(session, who, via, "contacts.import", f"import:{name}",
                             f"{name}: {result.summary()}, {len(result.warnings)} warning(s)")  # fmt: skip
                session.flush()
    return result


def import_records(engine: Engine, plan: HeaderPlan, rows: Sequence[RawRow], options: ImportOptions,
                   row_word: str = "item") -> ImportResult:  # fmt: skip
    """Rows already split into cells (the JSON API's contacts, numbered by their index), imported as a
    file's rows are: the same parsing, the same rule for a repeated email, the same upsert, in one
    transaction. ``result.outcomes`` says row by row ``created``, ``updated`` or ``rejected``."""
    with engine.begin() as conn:
        result = ImportResult(columns=list(plan.header), plan=plan, outcomes={}, row_word=row_word)
        writer = ContactWriter(conn, utcnow())
        for batch in _batches(iter(rows), BATCH):
            _write(writer, plan, batch, parse_rows(plan, options, batch, result.fields), result)
        writer.close()
    return result


def _write(writer: ContactWriter, plan: HeaderPlan, batch: list[RawRow], outcomes: list[Outcome],
           result: ImportResult) -> None:  # fmt: skip
    """One batch: duplicates of an earlier row rejected (the first one stays), the rest upserted."""
    earlier = writer.earlier(o[0]["email"] for o in outcomes if not isinstance(o, str))
    first: dict[str, int] = {}
    accepted: list[tuple[int, tuple[dict[str, Any], tuple[str, ...]]]] = []
    for (line, cells, _unusable), outcome in zip(batch, outcomes, strict=True):
        if not isinstance(outcome, str):
            email = outcome[0]["email"]
            seen = earlier.get(email, first.get(email))  # an API item's "line" is its index, from 0
            if seen is None:
                first[email] = line
                accepted.append((line, outcome))
                continue
            outcome = f"duplicate of {result.row_word} {seen} ({email})"
            result.fields[line] = "email"
        result.rejected.append((line, outcome, dict(zip(plan.header, cells, strict=False))))
        if result.outcomes is not None:
            result.outcomes[line] = "rejected"
    created = writer.write([(line, fields) for line, (fields, _warnings) in accepted])
    for line, (fields, warnings) in accepted:
        result.warnings.extend((line, w) for w in warnings)
        if "custom" in fields:
            result.custom_filled.update(i for i, key in plan.custom.items() if key in fields["custom"])
        new = fields["email"] in created
        if new:
            result.imported += 1
        else:
            result.updated += 1
        if result.outcomes is not None:
            result.outcomes[line] = "created" if new else "updated"


def write_warnings(result: ImportResult, out: Path) -> None:
    """Every warning (the contact was imported, a cell was not): row and what was left out."""
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        write_csv(fh, ["row", "warning"], ([line, warning] for line, warning in result.warnings))


def write_rejects(result: ImportResult, out: Path) -> None:
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        write_csv(fh, ["row", "reason", *result.columns],
                  ([line, reason, *(row.get(c, "") for c in result.columns)] for line, reason, row in result.rejected))
