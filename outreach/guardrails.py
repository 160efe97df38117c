"""Guardrails while a campaign runs, and the warm-up allowance of a new sender.

Mailbox providers junk (or refuse) bulk mail from a sender whose complaint rate
passes 0.3%, and a list that bounces hard is a list the providers distrust. So a
campaign whose complaints or hard bounces cross the thresholds in outreach.yaml
pauses itself: one conditional UPDATE of its row in ``campaigns`` (only a
campaign still sending is paused), which every engine process already obeys
within half a second, plus a ``guardrail`` event that says when and why. Both
tracking (after it records bounces and complaints) and the engine (on its
watch loop, since the sample can grow past ``min_delivered`` with no new
event) call :func:`enforce`; the UPDATE's condition makes the second caller a
no-op, so there is no race to lose.

The warm-up allowance is derived from the sending history, not kept on the
side: a day counts when the sender sent that day and no guardrail tripped on
any of its campaigns that day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, Engine, cast, distinct, func, select, update
from sqlalchemy.orm import Session

from outreach.settings.config import Guardrails
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import transaction
from outreach.storage.models import Campaign, Event, Outbox

ACTIVE = ("built", "scheduled", "sending")  # states a guardrail pauses; done/paused/cancelled stay
GUARDRAIL_EVENT = "guardrail"
HISTORY_DAYS = 60  # warm-up looks back this far; by then any sender is past warming up


@dataclass(frozen=True)
class Rates:
    """A campaign's complaints and hard bounces, counted once per contact."""

    sent: int
    bounced: int
    hard_bounces: int
    complaints: int

    @property
    def delivered(self) -> int:
        return max(self.sent - self.bounced, 0)

    @property
    def complaint_rate(self) -> float | None:
        return self.complaints / self.delivered if self.delivered else None

    @property
    def hard_bounce_rate(self) -> float | None:
        return self.hard_bounces / self.sent if self.sent else None


def campaign_rates(session: Session, campaign_id: int) -> Rates:
    """One query: sent messages, and contacts who bounced (hard) or complained."""

    def contacts(*where: ColumnElement[bool]) -> Any:
        return (select(func.count(distinct(Event.contact_id)))
                .where(Event.campaign_id == campaign_id, *where).scalar_subquery())  # fmt: skip

    hard = Event.detail["hard"].as_boolean().is_(True)
    row = session.execute(select(
        select(func.count()).where(Outbox.campaign_id == campaign_id, Outbox.state == "sent").scalar_subquery(),
        contacts(Event.kind == "bounced"),
        contacts(Event.kind == "bounced", hard),
        contacts(Event.kind == "complained"),
    )).one()  # fmt: skip
    return Rates(*(int(v or 0) for v in row))


def verdict(rates: Rates, limits: Guardrails) -> str | None:
    """Why the campaign must stop, or None. Nothing trips before ``min_delivered``."""
    if rates.delivered < limits.min_delivered:
        return None
    if rates.complaint_rate is not None and rates.complaint_rate > limits.complaint_rate:
        return (f"complaints at {rates.complaint_rate:.2%} of delivered ({rates.complaints} of {rates.delivered}), "
                f"above the {limits.complaint_rate:.2%} guardrail")  # fmt: skip
    if rates.hard_bounce_rate is not None and rates.hard_bounce_rate > limits.hard_bounce_rate:
        return (f"hard bounces at {rates.hard_bounce_rate:.2%} of sent ({rates.hard_bounces} of {rates.sent}), "
                f"above the {limits.hard_bounce_rate:.2%} guardrail")  # fmt: skip
    return None


def enforce(engine: Engine, campaign_id: int, limits: Guardrails, now: datetime) -> str | None:
    """Pause the campaign when a guardrail trips; says which and why when this call paused it."""
    with transaction(engine) as session:
        why = verdict(campaign_rates(session, campaign_id), limits)
        if why is None:
            return None
        reason = (f"paused automatically: {why}; find the cause (the list, the content) before "
                  "`outreach campaign resume`")  # fmt: skip
        paused = session.scalar(
            update(Campaign).where(Campaign.id == campaign_id, Campaign.state.in_(ACTIVE))
            .values(state="paused", state_reason=reason, updated_at=now)
            .returning(Campaign.name)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        if paused is None:
            return None
        session.add(Event(kind=GUARDRAIL_EVENT, at=now, campaign_id=campaign_id, detail={"reason": why}))
        return f"campaign {paused} {reason}"


# -- warm-up ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Allowance:
    """Today's warm-up allowance of one sender: ``start × factor^good_days``."""

    sender: str
    good_days: int
    limit: int

    def describe(self) -> str:
        return f"warm-up day {self.good_days + 1}: {self.limit} message(s) today for sender {self.sender}"


def local_midnight(ws: WorkspaceConfig, now: datetime) -> datetime:
    """The start of ``now``'s day (naive UTC in, naive UTC out) in the workspace timezone."""
    local = now.replace(tzinfo=UTC).astimezone(ws.tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC).replace(tzinfo=None)


def sent_today(engine: Engine, ws: WorkspaceConfig, sender_key: str, now: datetime) -> int:
    """Messages sent (or in flight) today, in the workspace timezone, by one sender identity."""
    since = local_midnight(ws, now)
    with transaction(engine) as session:
        return session.scalar(
            select(func.count(Outbox.id))
            .join(Campaign, Campaign.id == Outbox.campaign_id)
            .where(Campaign.sender == sender_key)
            .where(((Outbox.state == "sent") & (Outbox.sent_at >= since)) | Outbox.state.in_(("sending",)))
        ) or 0


def warmup_allowance(engine: Engine, ws: WorkspaceConfig, sender_key: str, now: datetime) -> Allowance | None:
    """Today's allowance of a sender marked ``warmup: true`` (None for the others).

    Days are cut at midnight in the workspace timezone, shifted in SQL by today's offset
    (exact for zones without daylight saving, such as Asia/Jakarta; an hour off around a
    DST change elsewhere). One query: days this sender sent, minus days a guardrail
    tripped on one of its campaigns.
    """
    sender = ws.settings.senders.get(sender_key)
    if sender is None or not sender.warmup:
        return None
    today = local_midnight(ws, now)
    since = today - timedelta(days=HISTORY_DAYS)
    offset = now.replace(tzinfo=UTC).astimezone(ws.tz).utcoffset() or timedelta(0)
    mine = Campaign.sender == sender_key
    sent_days = (select(_day(Outbox.sent_at, offset, engine)).join(Campaign, Campaign.id == Outbox.campaign_id)
                 .where(mine, Outbox.state == "sent", Outbox.sent_at >= since, Outbox.sent_at < today))  # fmt: skip
    tripped_days = (select(_day(Event.at, offset, engine)).join(Campaign, Campaign.id == Event.campaign_id)
                    .where(mine, Event.kind == GUARDRAIL_EVENT, Event.at >= since, Event.at < today))  # fmt: skip
    good = sent_days.except_(tripped_days).subquery()
    with transaction(engine) as session:
        days = int(session.scalar(select(func.count()).select_from(good)) or 0)
    w = ws.settings.warmup
    return Allowance(sender_key, days, int(min(w.start * w.factor**days, 10**9)))


def _day(column: Any, offset: timedelta, engine: Engine) -> ColumnElement[Any]:
    """The local calendar day of a naive UTC timestamp column."""
    seconds = int(offset.total_seconds())
    if engine.dialect.name == "sqlite":
        return func.date(column, f"{seconds:+d} seconds")
    return cast(column + timedelta(seconds=seconds), Date)

