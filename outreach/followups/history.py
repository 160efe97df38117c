"""What already happened with one contact, newest first: for the caller about to phone them.

Messages sent, replies (their own words), clicks, bounces, unsubscribes and
earlier follow-up outcomes, read from the rows as they are. A caller who sees
that the contact already said "call me after the 10th" calls after the 10th.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.storage.models import Campaign, Event, FollowUp, Outbox

LIMIT = 20
FEED_ONLY = ("sent", "outcome")  # the feed's records of what the outbox and the follow-ups already show here
_WORDS = {"replied": "replied", "clicked": "clicked a link", "bounced": "bounced", "auto_reply": "auto-reply",
          "unsubscribed": "unsubscribed", "complained": "marked as spam", "failed": "refused by the relay"}  # fmt: skip


@dataclass(frozen=True)
class Happening:
    at: datetime  # naive UTC, like the database
    what: str
    campaign: str
    detail: str


def _event_detail(kind: str, detail: dict[str, object]) -> str:
    if kind == "replied":
        return str(detail.get("reply_text") or detail.get("subject") or "")[:600]
    if kind == "clicked":
        return str(detail.get("url") or "")[:200]
    if kind in ("bounced", "failed"):
        return str(detail.get("reason") or detail.get("error") or "")[:200]
    return str(detail.get("subject") or detail.get("via") or "")[:200]


def contact_history(engine: Engine, contact_id: int, limit: int = LIMIT) -> list[Happening]:
    with Session(engine) as session:
        names: dict[int | None, str] = dict(session.execute(select(Campaign.id, Campaign.name)).all())
        sent = session.execute(
            select(Outbox.sent_at, Outbox.campaign_id, Outbox.step, Outbox.subject)
            .where(Outbox.contact_id == contact_id, Outbox.sent_at.is_not(None))
            .order_by(Outbox.sent_at.desc()).limit(limit)
        ).all()  # fmt: skip
        events = session.execute(
            select(Event.at, Event.kind, Event.campaign_id, Event.detail)
            .where(Event.contact_id == contact_id, Event.kind.not_in(FEED_ONLY))
            .order_by(Event.at.desc()).limit(limit)
        ).all()  # fmt: skip
        done = session.execute(
            select(FollowUp.updated_at, FollowUp.queue, FollowUp.outcome, FollowUp.notes, FollowUp.campaign_id)
            .where(FollowUp.contact_id == contact_id, FollowUp.outcome != "")
            .order_by(FollowUp.updated_at.desc()).limit(limit)
        ).all()  # fmt: skip
    out = [Happening(at, "sent" if step == 0 else f"sent follow-up {step}", names.get(cid, ""), subject or "")
           for at, cid, step, subject in sent if at is not None]  # fmt: skip
    out += [Happening(at, _WORDS.get(kind, kind), names.get(cid, ""), _event_detail(kind, detail or {}))
            for at, kind, cid, detail in events]  # fmt: skip
    out += [Happening(at, f"{queue}: {outcome.replace('_', ' ')}", names.get(cid, ""), notes[:600])
            for at, queue, outcome, notes, cid in done]  # fmt: skip
    return sorted(out, key=lambda h: h.at, reverse=True)[:limit]
