"""The callers' list as an Excel workbook, and reading it back.

A string that starts like a formula is stored as a string cell, so Excel
shows it and never runs it; numbers and dates the callers type come back as
text the importer understands.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path

from outreach.errors import InputError


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


def read_xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, dict[str, str]]]]:
    """Header (lowercased) and (row number, row) pairs of the first sheet, every value as text."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except Exception as exc:  # noqa: BLE001 - zipfile/openpyxl raise many kinds for a broken file
        raise InputError(f"{path}: not a readable .xlsx workbook ({type(exc).__name__})") from None
    rows = book.worksheets[0].iter_rows(values_only=True)
    header = [_text(v).strip().lower() for v in next(rows, ())]

    def body() -> Iterator[tuple[int, dict[str, str]]]:
        for number, values in enumerate(rows, start=2):
            yield number, {h: _text(v) for h, v in zip(header, values, strict=False) if h}
        book.close()

    return header, body()


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
