"""What a reply's intent does, at ingest and when an admin corrects it: one home for both.

* ``opt_out``: the address is suppressed (reason ``reply_opt_out``), the same suppression list
  link unsubscribes use, so every campaign's queued rows, every follow-up step and every future
  build skip it; open follow-up items are closed. The reply stays as the record (its event).
* ``not_interested``: open items are closed; the contact policy's ``hold_after_decline`` reads
  the ``reply_intents`` row at build time (no suppression: a decline is not for ever).
* ``left_company`` / ``referral``: the old address is suppressed (``left_company`` / ``referred``)
  and its open items closed; a named successor becomes a ``contact_proposals`` row for the admin.
* ``interested``, ``meeting``, ``question``, ``other``: nothing here; promotion makes the call or
  visit item and records the intent and the question on it.

Every change happens in the caller's transaction, together with the event it follows from.
``undo`` reverses exactly what ``apply`` did for one reply: a suppression is lifted only when
this reply made it (its detail names the reply), never one a link unsubscribe, a complaint or a
bounce made.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.storage import outbox as outbox_store
from outreach.storage.models import Contact, ContactProposal, Event, FollowUp, ReplyIntent, Suppression
from outreach.tracking.intents import Intent

SUPPRESSING = {"opt_out": "reply_opt_out", "left_company": "left_company", "referral": "referred"}
CLOSING = {"opt_out": "not_interested", "not_interested": "not_interested", "left_company": "wrong_contact",
           "referral": "wrong_contact"}  # fmt: skip
READER = "reader"


def record(session: Session, event: Event, found: Intent, now: datetime) -> ReplyIntent:
    """The reader's verdict on the reply of ``event``, as a row."""
    reply = ReplyIntent(
        event_id=event.id, contact_id=event.contact_id, campaign_id=event.campaign_id, intent=found.name,
        unsure=found.unsure, confidence=found.confidence, question=found.question,
        referral_name=(found.referral_name or None) and found.referral_name[:200],
        referral_email=(found.referral_email or None) and found.referral_email[:320].lower(),
        decided_by=READER, at=now,
    )  # fmt: skip
    session.add(reply)
    session.flush()
    return reply


def marker(reply: ReplyIntent) -> str:
    """What a suppression made by this reply says in its detail (so only this reply lifts it)."""
    return f"reply {reply.id}"


def apply(session: Session, reply: ReplyIntent, now: datetime) -> bool:
    """The effects of ``reply.intent``; True when it suppressed the address."""
    contact = session.get(Contact, reply.contact_id) if reply.contact_id is not None else None
    if contact is None:
        return False
    suppressed = False
    reason = SUPPRESSING.get(reply.intent)
    if reason is not None:
        suppressed = outbox_store.add_suppression(session, contact.email, reason, marker(reply), reply.campaign_id, now)
    if reply.intent in CLOSING:
        _close_items(session, contact.id, CLOSING[reply.intent], f"closed: the reply said {reply.intent}", now)
    if reply.intent in ("referral", "left_company"):
        _propose(session, reply, contact, now)
    return suppressed


def undo(session: Session, reply: ReplyIntent, now: datetime) -> list[str]:
    """Reverse what ``apply`` did for this reply; what was reversed, in words."""
    done: list[str] = []
    contact = session.get(Contact, reply.contact_id) if reply.contact_id is not None else None
    if contact is not None and reply.intent in SUPPRESSING:
        row = session.get(Suppression, contact.email)
        if row is not None and row.reason == SUPPRESSING[reply.intent] and row.detail == marker(reply):
            session.delete(row)
            done.append(f"lifted the {row.reason} suppression of {contact.email}")
    for proposal in session.scalars(select(ContactProposal).where(ContactProposal.reply_id == reply.id,
                                                                   ContactProposal.state == "proposed")):  # fmt: skip
        proposal.state, proposal.decided_at, proposal.decided_by = "rejected", now, "set-intent"
        done.append(f"withdrew proposal {proposal.id}")
    session.flush()
    return done


def _close_items(session: Session, contact_id: int, outcome: str, note: str, now: datetime) -> None:
    for item in session.scalars(select(FollowUp).where(FollowUp.contact_id == contact_id, FollowUp.state == "open")):
        item.state, item.outcome, item.updated_at = "done", outcome, now
        item.notes = f"{item.notes}\n{note}".strip() if item.notes else note


def _propose(session: Session, reply: ReplyIntent, contact: Contact, now: datetime) -> None:
    """A successor named by the reply, for the admin to approve (same owner as the old contact)."""
    email = (reply.referral_email or "").lower()
    if not (reply.referral_name or email) or email == contact.email:
        return
    session.add(ContactProposal(
        state="proposed", reply_id=reply.id, old_contact_id=contact.id, name=reply.referral_name or "",
        email=email, owner=contact.owner or "", created_at=now,
    ))  # fmt: skip
    session.flush()
