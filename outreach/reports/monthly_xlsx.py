"""The month as the supervisor's workbook: a summary sheet, then one sheet per sales executive.

Figures are numbers; every text cell (names, companies, addresses) is stored as
text, never as a formula, whatever it starts with (a company named ``=HYPERLINK(...)``
stays text). Times are in the workspace timezone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from outreach.reports.monthly import ExecutiveMonth, MonthlyReport

SUMMARY = ("Executive", "Key", "Target", "New prospects contacted", "Achieved %", "Approached", "Replies", "Calls",
           "Reached by phone", "Visits scheduled", "Visits done")  # fmt: skip
_BAD_TITLE = re.compile(r"[\[\]:*?/\\]")


def _figures(r: ExecutiveMonth) -> list[Any]:
    achieved = None if r.achieved is None else round(r.achieved, 1)
    return [r.name, r.key, r.target, r.new_prospects, achieved, r.approached, r.replies, r.calls, r.reached,
            r.visits, r.visits_done]  # fmt: skip


def _append(sheet: Any, values: list[Any], bold: bool = False) -> None:
    from openpyxl.styles import Font

    sheet.append(["" if v is None else v for v in values])
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"  # text, never a formula
        if bold:
            cell.font = Font(bold=True)


def _title(name: str, taken: set[str]) -> str:
    base = _BAD_TITLE.sub(" ", name).strip()[:28] or "executive"
    title, n = base, 2
    while title.casefold() in taken:
        title, n = f"{base[:25]} ({n})", n + 1
    taken.add(title.casefold())
    return title


def write_monthly_xlsx(report: MonthlyReport, out: Path, organization: str) -> None:
    from openpyxl import Workbook

    book = Workbook()
    summary = book.active
    summary.title = "Summary"
    _append(summary, [f"{organization}: monthly report {report.month} ({report.timezone})"], bold=True)
    _append(summary, [])
    _append(summary, list(SUMMARY), bold=True)
    for r in report.rows:
        _append(summary, _figures(r))
    _append(summary, _figures(report.total), bold=True)
    summary.freeze_panes = "A4"
    _widths(summary, (28, 12, 8, 24, 11, 11, 8, 7, 16, 16, 11))
    taken = {"summary"}
    tz = ZoneInfo(report.timezone)
    for r in report.rows:
        sheet = book.create_sheet(_title(r.name, taken))
        _append(sheet, [f"{r.name} ({r.key or 'unassigned'}): {report.month}"], bold=True)
        _append(sheet, [])
        for label, value in zip(SUMMARY[2:], _figures(r)[2:], strict=True):
            _append(sheet, [label, value])
        _append(sheet, [])
        _append(sheet, ["New prospects contacted", "Name", "Company", "First contact", "By"], bold=True)
        for c in r.new_contacts:
            local = c.at.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).strftime("%Y-%m-%d %H:%M")
            _append(sheet, [c.email, c.name, c.company, local, c.how])
        _widths(sheet, (34, 26, 30, 17, 8))
    book.save(out)


def _widths(sheet: Any, widths: tuple[int, ...]) -> None:
    from openpyxl.utils import get_column_letter

    for i, width in enumerate(widths, 1):
        sheet.column_dimensions[get_column_letter(i)].width = width
