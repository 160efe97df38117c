"""Follow-up steps: a second (third...) email to those who have not answered yet.

A step's row is created only when it is due — N (business) days after the
previous email, in the contact's own timezone — so a reply, bounce,
unsubscribe or complaint that arrives before then simply means no row is ever
made. A reply from anyone at a company stops the steps to that company's
other contacts too: they are talking to us already. The sending window then
shifts the due message into business hours like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, Select, and_, exists, select
from sqlalchemy.orm import aliased

from outreach.campaigns.builder import new_message_id
from outreach.campaigns.definition import CampaignSpec
from outreach.followups.promotion import away_until
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import transaction, utcnow
from outreach.storage.models import Company, Contact, Event, Outbox, Suppression
from outreach.workdays import WEEKDAYS, BusinessCalendar

STOPPING = ("replied", "bounced", "unsubscribed", "complained")


@dataclass(frozen=True)
class StepsResult:
    created: int
    waiting: int  # not yet due, still to be sent if nobody answers


def add_delay(sent_at: datetime, days: int, business: bool, tz: ZoneInfo,
              calendar: BusinessCalendar = WEEKDAYS) -> datetime:  # fmt: skip
    """``sent_at`` (naive UTC) plus days in ``tz``; with ``business``, working days of ``calendar``
    (no weekends, public holidays or cuti bersama)."""
    local = sent_at.replace(tzinfo=UTC).astimezone(tz)
    due = calendar.add_to(local, days) if business else local + timedelta(days=days)
    return due.astimezone(UTC).replace(tzinfo=None)


def schedule_steps(ws: WorkspaceConfig, engine: Engine, spec: CampaignSpec, campaign_id: int,
                   now: datetime | None = None) -> StepsResult:  # fmt: skip
    now = now or utcnow()
    created = waiting = 0
    for k, step in enumerate(spec.file.steps, 1):
        c, w = _schedule_step(ws, engine, spec, campaign_id, k, step.delay, now)
        created, waiting = created + c, waiting + w
    return StepsResult(created, waiting)


def _candidates(campaign_id: int, k: int) -> Select:
    prev, nxt = aliased(Outbox), aliased(Outbox)
    stopped = select(Event.contact_id).where(Event.campaign_id == campaign_id, Event.kind.in_(STOPPING))
    talking = (
        select(Contact.company_id)
        .join(Event, Event.contact_id == Contact.id)
        .where(Event.campaign_id == campaign_id, Event.kind == "replied", Contact.company_id.is_not(None))
    )
    return (
        select(prev.contact_id, prev.email, prev.sent_at, prev.language, Contact.timezone,
               Company.timezone.label("company_tz"))
        .join(Contact, Contact.id == prev.contact_id)
        .outerjoin(Company, Company.id == Contact.company_id)
        .where(prev.campaign_id == campaign_id, prev.step == k - 1, prev.state == "sent")
        .where(~exists().where(and_(nxt.campaign_id == campaign_id, nxt.contact_id == prev.contact_id,
                                    nxt.step == k)))  # fmt: skip
        .where(prev.contact_id.not_in(stopped))
        .where(prev.email.not_in(select(Suppression.email)))
        .where((Contact.company_id.is_(None)) | Contact.company_id.not_in(talking))
        .order_by(prev.id)
    )


def _schedule_step(ws: WorkspaceConfig, engine: Engine, spec: CampaignSpec, campaign_id: int, k: int,
                   delay: tuple[int, bool], now: datetime) -> tuple[int, int]:  # fmt: skip
    created = waiting = 0
    calendar = BusinessCalendar.of(ws.settings.calendar)
    with transaction(engine) as session:
        away = away_until(session)
        for row in session.execute(_candidates(campaign_id, k)).all():
            tz = ws.zone(row.timezone or row.company_tz)
            due = add_delay(row.sent_at, delay[0], delay[1], tz, calendar)
            back = away.get(row.contact_id)
            if due > now or (back is not None and back > now.date()):  # out of office: hold until back
                waiting += 1
                continue
            session.add(Outbox(
                campaign_id=campaign_id, contact_id=row.contact_id, step=k, email=row.email, state="queued",
                message_id=new_message_id(spec.sender.domain), attempts=0, created_at=now, updated_at=now,
                language=row.language,  # a follow-up speaks the first email's language
            ))  # fmt: skip
            created += 1
    return created, waiting
