"""The event feed: what happened, in order, after a cursor.

Every event is a row of ``events`` and its id is the cursor. The feed shows seven
types of them, each under the name the API and the webhooks use:

==============  ===============  =================================================
type            stored kind      written by
==============  ===============  =================================================
``sent``        ``sent``         the engine's grouped commit (storage/outbox.py)
``failed``      ``failed``       the same, for a refusal after the last retry
``bounce``      ``bounced``      tracking (mail, or an email service's event hook)
``complaint``   ``complained``   tracking
``reply``       ``replied``      tracking; its ``intent`` when tracking found one
``unsubscribe`` ``unsubscribed`` the unsubscribe link, or a reply asking for it
``outcome``     ``outcome``      a caller's outcome on a follow-up (events/record.py)
==============  ===============  =================================================

Each is written in the transaction of the change it records, so the feed has an
event exactly when the change happened. Ids become visible in their order (on
PostgreSQL through the ordering lock of migration 0005), so a reader that moves
its cursor past an id never misses a smaller one committed later. A page is read
up to the newest id at its start: ``next`` is then that id, or the last event's
when the page is full. The ``data`` of each type is an allow-list of the row's
facts: nothing internal (authentication results, diagnostics) leaves through it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from outreach.events import TYPES
from outreach.storage.models import Campaign, Contact, Event, Outbox

__all__ = ["KIND", "TYPE", "TYPES", "FeedEvent", "Page", "events_by_id", "newest_id", "read_feed"]

KIND = {"sent": "sent", "failed": "failed", "bounce": "bounced", "complaint": "complained", "reply": "replied",
        "unsubscribe": "unsubscribed", "outcome": "outcome"}  # fmt: skip
TYPE = {kind: type_ for type_, kind in KIND.items()}
MAX_PAGE = 1000


@dataclass(frozen=True)
class FeedEvent:
    """One event as the API and the webhooks show it (``as_dict``); ``contact_id`` orders the webhooks."""

    id: int
    type: str
    at: datetime  # naive UTC, as stored
    contact: str | None  # the contact's email
    campaign: str | None  # the campaign's name
    data: dict[str, Any] = field(default_factory=dict)
    contact_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "at": utc_text(self.at), "contact": self.contact,
                "campaign": self.campaign, "data": self.data}  # fmt: skip


@dataclass(frozen=True)
class Page:
    events: list[FeedEvent]
    next: int  # the cursor for the next page


def utc_text(at: datetime) -> str:
    return at.replace(microsecond=0).isoformat() + "Z"


def read_feed(engine: Engine, after: int = 0, limit: int = 100, types: Collection[str] = TYPES,
              tz: tzinfo | None = None) -> Page:  # fmt: skip
    """Up to ``limit`` events of ``types`` with an id above ``after``, oldest first; ``tz``: the workspace's
    (a follow-up's visit time is kept in it)."""
    kinds = [KIND[t] for t in types if t in KIND]
    limit = max(1, min(limit, MAX_PAGE))
    with Session(engine) as session:
        top = int(session.scalar(select(func.max(Event.id))) or 0)  # first: every id up to it is committed
        if not kinds or top <= after:
            return Page([], max(top, after))
        rows = session.execute(
            select(Event.id, Event.kind, Event.at, Event.contact_id, Event.detail, Contact.email.label("contact"),
                   Campaign.name.label("campaign"), Outbox.email.label("sent_to"), Outbox.message_id, Outbox.step)
            .outerjoin(Contact, Contact.id == Event.contact_id)
            .outerjoin(Campaign, Campaign.id == Event.campaign_id)
            .outerjoin(Outbox, Outbox.id == Event.outbox_id)
            .where(Event.id > after, Event.id <= top, Event.kind.in_(kinds))
            .order_by(Event.id).limit(limit)
        ).all()  # fmt: skip
    events = [_event(row, tz) for row in rows]
    return Page(events, events[-1].id if len(events) == limit else top)


def events_by_id(engine: Engine, ids: Collection[int], tz: tzinfo | None = None) -> dict[int, FeedEvent]:
    """The feed's view of these events (those of the feed's types), by id."""
    if not ids:
        return {}
    with Session(engine) as session:
        rows = session.execute(
            select(Event.id, Event.kind, Event.at, Event.contact_id, Event.detail, Contact.email.label("contact"),
                   Campaign.name.label("campaign"), Outbox.email.label("sent_to"), Outbox.message_id, Outbox.step)
            .outerjoin(Contact, Contact.id == Event.contact_id)
            .outerjoin(Campaign, Campaign.id == Event.campaign_id)
            .outerjoin(Outbox, Outbox.id == Event.outbox_id)
            .where(Event.id.in_(list(ids)), Event.kind.in_(list(TYPE)))
        ).all()  # fmt: skip
    return {row.id: _event(row, tz) for row in rows}


def newest_id(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.max(Event.id))) or 0)


def _event(row: Any, tz: tzinfo | None) -> FeedEvent:
    type_ = TYPE[row.kind]
    detail: dict[str, Any] = row.detail if isinstance(row.detail, dict) else {}
    data: dict[str, Any] = {}
    if row.message_id is not None:
        data.update(email=row.sent_to, message_id=f"<{row.message_id}>", step=row.step)
    data.update(_DATA[type_](detail, row, tz))
    return FeedEvent(row.id, type_, row.at, row.contact or row.sent_to, row.campaign, data, row.contact_id)


def _sent(detail: dict[str, Any], row: Any, tz: tzinfo | None) -> dict[str, Any]:
    return {}  # the message's own facts (email, message_id, step) are every message event's


def _failed(detail: dict[str, Any], row: Any, tz: tzinfo | None) -> dict[str, Any]:
    return {"code": detail.get("code"), "error": _text(detail.get("error"), 500)}


def _bounce(detail: dict[str, Any], row: Any, tz: tzinfo | None) -> dict[str, Any]:
    out = {"reason": detail.get("reason"), "hard": bool(detail.get("hard")), "status": detail.get("status"),
           "category": detail.get("category")}  # fmt: skip
    if detail.get("address"):
        out["email"] = detail["address"]
    return out


def _complaint(detail: dict[str, Any], row: Any, tz: tzinfo | None) -> dict[str, Any]:
    return {"reason": detail.get("reason")}


def _reply(detail: dict[str, Any], row: Any, tz: tzinfo | None) -> dict[str, Any]:
    out = {"intent": detail.get("intent"), "subject": _text(detail.get("subject"), 300),
           "text": _text(detail.get("reply_text"), 4000), "from": detail.get("from")}  # fmt: skip
    return out


def _unsubscribe(detail: dict[str, Any], row: Any, tz: tzinfo | None) -> dict[str, Any]:
    return {"via": detail.get("via") or "email"}


def _outcome(detail: dict[str, Any], row: Any, tz: tzinfo | None) -> dict[str, Any]:
    visit = detail.get("visit_at")
    if isinstance(visit, str) and tz is not None:
        with contextlib.suppress(ValueError):
            visit = datetime.fromisoformat(visit).replace(tzinfo=tz).isoformat()
    return {"followup": detail.get("followup"), "queue": detail.get("queue"), "outcome": detail.get("outcome"),
            "notes": _text(detail.get("notes"), 4000), "visit_at": visit, "due_date": detail.get("due_date"),
            "state": detail.get("state")}  # fmt: skip


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if value is not None else None


_DATA = {"sent": _sent, "failed": _failed, "bounce": _bounce, "complaint": _complaint, "reply": _reply,
         "unsubscribe": _unsubscribe, "outcome": _outcome}  # fmt: skip
