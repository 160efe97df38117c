"""Results: one campaign's funnel, and each sales executive's month.

Everything is counted from the database rows as they are (outbox, events,
follow-ups), never from counters kept on the side, so a report run twice or
after a re-import says the same thing. Events are counted once per message
(a contact who replies twice is one reply in the funnel), and the month
report cuts months at midnight in the workspace timezone, not in UTC: a
message sent at 01:00 WIB on 1 December is December's work.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, distinct, func, select
from sqlalchemy.orm import Session

from outreach.campaigns.status import built_campaign
from outreach.config import Workspace
from outreach.errors import InputError, OutreachError
from outreach.followups import OUTCOMES
from outreach.storage.models import Campaign, Contact, Event, FollowUp, Outbox

FUNNEL = (
    ("targeted", "Targeted"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("bounced_hard", "Bounced (hard)"),
    ("bounced_soft", "Bounced (soft)"),
    ("complained", "Complaints"),
    ("replied", "Replied"),
    ("auto_replied", "Auto-replies"),
    ("unsubscribed", "Unsubscribed"),
    ("failed", "Failed"),
    ("call", "Promoted to call"),
    ("visit", "Promoted to visit"),
)
NO_RATE = ("targeted", "sent")  # rates are shares of what was sent
EVENT_KEYS = {"replied": "replied", "auto_reply": "auto_replied", "unsubscribed": "unsubscribed",
              "complained": "complained"}  # fmt: skip
OUTCOME_LABELS = {
    "reached": "Reached", "no_answer": "No answer", "callback": "Call back",
    "visit_scheduled": "Visit scheduled", "not_interested": "Not interested", "wrong_contact": "Wrong contact",
}  # fmt: skip
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def fmt_percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


# -- one campaign -------------------------------------------------------------------


@dataclass(frozen=True)
class VariantRow:
    """One A/B subject line: how many got it and how many answered."""

    label: str
    subject: str
    sent: int
    replied: int

    @property
    def reply_rate(self) -> float | None:
        return percent(self.replied, self.sent)


@dataclass(frozen=True)
class CampaignReport:
    campaign: str
    state: str
    sender: str
    funnel: dict[str, int]
    outcomes: dict[str, int]  # outcome -> follow-ups with that outcome, in OUTCOMES order
    awaiting: int  # follow-ups without an outcome yet
    variants: tuple[VariantRow, ...]
    # bounces that blame the sending side (spam, blocked, policy, authentication...), and DMARC
    # failure reports, by reason: the relay, the domain or the content is at fault, not the list
    sender_problems: dict[str, int] = field(default_factory=dict)

    def rate(self, key: str) -> float | None:
        """The share of sent messages, in percent (None for the base rows or when nothing was sent)."""
        return None if key in NO_RATE else percent(self.funnel[key], self.funnel["sent"])


def campaign_report(engine: Engine, name: str, ws: Workspace | None = None) -> CampaignReport:
    """Count the funnel of campaign ``name``; ``ws`` (optional) supplies the A/B subject texts."""
    with Session(engine) as session:
        row = built_campaign(session, name)
        funnel = _outbox_counts(session, row.id)
        funnel.update(_event_counts(session, row.id))
        funnel["delivered"] = max(funnel["sent"] - funnel["bounced_hard"] - funnel["bounced_soft"], 0)
        funnel.update(_followup_queues(session, row.id))
        outcomes, awaiting = _outcomes(session, row.id)
        variants = _variants(session, row.id, _subjects(ws, name))
        problems = _sender_problems(session, row.id)
    return CampaignReport(
        campaign=name, state=row.state, sender=row.sender, funnel={k: funnel[k] for k, _ in FUNNEL},
        outcomes=outcomes, awaiting=awaiting, variants=variants, sender_problems=problems,
    )  # fmt: skip


def _outbox_counts(session: Session, campaign_id: int) -> dict[str, int]:
    states = dict(session.execute(
        select(Outbox.state, func.count()).where(Outbox.campaign_id == campaign_id).group_by(Outbox.state)
    ).all())  # fmt: skip
    return {"targeted": sum(states.values()), "sent": states.get("sent", 0), "failed": states.get("failed", 0)}


def _event_key(outbox_id: int | None, contact_id: int | None, event_id: int) -> tuple[str, int]:
    """What an event is counted once per: its message, else its contact, else itself."""
    if outbox_id is not None:
        return ("message", outbox_id)
    if contact_id is not None:
        return ("contact", contact_id)
    return ("event", event_id)


def _event_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Distinct messages per event kind; a bounce is hard when any bounce of that message was."""
    seen: dict[str, set[tuple[str, int]]] = {key: set() for key in EVENT_KEYS.values()}
    bounces: dict[tuple[str, int], bool] = {}
    rows = session.execute(
        select(Event.kind, Event.outbox_id, Event.contact_id, Event.id, Event.detail)
        .where(Event.campaign_id == campaign_id, Event.kind.in_(("bounced", *EVENT_KEYS)))
        .execution_options(yield_per=1000)
    )
    for kind, outbox_id, contact_id, event_id, detail in rows:
        key = _event_key(outbox_id, contact_id, event_id)
        if kind == "bounced":
            bounces[key] = bounces.get(key, False) or bool((detail or {}).get("hard"))
        else:
            seen[EVENT_KEYS[kind]].add(key)
    hard = sum(bounces.values())
    return {"bounced_hard": hard, "bounced_soft": len(bounces) - hard, **{k: len(v) for k, v in seen.items()}}


