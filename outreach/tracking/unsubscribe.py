"""What a genuine unsubscribe token does: suppress its contact and record one event.

The HTTP side (the confirmation page on GET, RFC 8058 one-click POST) lives in
``outreach/web/public.py``; this is the part tracking owns: the token is
checked with the workspace HMAC before the database is touched, and recording
is idempotent (a second request finds the suppression and the event already
there and changes nothing).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from outreach.settings.tokens import Signer
from outreach.storage import outbox as outbox_store
from outreach.storage import transaction, utcnow
from outreach.storage.models import Campaign, Contact, Event, Outbox

_EMAILS = select(Contact.id, Contact.email).where(Contact.id.in_(bindparam("ids", expanding=True)))


@dataclass(frozen=True)
class Target:
    """Who a genuine token names (the contact may have been deleted since)."""

    contact_id: int
    campaign_id: int
    email: str | None


def lookup(engine: Engine, signer: Signer, token: str) -> Target | None:
    """The token's contact, or None when the token is not one we issued."""
    ids = signer.verify(token)
    if ids is None:
        return None
    return Target(ids[0], ids[1], contact_emails(engine, [ids[0]]).get(ids[0]))


def contact_emails(engine: Engine, contact_ids: Collection[int]) -> dict[int, str]:
    """The addresses of these contacts (absent: deleted), in one indexed read without an ORM session: the
    web server answers a link scanner's burst of unsubscribe pages with one query per batch."""
    with engine.connect() as conn:
        return {contact_id: email for contact_id, email in conn.execute(_EMAILS, {"ids": list(contact_ids)})}


def unsubscribe(engine: Engine, signer: Signer, token: str, how: str = "one-click",
                now: datetime | None = None) -> Target | None:  # fmt: skip
    """Suppress the token's contact and record one ``unsubscribed`` event; None for a bad token.

    Safe to repeat: nothing changes the second time.
    """
    target = lookup(engine, signer, token)
    if target is None:
        return None
    try:
        with transaction(engine) as session:
            _record(session, target, how, now or utcnow())
    except IntegrityError:
        pass  # a simultaneous identical request recorded it first
    return target


def _record(session: Session, target: Target, how: str, now: datetime) -> None:
    if target.email is None:
        return  # the contact is gone: nobody left to send to
    campaign_id = target.campaign_id if session.get(Campaign, target.campaign_id) is not None else None
    row = None
    if campaign_id is not None:
        row = session.scalar(select(Outbox).where(
            Outbox.contact_id == target.contact_id, Outbox.campaign_id == campaign_id
        ).order_by(Outbox.step).limit(1))  # fmt: skip
    for email in dict.fromkeys([target.email, *([row.email] if row else [])]):
        outbox_store.add_suppression(session, email, "unsubscribe", f"{how} link", campaign_id, now)
    source_id = f"unsubscribe-link:{target.contact_id}:{target.campaign_id}"
    if session.scalar(select(Event.id).where(Event.source_id == source_id)) is None:
        session.add(Event(kind="unsubscribed", at=now, campaign_id=campaign_id, outbox_id=row.id if row else None,
                          contact_id=target.contact_id, source_id=source_id, detail={"via": how}))  # fmt: skip
