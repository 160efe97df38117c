"""The admin's side of reply intents: the replies the reader was unsure of, and correcting one.

``set_intent`` is ONE action that undoes what the wrong intent did (a suppression this reply
made, proposals it made) and applies the right one (``reply_effects.apply``); promotion then
puts a callable reply in the call or visit queue. It is recorded as an ``intent_set`` event
(who, when, from, to) in the contact's history. The CLI calls these; the web app can too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.errors import InputError, NotFoundError
from outreach.storage import transaction, utcnow
from outreach.storage.models import Contact, Event, ReplyIntent
from outreach.tracking import reply_effects
from outreach.tracking.intents import INTENTS


@dataclass(frozen=True)
class Flagged:
    """One reply for the admin to check."""

    id: int
    email: str
    at: datetime
    intent: str
    confidence: float
    text: str
    question: str | None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "email": self.email, "at": self.at.isoformat(timespec="seconds"),
                "intent": self.intent, "confidence": self.confidence, "text": self.text,
                "question": self.question}  # fmt: skip


def flagged(engine: Engine) -> list[Flagged]:
    """Replies the reader marked unsure and nobody has reviewed yet, oldest first."""
    with Session(engine) as session:
        rows = session.execute(
            select(ReplyIntent, Event.detail, Contact.email)
            .join(Event, Event.id == ReplyIntent.event_id)
            .outerjoin(Contact, Contact.id == ReplyIntent.contact_id)
            .where(ReplyIntent.unsure.is_(True), ReplyIntent.reviewed_at.is_(None))
            .order_by(ReplyIntent.at, ReplyIntent.id)
        ).all()
    return [Flagged(r.id, email or "", r.at, r.intent, r.confidence, str((detail or {}).get("reply_text") or "")[:2000],
                    r.question) for r, detail, email in rows]  # fmt: skip


def set_intent(engine: Engine, reply_id: int, intent: str, who: str, now: datetime | None = None) -> list[str]:
    """Correct reply ``reply_id`` to ``intent``: undo the old effects, apply the new; what changed, in words."""
    if intent not in INTENTS:
        raise InputError(f"intent {intent!r} is not one of {', '.join(INTENTS)}")
    now = now or utcnow()
    with transaction(engine) as session:
        reply = session.get(ReplyIntent, reply_id)
        if reply is None:
            raise NotFoundError(f"there is no reply {reply_id} (see `outreach replies review`)")
        old = reply.intent
        done = reply_effects.undo(session, reply, now) if old != intent else []
        reply.intent, reply.unsure, reply.decided_by, reply.reviewed_at = intent, False, who[:64], now
        if old != intent and reply_effects.apply(session, reply, now):
            done.append(f"suppressed the address ({reply_effects.SUPPRESSING[intent]})")
        session.add(Event(kind="intent_set", at=now, campaign_id=reply.campaign_id, contact_id=reply.contact_id,
                          detail={"reply": reply.id, "from": old, "to": intent, "by": who[:64]}))  # fmt: skip
    return [f"reply {reply_id}: {old} -> {intent}", *done]
