"""Sending windows: business hours applied in each contact's own timezone.

A Jakarta office and a Makassar office open an hour apart; a message outside
its recipient's window waits for the next opening. zoneinfo does the DST
arithmetic (for contacts in zones that have it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
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


def add_business_days(start: date, days: int) -> date:
    d = start
    while days > 0:
        d += timedelta(days=1)
        if d.weekday() < 5:
            days -= 1
    return d