def _sender_problems(session: Session, campaign_id: int) -> dict[str, int]:
    """Distinct messages per reason among the bounces and auth-failure reports that ingest marked
    ``category: sender``, most frequent first."""
    seen: dict[str, set[tuple[str, int]]] = {}
    rows = session.execute(
        select(Event.outbox_id, Event.contact_id, Event.id, Event.detail)
        .where(Event.campaign_id == campaign_id, Event.kind.in_(("bounced", "auth_failure")))
        .execution_options(yield_per=1000)
    )
    for outbox_id, contact_id, event_id, detail in rows:
        if (detail or {}).get("category") == "sender":
            reason = str(detail.get("reason") or "other")
            seen.setdefault(reason, set()).add(_event_key(outbox_id, contact_id, event_id))
    return dict(sorted(((r, len(k)) for r, k in seen.items()), key=lambda item: (-item[1], item[0])))


def _followup_queues(session: Session, campaign_id: int) -> dict[str, int]:
    queues = dict(session.execute(
        select(FollowUp.queue, func.count()).where(FollowUp.campaign_id == campaign_id).group_by(FollowUp.queue)
    ).all())  # fmt: skip
    return {"call": queues.get("call", 0), "visit": queues.get("visit", 0)}


def _outcomes(session: Session, campaign_id: int) -> tuple[dict[str, int], int]:
    counts = dict(session.execute(
        select(FollowUp.outcome, func.count()).where(FollowUp.campaign_id == campaign_id).group_by(FollowUp.outcome)
    ).all())  # fmt: skip
    awaiting = counts.pop("", 0) + counts.pop(None, 0)
    order = [o for o in OUTCOMES if o in counts] + sorted(o for o in counts if o not in OUTCOMES)
    return {o: counts[o] for o in order}, awaiting


def _variants(session: Session, campaign_id: int, subjects: tuple[str, ...]) -> tuple[VariantRow, ...]:
    in_campaign = (Outbox.campaign_id == campaign_id, Outbox.variant.is_not(None))
    names = sorted(session.scalars(select(Outbox.variant).where(*in_campaign).distinct()), key=_variant_order)
    if not names:
        return ()
    sent = dict(session.execute(
        select(Outbox.variant, func.count()).where(*in_campaign, Outbox.state == "sent").group_by(Outbox.variant)
    ).all())  # fmt: skip
    replied = dict(session.execute(
        select(Outbox.variant, func.count(distinct(Outbox.id)))
        .join(Event, Event.outbox_id == Outbox.id)
        .where(*in_campaign, Event.kind == "replied")
        .group_by(Outbox.variant)
    ).all())  # fmt: skip
    return tuple(
        VariantRow(_variant_label(v), _variant_subject(v, subjects), sent.get(v, 0), replied.get(v, 0)) for v in names
    )


def _variant_order(variant: str) -> tuple[int, str]:
    return (int(variant), "") if variant.isdigit() else (10**6, variant)


def _variant_label(variant: str) -> str:
    """Variants are stored as 0, 1, ...; people call them A, B, ..."""
    return chr(ord("A") + int(variant)) if variant.isdigit() and int(variant) < 26 else variant


def _variant_subject(variant: str, subjects: tuple[str, ...]) -> str:
    return subjects[int(variant)] if variant.isdigit() and int(variant) < len(subjects) else ""


def _subjects(ws: Workspace | None, name: str) -> tuple[str, ...]:
    """The subject templates of the campaign's content, when its files are still there to read."""
    if ws is None:
        return ()
    from outreach.campaigns.definition import load_campaign
    from outreach.rendering import read_content

    try:
        source = read_content(load_campaign(ws, name).content_path)
    except OutreachError:
        return ()
    return (source.subject, *source.variants)


def campaign_text(report: CampaignReport) -> str:
    """The funnel as a fixed-width plain text table (deterministic, so scripts can diff it)."""
    out = [f"Campaign {report.campaign} (state {report.state}, sender {report.sender})", ""]
    out.append(f"{'':<22}{'count':>8}{'% of sent':>12}")
    labels = dict(FUNNEL)
    for key, value in report.funnel.items():
        rate = "" if key in NO_RATE else fmt_percent(report.rate(key))
        out.append(f"{labels[key]:<22}{value:>8}{rate:>12}".rstrip())
    if report.outcomes or report.awaiting:
        out += ["", "Follow-up outcomes"]
        for outcome, count in report.outcomes.items():
            out.append(f"  {OUTCOME_LABELS.get(outcome, outcome):<20}{count:>8}")
        out.append(f"  {'Awaiting an outcome':<20}{report.awaiting:>8}")
    if report.sender_problems:
        out += ["", "Sender's problems (relay, domain or content; no recipient suppressed)"]
        for reason, count in report.sender_problems.items():
            out.append(f"  {reason.replace('_', ' '):<20}{count:>8}")
    if report.variants:
        out += ["", "A/B subjects", f"  {'variant':<9}{'sent':>6}{'replied':>9}{'reply rate':>12}  subject"]
        for v in report.variants:
            out.append(f"  {v.label:<9}{v.sent:>6}{v.replied:>9}{fmt_percent(v.reply_rate):>12}  {v.subject}")
    return "\n".join(out) + "\n"


# -- one month, per sales executive ------------------------------------------------------


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


def monthly_report(ws: Workspace, engine: Engine, month: str) -> MonthlyReport:
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


def _executives(ws: Workspace, figures: Iterable[Counter[str]]) -> list[str]:
    """The configured senders (in outreach.yaml's order), then anyone else who had activity."""
    known = list(ws.settings.senders)
    others = {key for counts in figures for key, n in counts.items() if n and key not in known}
    return known + sorted(others)


def _exec_name(ws: Workspace, key: str) -> str:
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
