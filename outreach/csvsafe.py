"""CSV that is safe to open in a spreadsheet, and readable from any spreadsheet.

Cells starting with ``= + - @`` or a tab/CR are run as formulas by Excel and
LibreOffice (CSV injection). We prefix them with an apostrophe on export and
strip exactly that prefix again on import, so a round trip is lossless.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import TextIO

from outreach.errors import InputError

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


def unneutralise(text: str) -> str:
    if text.startswith("'") and text[1:2] and text[1:].startswith(FORMULA_START):
        return text[1:]
    return text


def decode_spreadsheet_bytes(data: bytes, name: str) -> str:
    """Decode what Excel, LibreOffice or Google Sheets wrote: UTF-8 (BOM or not), UTF-16, CP1252."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: broken UTF-16 text at byte {exc.start}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data:
        raise InputError(f"{name}: this is not a CSV text file (it holds binary data)")
    return data.decode("cp1252", errors="replace")


def sniff_reader(text: str) -> csv.DictReader[str]:
    """A DictReader on ``text`` with the delimiter a spreadsheet used (`,` `;` or tab)."""
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    return csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)


def write_csv(out: TextIO, header: Sequence[str], rows: Iterable[Sequence[object]],
              lineterminator: str = "\r\n") -> None:  # fmt: skip
    """The header, then every row with each cell neutralised: the one way we write CSV for people."""
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
