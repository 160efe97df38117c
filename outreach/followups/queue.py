"""The follow-up queues: nobody who answered is forgotten.

A genuine reply becomes a call item for the contact's owner (else the sales
executive with the fewest open items); callers work the exported list and
hand outcomes back, which close, re-queue or turn items into visits.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.storage.models import Campaign, FollowUp

CSV_COLUMNS = (
    "id", "queue", "priority", "company", "contact_name", "title", "email", "phone", "owner",
    "reason", "campaign", "last_subject", "reply_excerpt", "due_date", "outcome", "notes", "visit_at",
)  # fmt: skip
OUTCOMES = ("reached", "no_answer", "callback", "visit_scheduled", "not_interested", "wrong_contact")
QUEUES = ("call", "visit")


@dataclass(frozen=True)
class Item:
    id: int
    queue: str
    priority: int
    company: str
    contact_name: str
    title: str
    email: str
    phone: str
    owner: str
    reason: str
    campaign: str
    last_subject: str
    reply_excerpt: str
    due_date: str
    outcome: str
    notes: str
    visit_at: datetime | None = None
    contact_id: int = 0
    version: int = 1  # what the team app's form sends back, so a save over someone else's is seen
    updated_at: datetime | None = None
    state: str = "open"  # open | done

    def row(self) -> list[Any]:
        """The export's cells; ``visit_at`` as callers type it back (YYYY-MM-DD HH:MM, workspace time)."""
        visit = self.visit_at.strftime("%Y-%m-%d %H:%M") if self.visit_at else ""
        return [visit if c == "visit_at" else getattr(self, c) for c in CSV_COLUMNS]


def list_items(engine: Engine, queue: str | None = None, owner: str | None = None,
               include_closed: bool = False, owners: Collection[str] | None = None) -> list[Item]:  # fmt: skip
    """Most urgent first: priority, then due date. ``owners``: only items of these owners ('' = unassigned)."""
    query = (
        select(FollowUp, Campaign.name)
        .outerjoin(Campaign, Campaign.id == FollowUp.campaign_id)
        .order_by(FollowUp.priority.desc(), FollowUp.due_date, FollowUp.id)
    )
    if queue:
        query = query.where(FollowUp.queue == queue)
    if owner:
        query = query.where(FollowUp.owner == owner)
    if owners is not None:
        query = query.where(FollowUp.owner.in_(list(owners)))
    if not include_closed:
        query = query.where(FollowUp.state == "open")
    with Session(engine) as session:
        return [_item(f, name) for f, name in session.execute(query)]


def _item(f: FollowUp, campaign: str | None) -> Item:
    c = f.contact
    return Item(
        id=f.id, queue=f.queue, priority=f.priority, company=c.company.name if c.company else "",
        contact_name=" ".join(p for p in (c.first_name, c.last_name) if p), title=c.title,
        email=c.email, phone=c.phone, owner=f.owner, reason=f.reason, campaign=campaign or "",
        last_subject=f.last_subject, reply_excerpt=f.reply_excerpt,
        due_date=f.due_date.isoformat() if f.due_date else "", outcome=f.outcome, notes=f.notes,
        visit_at=f.visit_at, contact_id=f.contact_id, version=f.version, updated_at=f.updated_at, state=f.state,
    )  # fmt: skip


def get_item(engine: Engine, item_id: int) -> Item | None:
    with Session(engine) as session:
        row = session.execute(
            select(FollowUp, Campaign.name).outerjoin(Campaign, Campaign.id == FollowUp.campaign_id)
            .where(FollowUp.id == item_id)
        ).first()  # fmt: skip
        return _item(*row) if row is not None else None


def page_items(engine: Engine, *, queue: str | None = None, owners: Collection[str] | None = None,
               state: str | None = "open", after: int = 0, limit: int = 100) -> list[Item]:  # fmt: skip
    """A page of items in id order after id ``after`` (the API's paging); ``state`` None: open and done."""
    query = (
        select(FollowUp, Campaign.name).outerjoin(Campaign, Campaign.id == FollowUp.campaign_id)
        .where(FollowUp.id > after).order_by(FollowUp.id).limit(limit)
    )  # fmt: skip
    if queue:
        query = query.where(FollowUp.queue == queue)
    if owners is not None:
        query = query.where(FollowUp.owner.in_(list(owners)))
    if state:
        query = query.where(FollowUp.state == state)
    with Session(engine) as session:
        return [_item(f, name) for f, name in session.execute(query)]
