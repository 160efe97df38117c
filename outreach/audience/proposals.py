"""Contacts proposed by replies (a successor named in a referral or a left_company reply).

The admin approves one (a new contact is created, validated as an import validates a row, with
the old contact's owner and company), rejects it, or sends it to the verify queue (callers phone
the company to confirm it: ``audience/verify.py``'s ``to_verify``; it waits as ``verifying``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.audience.cells import RowError, normalise_email
from outreach.errors import InputError, NotFoundError, StateError
from outreach.storage import transaction, utcnow
from outreach.storage.models import Contact, ContactProposal, Event


@dataclass(frozen=True)
class Proposal:
    id: int
    state: str
    name: str
    email: str
    owner: str
    replaces: str  # the old contact's address
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "state": self.state, "name": self.name, "email": self.email, "owner": self.owner,
                "replaces": self.replaces, "created_at": self.created_at.isoformat(timespec="seconds")}  # fmt: skip


def list_proposals(engine: Engine, state: str | None = "proposed") -> list[Proposal]:
    with Session(engine) as session:
        query = select(ContactProposal, Contact.email).outerjoin(Contact, Contact.id == ContactProposal.old_contact_id)
        if state:
            query = query.where(ContactProposal.state == state)
        return [Proposal(p.id, p.state, p.name, p.email, p.owner, old or "", p.created_at)
                for p, old in session.execute(query.order_by(ContactProposal.id))]  # fmt: skip


def open_proposal(session: Session, proposal_id: int) -> ContactProposal:
    """A proposal still to decide: proposed, or sent to the verify queue (``audience/verify.py``'s ``to_verify``)."""
    proposal = session.get(ContactProposal, proposal_id)
    if proposal is None:
        raise NotFoundError(f"there is no proposal {proposal_id} (see `outreach contacts proposals`)")
    if proposal.state not in ("proposed", "verifying"):
        raise StateError(f"proposal {proposal_id} was already {proposal.state}")
    return proposal


_open = open_proposal


def approve(engine: Engine, proposal_id: int, who: str, email: str | None = None, now: datetime | None = None) -> str:
    """Create the proposed contact; ``email`` supplies or corrects the address. Returns its address."""
    now = now or utcnow()
    with transaction(engine) as session:
        proposal = _open(session, proposal_id)
        try:
            address = normalise_email(email or proposal.email)
        except RowError as exc:
            raise InputError(f"proposal {proposal_id}: {exc} (give one with --email)") from None
        if session.scalar(select(Contact.id).where(Contact.email == address)) is not None:
            raise StateError(f"proposal {proposal_id}: {address} is already a contact")
        old = session.get(Contact, proposal.old_contact_id) if proposal.old_contact_id else None
        first, _, last = proposal.name.partition(" ")
        contact = Contact(email=address, first_name=first, last_name=last, owner=proposal.owner,
                          company_id=old.company_id if old else None, status=old.status if old else "prospect",
                          language=old.language if old else "", custom={}, created_at=now, updated_at=now)  # fmt: skip
        session.add(contact)
        session.flush()
        proposal.state, proposal.decided_at, proposal.decided_by = "approved", now, who[:64]
        proposal.new_contact_id, proposal.email = contact.id, address
        session.add(Event(kind="proposal_approved", at=now, contact_id=contact.id,
                          detail={"proposal": proposal.id, "replaces": old.email if old else None, "by": who[:64]}))
    return address


def reject(engine: Engine, proposal_id: int, who: str, now: datetime | None = None) -> None:
    with transaction(engine) as session:
        proposal = _open(session, proposal_id)
        proposal.state, proposal.decided_at, proposal.decided_by = "rejected", now or utcnow(), who[:64]
