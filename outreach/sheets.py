"""Spreadsheets people open: CSV safe to open in Excel, readable from any spreadsheet, and .xlsx.

Cells starting with ``= + - @`` or a tab/CR are run as formulas by Excel and
LibreOffice (CSV injection). We prefix them with an apostrophe on export and
strip exactly that prefix again on import, so a round trip is lossless.

One exception: a phone number in E.164 (``+6281234567890``: a plus, then only
digits and spaces) is written as it is. As a "formula" it can only be a number
(no function, no reference, no DDE), so it is no injection; quoted it would
reach the caller as ``'+62…``. Excel may still show such a CSV cell as a
number (6.28123E+12), which is why callers are given the .xlsx export, where
every text cell is a string. In a
workbook, a string that starts like a formula is stored as a string cell, so
Excel shows it and never runs it; numbers and dates the callers type come back
as text the importer understands.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import functools
import io
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any, TextIO

from outreach.errors import InputError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE = re.compile(r"\+[0-9][0-9 ]*")


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _PHONE.fullmatch(text):
        return "'" + text
    return text


def unneutralise(text: str) -> str:
    if text.startswith("'") and text[1:2] and text[1:].startswith(FORMULA_START):
        return text[1:]
    return text


def decode_spreadsheet_bytes(data: bytes, name: str) -> str:
    """Decode what Excel, LibreOffice or Google Sheets wrote: UTF-8 (BOM or not), UTF-16, CP1252."""
    return data.decode(spreadsheet_encoding([data], name), errors="replace")


def spreadsheet_encoding(chunks: Iterable[bytes], name: str) -> str:
    """Which of UTF-16 (by its BOM), UTF-8 (BOM or not) or CP1252 a spreadsheet's bytes are in.

    The bytes come in chunks, so a file of any size is checked in constant memory
    (``open_spreadsheet``): UTF-8 only if every byte decodes, else CP1252, unless
    the file holds NUL bytes (binary, e.g. an .xlsx renamed to .csv).
    """
    it = iter(chunks)
    first = b""
    for chunk in it:  # enough for a byte order mark
        first += chunk
        if len(first) >= 2:
            break
    if first.startswith((b"\xff\xfe", b"\xfe\xff")):
        _check_utf16(itertools.chain([first], it), name)
        return "utf-16"
    utf8: codecs.IncrementalDecoder | None = codecs.getincrementaldecoder("utf-8-sig")()
    binary = False
    for chunk in itertools.chain([first], it):
        binary = binary or b"\x00" in chunk
        utf8 = _still_decodes(utf8, chunk)
        if utf8 is None and binary:
            break
    if utf8 is not None and _still_decodes(utf8, b"", final=True) is not None:
        return "utf-8-sig"
    if binary:
        raise InputError(f"{name}: this is not a CSV text file (it holds binary data)")
    return "cp1252"


def _still_decodes(decoder: codecs.IncrementalDecoder | None, chunk: bytes,
                   final: bool = False) -> codecs.IncrementalDecoder | None:  # fmt: skip
    if decoder is None:
        return None
    try:
        decoder.decode(chunk, final)
    except UnicodeDecodeError:
        return None
    return decoder


def _check_utf16(chunks: Iterable[bytes], name: str) -> None:
    decoder = codecs.getincrementaldecoder("utf-16")()
    offset = 0  # bytes handed to the decoder before this chunk
    for chunk in itertools.chain(chunks, [b""]):
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: broken UTF-16 text at byte {offset - pending + exc.start}") from None
        offset += len(chunk)


def open_spreadsheet(path: Path, chunk: int = 1 << 20) -> TextIO:
    """A CSV file opened as text in the encoding its bytes are in, read once in chunks to find it
    (``spreadsheet_encoding``) and then streamed: nothing holds the whole file."""
    with path.open("rb") as fh:
        encoding = spreadsheet_encoding(iter(functools.partial(fh.read, chunk), b""), str(path))
    return path.open(encoding=encoding, errors="replace", newline="")


def sniff_delimiter(text: str) -> str:
    """The delimiter a spreadsheet used (`,` `;` or tab), the most frequent in the first line that
    has any (LinkedIn puts a line of notes without one above its header)."""
    for line in text.split("\n", 10)[:10]:
        counts = {d: line.count(d) for d in (",", ";", "\t")}
        if any(counts.values()):
            return max(counts, key=lambda d: counts[d])
    return ","


def sniff_file_delimiter(fh: TextIO, limit: int = 1 << 20) -> str:
    """``sniff_delimiter`` on the first lines of an open file (at most ``limit`` characters), which is
    then rewound to its start."""
    head = ""
    while head.count("\n") < 10 and len(head) < limit:
        more = fh.read(64 * 1024)
        if not more:
            break
        head += more
    fh.seek(0)
    return sniff_delimiter(head)


def sniff_reader(text: str) -> csv.DictReader[str]:
    """A DictReader on ``text`` with the delimiter a spreadsheet used (`,` `;` or tab)."""
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=sniff_delimiter(text))


def write_csv(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[object]],
              lineterminator: str = "\r\n") -> None:  # fmt: skip
    """The header, then every row with each cell neutralised: the one way we write CSV for people."""
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(v) for v in row])



def write_xlsx(header: Sequence[str], rows: Sequence[Sequence[object]], out: Path, title: str) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(["" if v is None else v for v in row])
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for i, name in enumerate(header, 1):
        width = max([len(str(name)), *(len(str(r[i - 1] or "")) for r in rows)])
        sheet.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 8), 60)
    book.save(out)


def _open_book(path: Path | IO[bytes]) -> Any:
    """A workbook opened read-only (rows streamed, not loaded), values as last saved (no formulas run).
    Given an open file, whatever the file's name (openpyxl refuses a path not named .xlsx)."""
    from openpyxl import load_workbook

    try:
        return load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise InputError("file not found", path=path if isinstance(path, Path) else None) from None
    except Exception as exc:  # noqa: BLE001 - zipfile/openpyxl raise many kinds for a broken file
        where = path if isinstance(path, Path) else getattr(path, "name", None)  # an open file's name is its path
        raise InputError(f"not a readable .xlsx workbook ({type(exc).__name__})", path=where) from None


def read_xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Header (lowercased) and (row number, row) pairs of the first sheet, every value as text."""
    book = _open_book(path)
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = [_text(v).strip().lower() for v in next(rows, ())]

    def body() -> Iterator[tuple[int, dict[str, str]]]:
        for number, values in enumerate(rows, start=2):
            yield number, {h: _text(v) for h, v in zip(header, values, strict=False) if h}
        book.close()

    return header, body()


@contextlib.contextmanager
def xlsx_rows(path: Path) -> Iterator[tuple[Iterator[tuple[int, list[str]]], int | None]]:
    """The first sheet of a workbook as (row number, cells as text), streamed; and how many rows the sheet
    says it has (None when it does not say). Dates become ISO text (``2026-05-12``; with a time of day,
    ``2026-05-12 14:30``), whole numbers lose their ``.0``: what a CSV export of the sheet would hold."""
    with path.open("rb") as fh:
        book = _open_book(fh)
        try:
            sheet = book.worksheets[0]
            rows = ((n, [cell_text(v) for v in values]) for n, values in enumerate(sheet.iter_rows(values_only=True),
                                                                                    1))  # fmt: skip
            yield rows, sheet.max_row
        finally:
            book.close()


def cell_text(value: object) -> str:
    """A workbook cell as the text a person typed: a date without a time of day is a date."""
    if isinstance(value, datetime) and value.time() == time(0, 0):
        return value.date().isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return _text(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
