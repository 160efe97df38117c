"""Each sales executive's month: approached, replies, calls, visits and new prospects against the target.

Months are cut at midnight in the workspace timezone, not in UTC: a message
sent at 01:00 WIB on 1 December is December's work. Everything is counted
from the rows as they are, so the report says the same thing when run twice.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, distinct, func, select
from sqlalchemy.orm import Session

from outreach.errors import InputError
from outreach.reports.campaign import fmt_percent, percent
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage.models import Campaign, Contact, Event, FollowUp, Outbox

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class ExecutiveMonth:
    key: str
    name: str
    approached: int
    replies: int
    calls: int
    visits: int
    new_prospects: int
    target: int

    @property
    def achieved(self) -> float | None:
        return percent(self.new_prospects, self.target)


@dataclass(frozen=True)
class MonthlyReport:
    month: str
    timezone: str
    rows: tuple[ExecutiveMonth, ...]

    @property
    def total(self) -> ExecutiveMonth:
        def s(attr: str) -> int:
            return sum(getattr(r, attr) for r in self.rows)

        return ExecutiveMonth("total", "Total", s("approached"), s("replies"), s("calls"), s("visits"),
                              s("new_prospects"), s("target"))  # fmt: skip


def parse_month(text: str) -> tuple[int, int]:
    m = _MONTH.match(text.strip())
    if not m:
        raise InputError(f"month {text!r} is not YYYY-MM (e.g. 2026-11)")
    return int(m.group(1)), int(m.group(2))


def month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The month's first and next month's first midnight in ``tz``, as naive UTC like the database."""
    year, mon = parse_month(month)
    nxt = (year + 1, 1) if mon == 12 else (year, mon + 1)

    def utc(y: int, m: int) -> datetime:
        return datetime(y, m, 1, tzinfo=tz).astimezone(UTC).replace(tzinfo=None)

    return utc(year, mon), utc(*nxt)


def monthly_report(ws: WorkspaceConfig, engine: Engine, month: str) -> MonthlyReport:
    start, end = month_bounds(month, ws.tz)
    with Session(engine) as session:
        figures = {
            "approached": _approached(session, start, end),
            "replies": _replies(session, start, end),
            "calls": _calls(session, start, end),
            "visits": _visits(session, start, end),
            "new_prospects": _new_prospects(session, start, end),
        }
    target = ws.settings.targets.new_prospects
    rows = tuple(
        ExecutiveMonth(key=key, name=_exec_name(ws, key), target=target,
                       **{figure: counts.get(key, 0) for figure, counts in figures.items()})  # fmt: skip
        for key in _executives(ws, figures.values())
    )
    year, mon = parse_month(month)
    return MonthlyReport(month=f"{year:04d}-{mon:02d}", timezone=ws.settings.timezone, rows=rows)


def _executives(ws: WorkspaceConfig, figures: Iterable[Counter[str]]) -> list[str]:
    """The configured senders (in outreach.yaml's order), then anyone else who had activity."""
    known = list(ws.settings.senders)
    others = {key for counts in figures for key, n in counts.items() if n and key not in known}
    return known + sorted(others)


def _exec_name(ws: WorkspaceConfig, key: str) -> str:
    sender = ws.settings.senders.get(key)
    if sender is not None:
        return sender.name
    return key or "(unassigned)"


def _counter(rows: Iterable[Any]) -> Counter[str]:
    """(key, count) rows as a Counter; a NULL or empty owner is the unassigned row ''."""
    counts: Counter[str] = Counter()
    for key, n in rows:
        counts[key or ""] += n
    return counts


def _approached(session: Session, start: datetime, end: datetime) -> Counter[str]:
    """Distinct contacts who got a message this month, per sending executive."""
    return _counter(session.execute(
        select(Campaign.sender, func.count(distinct(Outbox.contact_id)))
        .join(Campaign, Campaign.id == Outbox.campaign_id)
        .where(Outbox.sent_at >= start, Outbox.sent_at < end)
        .group_by(Campaign.sender)
    ))  # fmt: skip


def _replies(session: Session, start: datetime, end: datetime) -> Counter[str]:
    return _counter(session.execute(
        select(Campaign.sender, func.count(Event.id))
        .join(Campaign, Campaign.id == Event.campaign_id)
        .where(Event.kind == "replied", Event.at >= start, Event.at < end)
        .group_by(Campaign.sender)
    ))  # fmt: skip


def _calls(session: Session, start: datetime, end: datetime) -> Counter[str]:
    """Call items whose outcome came back this month: the calls that were actually made."""
    return _counter(session.execute(
        select(FollowUp.owner, func.count())
        .where(FollowUp.queue == "call", FollowUp.outcome != "", FollowUp.updated_at >= start,
               FollowUp.updated_at < end)
        .group_by(FollowUp.owner)
    ))  # fmt: skip


def _visits(session: Session, start: datetime, end: datetime) -> Counter[str]:
    return _counter(session.execute(
        select(FollowUp.owner, func.count())
        .where(FollowUp.queue == "visit", FollowUp.created_at >= start, FollowUp.created_at < end)
        .group_by(FollowUp.owner)
    ))  # fmt: skip


def _new_prospects(session: Session, start: datetime, end: datetime) -> Counter[str]:
    """Prospects whose first message ever went out this month, credited to that message's sender."""
    first = (
        select(Outbox.contact_id, func.min(Outbox.sent_at).label("first_at"))
        .where(Outbox.sent_at.is_not(None))
        .group_by(Outbox.contact_id)
        .subquery()
    )
    rows = session.execute(
        select(Outbox.contact_id, Campaign.sender)
        .join(first, (first.c.contact_id == Outbox.contact_id) & (first.c.first_at == Outbox.sent_at))
        .join(Campaign, Campaign.id == Outbox.campaign_id)
        .join(Contact, Contact.id == Outbox.contact_id)
        .where(Contact.status == "prospect", first.c.first_at >= start, first.c.first_at < end)
        .order_by(Outbox.contact_id, Outbox.id)
    )
    credited: dict[int, str] = {}
    for contact_id, sender in rows:
        credited.setdefault(contact_id, sender)  # two messages in the same second: the first row wins
    return Counter(credited.values())


def monthly_text(report: MonthlyReport, today: date | None = None) -> str:
    """Fixed-width plain text: one line per executive, then the total."""
    head = (f"{'executive':<28}{'approached':>11}{'replies':>9}{'calls':>7}{'visits':>8}"
            f"{'new prospects':>15}{'target':>8}{'achieved':>10}")  # fmt: skip
    out = [f"Monthly report {report.month} ({report.timezone})", "", head]
    for r in (*report.rows, report.total):
        who = r.name if r.key in ("total", r.name, "") else f"{r.key} ({r.name})"
        if r.key == "total":
            out.append("-" * len(head))
        out.append(f"{_fit(who, 27):<28}{r.approached:>11}{r.replies:>9}{r.calls:>7}{r.visits:>8}"
                   f"{r.new_prospects:>15}{r.target:>8}{fmt_percent(r.achieved):>10}")  # fmt: skip
    return "\n".join(out) + "\n"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
