"""Freezing a segment into outbox rows, with every message rendered first.

Build is one transaction: either every recipient's message renders and all
new rows are written, or nothing is. Contacts already in the outbox are
skipped (building twice adds nothing), and so are suppressed contacts and
those in a cooling-off period.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from outreach.audience.contacts import ContactView
from outreach.audience.segments import contacts_query, load_segment
from outreach.campaigns.definition import CampaignSpec, load_campaign
from outreach.campaigns.messages import MessageFactory, compile_file, step_factories
from outreach.errors import StateError, TemplateError
from outreach.settings.tokens import workspace_signer
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import transaction, utcnow
from outreach.storage.models import Campaign, Contact, Outbox, Suppression

BATCH = 500
MAX_REPORTED = 10


@dataclass(frozen=True)
class BuildResult:
    campaign: str
    added: int
    existing: int
    suppressed: int
    total: int

    def summary(self) -> str:
        return (
            f"Campaign {self.campaign}: {self.added} added to the outbox, {self.existing} already "
            f"there, {self.suppressed} skipped (suppressed); {self.total} in the outbox"
        )


def to_utc(moment: datetime, ws: WorkspaceConfig) -> datetime:
    """A schedule written in the workspace timezone (unless it names one), as naive UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=ws.tz)
    return aware.astimezone(UTC).replace(tzinfo=None)


def new_message_id(domain: str) -> str:
    return f"{secrets.token_hex(12)}@{domain}"


def get_or_create_campaign(session: Session, spec: CampaignSpec) -> Campaign:
    row = session.scalar(select(Campaign).where(Campaign.name == spec.name))
    if row is None:
        now = utcnow()
        row = Campaign(
            name=spec.name, segment=spec.file.segment, sender=spec.sender_key, state="built",
            created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(row)
        session.flush()
    return row


def campaign_id(engine: Engine, spec: CampaignSpec, *, create: bool) -> int:
    """The campaign's id; when it was never built, 0, or with ``create`` a new row (state ``built``).

    Previews need a stable id for the unsubscribe link; lint never writes to the database.
    """
    with Session(engine) as session:
        found = session.scalar(select(Campaign.id).where(Campaign.name == spec.name))
    if found is not None or not create:
        return found or 0
    with transaction(engine) as session:
        return get_or_create_campaign(session, spec).id


def build_campaign(ws: WorkspaceConfig, engine: Engine, name: str, today: date | None = None) -> BuildResult:
    spec = load_campaign(ws, name)
    segment = load_segment(ws, spec.file.segment)
    query = contacts_query(ws, segment, today)
    signer = workspace_signer(engine, ws)  # before the transaction: it may write the secret
    content = compile_file(ws, spec.content_path)
    with transaction(engine) as session:
        campaign = get_or_create_campaign(session, spec)
        if campaign.state == "cancelled":
            raise StateError(f"campaign {name} was cancelled; copy it under a new name to send again")
        if spec.file.schedule is not None and campaign.state in ("built", "scheduled"):
            # the worker starts it when the time comes; `campaign send` before then only says so
            campaign.state, campaign.schedule_at = "scheduled", to_utc(spec.file.schedule, ws)
        factory = MessageFactory(ws, spec, campaign.id, signer, content)
        factories = step_factories(ws, spec, factory)
        today = today or utcnow().date()
        in_outbox = exists().where(Outbox.campaign_id == campaign.id, Outbox.contact_id == Contact.id,
                                   Outbox.step == 0)  # fmt: skip
        blocked = or_(Contact.email.in_(select(Suppression.email)),
                      and_(Contact.cooling_until.is_not(None), Contact.cooling_until > today))  # fmt: skip
        existing = _count(session, query.where(in_outbox))
        skipped = _count(session, query.where(~in_outbox, blocked))
        errors: list[str] = []
        added = 0
        for contact in _stream(session, query.where(~in_outbox, ~blocked)):  # filtered in SQL, streamed
            view = ContactView.of(contact)
            try:
                for step_factory in factories.values():  # the first email and every follow-up step
                    step_factory.render(view)
            except TemplateError as exc:
                errors.append(str(exc))
                continue
            session.add(_row(campaign.id, view, spec, added, factory.subject_count))
            added += 1
            if added % BATCH == 0:
                session.flush()
        if errors:
            raise TemplateError(_preflight_message(errors))
        campaign.content_hash = content_digest(factories)
        campaign.preflight_ok = True
        campaign.updated_at = utcnow()
    return BuildResult(name, added, existing, skipped, added + existing)


def _count(session: Session, query: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def _stream(session: Session, query: Select[Any]) -> Iterator[Contact]:
    yield from session.scalars(query.execution_options(yield_per=BATCH))


def _row(campaign_id: int, view: ContactView, spec: CampaignSpec, n: int, subjects: int) -> Outbox:
    """A queued row; with A/B subjects, recipients are split evenly in build order."""
    now = utcnow()
    return Outbox(
        campaign_id=campaign_id, contact_id=view.id, step=0, email=view.email, state="queued",
        message_id=new_message_id(spec.sender.domain), attempts=0, created_at=now, updated_at=now,
        variant=str(n % subjects) if subjects > 1 else None,
    )  # fmt: skip


def _preflight_message(errors: list[str]) -> str:
    shown = errors[:MAX_REPORTED]
    more = len(errors) - len(shown)
    text = "; ".join(shown)
    if more:
        text += f"; and {more} more"
    return f"preflight failed for {len(errors)} recipient(s), nothing was written: {text}"


def content_digest(factories: dict[int, MessageFactory]) -> str:
    """One hash over every step's compiled content: a change means preflight again."""
    return hashlib.sha256("".join(f.content_hash for _, f in sorted(factories.items())).encode()).hexdigest()


def preflight(engine: Engine, factories: dict[int, MessageFactory], campaign_id: int) -> int:
    """Render every still-queued message of a campaign with its step's content; raise if any fails."""
    errors: list[str] = []
    count = 0
    query = (
        select(Contact, Outbox.variant, Outbox.step)
        .join(Outbox, Outbox.contact_id == Contact.id)
        .where(Outbox.campaign_id == campaign_id, Outbox.state.in_(("queued", "retry")))
        .order_by(Outbox.id)
    )
    with Session(engine) as session:
        for contact, variant, step in session.execute(query.execution_options(yield_per=BATCH)):
            count += 1
            factory = factories.get(step, factories[0])
            try:
                factory.render(ContactView.of(contact), int(variant or 0))
            except TemplateError as exc:
                errors.append(str(exc))
    if errors:
        raise TemplateError(_preflight_message(errors).replace("nothing was written", "nothing was sent"))
    return count
