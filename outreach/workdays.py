"""The business calendar: working days (public holidays and cuti bersama off) and sending windows.

Working days are Monday to Friday without the country's public holidays, which
the ``holidays`` package knows (for Indonesia also the cuti bersama, the joint
leave days the government declares around Lebaran and Christmas, when offices
are closed): a follow-up due "1 business day" after a reply on the eve of
Lebaran is due after the holiday, not in the middle of it.

Sending windows are business hours applied in each contact's own timezone: a
Jakarta office and a Makassar office open an hour apart; a message outside its
recipient's window waits for the next opening. zoneinfo does the DST
arithmetic (for contacts in zones that have it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class SendingWindow:
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time

    @classmethod
    def parse(cls, days: str, hours: str) -> SendingWindow:
        return cls(parse_days(days), *parse_hours(hours))

    def contains(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def next_open(self, now_utc: datetime, tz: ZoneInfo) -> datetime:
        """``now_utc`` if inside the window, else the next opening (naive UTC in, naive UTC out)."""
        local = now_utc.replace(tzinfo=UTC).astimezone(tz)
        if self.contains(local):
            return now_utc
        for offset in range(0, 8):
            day = (local + timedelta(days=offset)).date()
            if day.weekday() not in self.days:
                continue
            opening = datetime.combine(day, self.start, tzinfo=tz)
            if opening > local:
                return opening.astimezone(UTC).replace(tzinfo=None)
        raise ValueError("a sending window must have at least one day")


def parse_days(text: str) -> frozenset[int]:
    out: set[int] = set()
    for part in str(text).lower().replace(" ", "").split(","):
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            i, j = _day(a), _day(b)
            out.update(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
        else:
            out.add(_day(part))
    if not out:
        raise ValueError("no days given")
    return frozenset(out)


def _day(name: str) -> int:
    key = name[:3]
    if key not in DAYS:
        raise ValueError(f"{name!r} is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)")
    return DAYS.index(key)


def parse_hours(text: str) -> tuple[time, time]:
    m = _HOURS.match(str(text))
    if not m:
        raise ValueError(f"{text!r} is not an hours range like 08:00-17:00")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h2 == 24 and m2 == 0:
        h2, m2 = 23, 59
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ValueError(f"{text!r} has an impossible time") from None
    if not start < end:
        raise ValueError(f"{text!r}: the window must end after it starts")
    return start, end


class CalendarSettings(Protocol):
    """What the workspace's ``calendar:`` settings give (settings.config.Calendar)."""

    @property
    def country(self) -> str | None: ...
    @property
    def subdivision(self) -> str | None: ...
    @property
    def categories(self) -> tuple[str, ...] | None: ...
    @property
    def holidays(self) -> tuple[date, ...]: ...


@dataclass(frozen=True)
class BusinessCalendar:
    """Monday to Friday, without public holidays (and cuti bersama) of ``country`` and ``extra`` days off."""

    country: str | None = None
    subdivision: str | None = None
    categories: tuple[str, ...] | None = None
    extra: frozenset[date] = frozenset()

    @classmethod
    def of(cls, settings: CalendarSettings) -> BusinessCalendar:
        return cls(settings.country, settings.subdivision, settings.categories, frozenset(settings.holidays))

    def is_workday(self, day: date) -> bool:
        if day.weekday() >= 5 or day in self.extra:
            return False
        return self.country is None or day not in _holidays(self.country, self.subdivision, self.categories)

    def holiday_name(self, day: date) -> str | None:
        """Why ``day`` is not a working day ("Eid al-Fitr Joint Holiday", "weekend"), or None."""
        if day in self.extra:
            return "company holiday"
        if self.country is not None:
            name = _holidays(self.country, self.subdivision, self.categories).get(day)
            if name:
                return str(name)
        return "weekend" if day.weekday() >= 5 else None

    def add(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself when ``days`` is 0)."""
        d = start
        while days > 0:
            d += timedelta(days=1)
            if self.is_workday(d):
                days -= 1
        return d

    def add_to(self, moment: datetime, days: int) -> datetime:
        """``moment`` (aware) moved ``days`` working days on, at the same wall-clock time."""
        return datetime.combine(self.add(moment.date(), days), moment.timetz())


WEEKDAYS = BusinessCalendar(country=None)  # Monday to Friday, no holidays


@lru_cache(maxsize=16)
def _holidays(country: str, subdivision: str | None, categories: tuple[str, ...] | None) -> Any:
    """The holidays package's calendar (it fills in each year on first use, then remembers it)."""
    import holidays

    cal = holidays.country_holidays(country, subdiv=subdivision)
    if categories is None:
        supported = getattr(cal, "supported_categories", ("public",))
        categories = tuple(c for c in ("public", "government") if c in supported)
    return holidays.country_holidays(country, subdiv=subdivision, categories=categories)


def add_business_days(start: date, days: int, calendar: BusinessCalendar = WEEKDAYS) -> date:
    return calendar.add(start, days)
