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

from sqlalchemy import Engine, and_, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from outreach.settings.tokens import Signer
from outreach.storage import outbox as outbox_store
from outreach.storage import transaction, utcnow
from outreach.storage.aliases import merged_into
from outreach.storage.models import Campaign, Contact, Event, Outbox

_ADDRESSES = select(Contact.id, Contact.email, Contact.language).where(Contact.id.in_(bindparam("ids", expanding=True)))
_MESSAGE_LANGUAGES = select(Outbox.contact_id, Outbox.campaign_id, Outbox.language).where(and_(
    Outbox.contact_id.in_(bindparam("ids", expanding=True)), Outbox.step == 0, Outbox.language.is_not(None)))


@dataclass(frozen=True)
class Addressee:
    """Whom an unsubscribe page speaks to: the address, and the language of the message the link came in
    (else the contact's own; "" when neither is known: the workspace's)."""

    email: str
    language: str = ""


@dataclass(frozen=True)
class Target:
    """Who a genuine token names (the contact may have been deleted since)."""

    contact_id: int
    campaign_id: int
    email: str | None
    language: str = ""


def lookup(engine: Engine, signer: Signer, token: str) -> Target | None:
    """The token's contact, or None when the token is not one we issued."""
    ids = signer.verify(token)
    if ids is None:
        return None
    with engine.connect() as conn:  # a contact merged into another since the message went: the other
        contact_id = merged_into(conn, [ids[0]]).get(ids[0], ids[0])
    found = addressees(engine, [(contact_id, ids[1])]).get((contact_id, ids[1]))
    return Target(contact_id, ids[1], found.email if found else None, found.language if found else "")


def addressees(engine: Engine, tokens: Collection[tuple[int, int]]) -> dict[tuple[int, int], Addressee]:
    """For (contact, campaign) pairs: the address (absent: the contact was deleted) and the page's language,
    in two indexed reads without an ORM session: the web server answers a link scanner's burst of unsubscribe
    pages with one batch of queries."""
    ids = sorted({contact_id for contact_id, _ in tokens})
    with engine.connect() as conn:
        contacts = {row.id: row for row in conn.execute(_ADDRESSES, {"ids": ids})}
        sent_in = {(row.contact_id, row.campaign_id): row.language for row in conn.execute(_MESSAGE_LANGUAGES,
                                                                                              {"ids": ids})}
    out = {}
    for pair in tokens:
        contact = contacts.get(pair[0])
        if contact is not None:
            out[pair] = Addressee(contact.email, sent_in.get(pair) or contact.language or "")
    return out


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
