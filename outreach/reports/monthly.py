"""Each sales executive's month: approached, replies, calls, visits and new prospects against the target.

Months are cut at midnight in the workspace timezone, not in UTC: a message
sent at 01:00 WIB on 1 December is December's work. Everything is counted
from the rows as they are, so the report says the same thing when run twice.

A new prospect contacted (``new_contacted``, the target's measure) is a prospect
whose first contact ever fell in the month: the first message sent to them, or
the first call that reached them (a follow-up outcome saying someone answered:
``REACHED``), whichever came first; it is credited to that message's sender or
that item's owner. The target is ``senders.KEY.target``, else
``targets.new_prospects_per_month``.
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
from outreach.storage.models import Campaign, Company, Contact, Event, FollowUp, Outbox

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


# follow-up outcomes that mean the person was reached by phone (no_answer, wrong_contact, wrong_number and
# left_company reached nobody: the last, someone else at the company)
REACHED = ("reached", "callback", "visit_scheduled", "not_interested", "confirmed", "updated")
FIGURES = ("approached", "replies", "calls", "reached", "visits", "visits_done", "new_prospects")


@dataclass(frozen=True)
class NewContact:
    """A prospect first contacted this month: who, when (naive UTC) and how (email or phone)."""

    email: str
    name: str
    company: str
    at: datetime
    how: str


@dataclass(frozen=True)
class ExecutiveMonth:
    key: str
    name: str
    approached: int
    replies: int
    calls: int
    visits: int  # visits scheduled (visit items made this month)
    new_prospects: int  # new prospects contacted: the first contact ever, by email or by phone
    target: int
    reached: int = 0  # contacts reached by phone
    visits_done: int = 0
    new_contacts: tuple[NewContact, ...] = ()

    @property
    def achieved(self) -> float | None:
        return percent(self.new_prospects, self.target)

    @property
    def new_contacted(self) -> int:
        return self.new_prospects

    def to_json(self) -> dict[str, object]:
        return {"key": self.key, "name": self.name, "target": self.target, "new_contacted": self.new_prospects,
                "approached": self.approached, "replies": self.replies, "calls": self.calls,
                "reached_by_phone": self.reached, "visits_scheduled": self.visits, "visits_done": self.visits_done,
                "achieved": None if self.achieved is None else round(self.achieved, 1)}  # fmt: skip


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
                              s("new_prospects"), s("target"), s("reached"), s("visits_done"))  # fmt: skip

    def to_json(self) -> dict[str, object]:
        """``senders``: key -> figures (``target``, ``new_contacted`` ...); ``executives``: the same as a list."""
        rows = [r.to_json() for r in self.rows]
        return {"month": self.month, "timezone": self.timezone, "senders": {r["key"]: r for r in rows},
                "executives": rows, "total": self.total.to_json()}  # fmt: skip


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


def target_of(ws: WorkspaceConfig, key: str) -> int:
    sender = ws.settings.senders.get(key)
    if sender is not None and sender.target is not None:
        return sender.target
    return ws.settings.targets.new_prospects_per_month


def monthly_report(ws: WorkspaceConfig, engine: Engine, month: str) -> MonthlyReport:
    start, end = month_bounds(month, ws.tz)
    with Session(engine) as session:
        new = _new_contacts(session, start, end)
        figures = {
            "approached": _approached(session, start, end),
            "replies": _replies(session, start, end),
            "calls": _calls(session, start, end),
            "reached": _reached(session, start, end),
            "visits": _visits(session, start, end),
            "visits_done": _visits_done(session, start, end),
            "new_prospects": Counter({key: len(found) for key, found in new.items()}),
        }
    rows = tuple(
        ExecutiveMonth(key=key, name=_exec_name(ws, key), target=target_of(ws, key),
                       new_contacts=tuple(new.get(key, ())),
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
    """Call and verify items whose outcome came back this month: the calls that were actually made."""
    return _counter(session.execute(
        select(FollowUp.owner, func.count())
        .where(FollowUp.queue.in_(("call", "verify")), FollowUp.outcome != "", FollowUp.updated_at >= start,
               FollowUp.updated_at < end)
        .group_by(FollowUp.owner)
    ))  # fmt: skip


def _visits(session: Session, start: datetime, end: datetime) -> Counter[str]:
    return _counter(session.execute(
        select(FollowUp.owner, func.count())
        .where(FollowUp.queue == "visit", FollowUp.created_at >= start, FollowUp.created_at < end)
        .group_by(FollowUp.owner)
    ))  # fmt: skip


def _outcome(field: str) -> Any:
    return Event.detail[field].as_string()


def _reached(session: Session, start: datetime, end: datetime) -> Counter[str]:
    """Distinct contacts a call reached this month (an outcome in ``REACHED``), per item owner."""
    item = Event.detail["followup"].as_integer()
    return _counter(session.execute(
        select(FollowUp.owner, func.count(distinct(Event.contact_id)))
        .join(FollowUp, FollowUp.id == item)
        .where(Event.kind == "outcome", Event.at >= start, Event.at < end, _outcome("outcome").in_(REACHED))
        .group_by(FollowUp.owner)
    ))  # fmt: skip


def _visits_done(session: Session, start: datetime, end: datetime) -> Counter[str]:
    """Visit items closed as done (outcome ``reached``) this month."""
    return _counter(session.execute(
        select(FollowUp.owner, func.count())
        .where(FollowUp.queue == "visit", FollowUp.outcome == "reached", FollowUp.state == "done",
               FollowUp.updated_at >= start, FollowUp.updated_at < end)
        .group_by(FollowUp.owner)
    ))  # fmt: skip


def _first_mails(session: Session, start: datetime, end: datetime) -> dict[int, tuple[datetime, str]]:
    """Prospects whose first message ever went out this month: (when, that message's sender)."""
    first = (
        select(Outbox.contact_id, func.min(Outbox.sent_at).label("first_at"))
        .where(Outbox.sent_at.is_not(None))
        .group_by(Outbox.contact_id)
        .subquery()
    )
    rows = session.execute(
        select(Outbox.contact_id, first.c.first_at, Campaign.sender)
        .join(first, (first.c.contact_id == Outbox.contact_id) & (first.c.first_at == Outbox.sent_at))
        .join(Campaign, Campaign.id == Outbox.campaign_id)
        .join(Contact, Contact.id == Outbox.contact_id)
        .where(Contact.status == "prospect", first.c.first_at >= start, first.c.first_at < end)
        .order_by(Outbox.contact_id, Outbox.id)
    )
    out: dict[int, tuple[datetime, str]] = {}
    for contact_id, at, sender in rows:
        out.setdefault(contact_id, (at, sender))  # two messages in the same second: the first row wins
    return out


def _first_calls(session: Session, start: datetime, end: datetime) -> dict[int, tuple[datetime, str]]:
    """Prospects a call first reached this month: (when, the item's owner, else the contact's)."""
    item = Event.detail["followup"].as_integer()
    first = (
        select(Event.contact_id, func.min(Event.at).label("first_at"))
        .where(Event.kind == "outcome", Event.contact_id.is_not(None), _outcome("outcome").in_(REACHED))
        .group_by(Event.contact_id)
        .subquery()
    )
    rows = session.execute(
        select(Event.contact_id, first.c.first_at, FollowUp.owner, Contact.owner)
        .join(first, (first.c.contact_id == Event.contact_id) & (first.c.first_at == Event.at))
        .join(Contact, Contact.id == Event.contact_id)
        .outerjoin(FollowUp, FollowUp.id == item)
        .where(Event.kind == "outcome", Contact.status == "prospect", first.c.first_at >= start,
               first.c.first_at < end)
        .order_by(Event.contact_id, Event.id)
    )  # fmt: skip
    out: dict[int, tuple[datetime, str]] = {}
    for contact_id, at, item_owner, contact_owner in rows:
        out.setdefault(contact_id, (at, item_owner or contact_owner or ""))
    return out


def _new_contacts(session: Session, start: datetime, end: datetime) -> dict[str, list[NewContact]]:
    """Per executive, the prospects whose first contact ever, by email or by phone, fell in the month."""
    mails, calls = _first_mails(session, start, end), _first_calls(session, start, end)
    # contacted one way this month but the other way before it: not new
    mailed_before = set(session.scalars(select(Outbox.contact_id).where(
        Outbox.contact_id.in_(list(calls)), Outbox.sent_at.is_not(None), Outbox.sent_at < start))) if calls else set()
    called_before = set(session.scalars(select(Event.contact_id).where(
        Event.contact_id.in_(list(mails)), Event.kind == "outcome", Event.at < start,
        _outcome("outcome").in_(REACHED)))) if mails else set()  # fmt: skip
    firsts: dict[int, tuple[datetime, str, str]] = {}
    for cid, (at, key) in mails.items():
        if cid not in called_before:
            firsts[cid] = (at, key, "email")
    for cid, (at, key) in calls.items():
        if cid not in mailed_before and (cid not in firsts or at < firsts[cid][0]):
            firsts[cid] = (at, key, "phone")
    people = {cid: (email, f"{first} {last}".strip(), company or "") for cid, email, first, last, company in
              session.execute(select(Contact.id, Contact.email, Contact.first_name, Contact.last_name, Company.name)
                              .outerjoin(Company, Company.id == Contact.company_id)
                              .where(Contact.id.in_(list(firsts))))} if firsts else {}  # fmt: skip
    out: dict[str, list[NewContact]] = {}
    for cid, (at, key, how) in sorted(firsts.items(), key=lambda kv: kv[1][0]):
        email, name, company = people.get(cid, ("", "", ""))
        out.setdefault(key or "", []).append(NewContact(email, name, company, at, how))
    return out


def monthly_text(report: MonthlyReport, today: date | None = None) -> str:
    """Fixed-width plain text: one line per executive, then the total."""
    head = (f"{'executive':<28}{'approached':>11}{'replies':>9}{'calls':>7}{'reached':>9}{'visits':>8}"
            f"{'done':>6}{'new prospects':>15}{'target':>8}{'achieved':>10}")  # fmt: skip
    out = [f"Monthly report {report.month} ({report.timezone})", "", head]
    for r in (*report.rows, report.total):
        who = r.name if r.key in ("total", r.name, "") else f"{r.key} ({r.name})"
        if r.key == "total":
            out.append("-" * len(head))
        out.append(f"{_fit(who, 27):<28}{r.approached:>11}{r.replies:>9}{r.calls:>7}{r.reached:>9}{r.visits:>8}"
                   f"{r.visits_done:>6}{r.new_prospects:>15}{r.target:>8}{fmt_percent(r.achieved):>10}")  # fmt: skip
    out += ["", "calls: call outcomes recorded; reached: contacts reached by phone; visits: scheduled, done: "
                "held; new prospects: first contacted this month, by email or by phone"]  # fmt: skip
    return "\n".join(out) + "\n"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
