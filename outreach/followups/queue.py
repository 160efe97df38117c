"""The follow-up queues: nobody who answered is forgotten.

A genuine reply becomes a call item for the contact's owner (else the sales
executive with the fewest open items); callers work the exported list and
hand outcomes back, which close, re-queue or turn items into visits.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.fields import BUILTIN, FieldSet
from outreach.storage.models import Campaign, Contact, FollowUp

# The contract's columns, in its order; the contact's part (company ... phone) is what the registry's
# fields show on the caller's card (``Field.card``), and a field callers see that these columns do not
# name yet comes after them, in the registry's order.
ITEM_COLUMNS = (
    "id", "queue", "priority", "company", "contact_name", "title", "email", "phone", "owner",
    "reason", "campaign", "last_subject", "reply_excerpt", "due_date", "outcome", "notes", "visit_at",
)  # fmt: skip
CARD_EXTRA = tuple(f.card for f in BUILTIN.card if f.card not in ITEM_COLUMNS)
CSV_COLUMNS = (*ITEM_COLUMNS, *CARD_EXTRA)
OUTCOMES = ("reached", "no_answer", "callback", "visit_scheduled", "not_interested", "wrong_contact")
QUEUES = ("call", "visit", "verify")
# the verify queue (followups/verify.py): callers confirm or correct a contact's details by phone
VERIFY_OUTCOMES = ("confirmed", "updated", "left_company", "wrong_number", "no_answer")
NEW_COLUMNS = ("new_first_name", "new_last_name", "new_title", "new_phone", "new_email", "new_company")


def outcomes_of(queue: str) -> tuple[str, ...]:
    return VERIFY_OUTCOMES if queue == "verify" else OUTCOMES


def card_extra(registry: FieldSet = BUILTIN) -> tuple[str, ...]:
    """The card's columns the contract's columns do not name (a workspace's derived fields among them)."""
    return tuple(f.card for f in registry.card if f.card not in ITEM_COLUMNS)


def csv_columns(queue: str | None = None, registry: FieldSet = BUILTIN) -> tuple[str, ...]:
    """The export's header: the contract's columns, the verify queue's corrections, the card's other fields."""
    return (*ITEM_COLUMNS, *(NEW_COLUMNS if queue == "verify" else ()), *card_extra(registry))


@dataclass(frozen=True)
class Item:
    """A follow-up as callers work it. The contact's side is ``card`` (the registry's fields callers
    see, as text, by their card column), read as attributes: ``item.company``, ``item.contact_name``."""

    id: int
    queue: str
    priority: int
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
    intent: str = ""  # what the reply wants (interested, meeting, question, other), when a reply made the item
    question: str = ""  # the question it asks, quoted on the caller's card
    card: Mapping[str, str] = field(default_factory=dict)  # card column -> the contact's value, as text

    def __getattr__(self, name: str) -> str:
        card = self.__dict__.get("card") or {}
        if name in card:
            return card[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    labels: Mapping[str, str] = field(default_factory=dict)  # card column -> its field's label

    def details(self) -> list[tuple[str, str]]:
        """The card's lines the app's card has no place of its own for: (label, value), values only."""
        return [(self.labels.get(c, c), v) for c, v in self.card.items() if c not in ITEM_COLUMNS and v]
    state: str = "open"  # open | done

    def row(self, columns: tuple[str, ...] = CSV_COLUMNS) -> list[Any]:
        """The export's cells; ``visit_at`` as callers type it back (YYYY-MM-DD HH:MM, workspace time); the
        verify queue's ``new_*`` cells empty, for the caller to fill."""
        visit = self.visit_at.strftime("%Y-%m-%d %H:%M") if self.visit_at else ""
        return [visit if c == "visit_at" else "" if c in NEW_COLUMNS else getattr(self, c, "") for c in columns]


def list_items(engine: Engine, queue: str | None = None, owner: str | None = None,
               include_closed: bool = False, owners: Collection[str] | None = None,
               registry: FieldSet = BUILTIN) -> list[Item]:  # fmt: skip
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
        return [_item(f, name, registry) for f, name in session.execute(query)]


def card_of(contact: Contact, registry: FieldSet = BUILTIN) -> dict[str, str]:
    """What callers see of a contact: the registry's card fields (a workspace's derived ones too), as text."""
    view = registry.view.of(contact)
    return {f.card: view.text(f.name) for f in registry.card}


def _item(f: FollowUp, campaign: str | None, registry: FieldSet = BUILTIN) -> Item:
    return Item(
        id=f.id, queue=f.queue, priority=f.priority, owner=f.owner, reason=f.reason, campaign=campaign or "",
        last_subject=f.last_subject, reply_excerpt=f.reply_excerpt,
        due_date=f.due_date.isoformat() if f.due_date else "", outcome=f.outcome, notes=f.notes,
        visit_at=f.visit_at, contact_id=f.contact_id, version=f.version, updated_at=f.updated_at, state=f.state,
        intent=f.intent or "", question=f.question or "", card=card_of(f.contact, registry),
        labels={c.card: c.title for c in registry.card},
    )  # fmt: skip


def get_item(engine: Engine, item_id: int, registry: FieldSet = BUILTIN) -> Item | None:
    with Session(engine) as session:
        row = session.execute(
            select(FollowUp, Campaign.name).outerjoin(Campaign, Campaign.id == FollowUp.campaign_id)
            .where(FollowUp.id == item_id)
        ).first()  # fmt: skip
        return _item(*row, registry) if row is not None else None


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
