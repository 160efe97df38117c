"""Events that no other room writes: a caller's outcome on a follow-up.

The engine writes ``sent`` and ``failed`` (storage/outbox.py), tracking the
bounces, complaints, replies and unsubscribes; each in the transaction of the
change it records, as this one is.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from outreach.storage.models import Event, FollowUp


def record_outcome(session: Session, item: FollowUp, at: datetime) -> None:
    """The item's outcome as it stands after a change, in the session of that change."""
    session.add(Event(kind="outcome", at=at, campaign_id=item.campaign_id, contact_id=item.contact_id, detail={
        "followup": item.id, "queue": item.queue, "outcome": item.outcome, "notes": item.notes[:4000],
        "visit_at": item.visit_at.isoformat() if item.visit_at else None, "state": item.state,
        "due_date": item.due_date.isoformat() if item.due_date else None,
    }))  # fmt: skip
