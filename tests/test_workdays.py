"""The business calendar: Monday to Friday without public holidays and cuti bersama (holidays package)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from helpers import invoke

from outreach.settings.workspace import load_workspace
from outreach.workdays import WEEKDAYS, BusinessCalendar

INDONESIA = BusinessCalendar("ID")


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        (date(2026, 3, 16), 1, date(2026, 3, 17)),   # an ordinary Monday
        (date(2026, 3, 17), 1, date(2026, 3, 25)),   # cuti bersama, Nyepi, Lebaran and its cuti bersama until Tue 24
        (date(2026, 12, 23), 1, date(2026, 12, 28)),  # Christmas Eve (cuti bersama) and Christmas
        (date(2026, 8, 14), 1, date(2026, 8, 18)),   # Fri -> Tue: Monday 17 is Independence Day
        (date(2026, 11, 27), 3, date(2026, 12, 2)),  # an ordinary week: Mon, Tue, Wed
        (date(2026, 11, 27), 0, date(2026, 11, 27)),
    ],
)  # fmt: skip
def test_indonesian_working_days(start: date, days: int, due: date) -> None:
    assert INDONESIA.add(start, days) == due


def test_why_a_day_is_off() -> None:
    assert INDONESIA.holiday_name(date(2026, 3, 23)) == "Eid al-Fitr Joint Holiday"
    assert INDONESIA.holiday_name(date(2026, 11, 28)) == "weekend"
    assert INDONESIA.holiday_name(date(2026, 11, 26)) is None
    assert WEEKDAYS.add(date(2026, 3, 19), 1) == date(2026, 3, 20)


def test_country_and_company_days_off_are_settings(example_ws: Path) -> None:
    settings = example_ws / "outreach.yaml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text + "calendar:\n  country: SG\n  holidays: [2026-12-31]\n", encoding="utf-8")
    cal = BusinessCalendar.of(load_workspace(example_ws).settings.calendar)
    assert cal.add(date(2026, 12, 30), 1) == date(2027, 1, 4)  # company day off, New Year, weekend
    assert cal.add(date(2026, 3, 19), 1) == date(2026, 3, 20)  # Singapore works through Nyepi
    settings.write_text(text + "calendar:\n  country: XX\n", encoding="utf-8")
    result = invoke("segments", "list", ws=example_ws)
    assert result.exit_code == 1
    assert result.stderr.endswith("calendar: country 'XX' is not known to the holidays package (use a code like "
                                  "ID, SG, MY, or null for weekends only)\n")
