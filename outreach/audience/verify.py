"""Verify by phone: the ``verify`` queue, where callers confirm or correct a contact's details.

``enqueue`` puts contacts (a hygiene group's, a segment's) in the queue, one open
item per contact, owned by the contact's sales executive (else the one with the
fewest open items); a retired contact (``left_company``) gets no call.

``apply_verify`` is one outcome on one verify item, the same for a spreadsheet
row (``followups import``), the team app's Verify tab and a proposal sent to the
queue. The caller's ``new_*`` cells are corrections:

* ``confirmed``: the details are right; the contact was reached today.
* ``updated``: each non-empty ``new_*`` cell is written to the contact through its
  field's parser (``history.record_changes``: a bad value is a ``FieldError`` naming
  the field, and nothing of the row is applied), the old value kept in the history.
* ``left_company``: the contact is retired: suppressed with the reason
  ``left_company`` (the same suppression a reply saying so makes: no campaign
  mails it) and its open items closed (no calls). When ``new_*`` cells name a
  successor with an address, that contact is created with the same owner and
  company; a name without an address becomes a proposal for the admin.
* ``wrong_number``: the phone is cleared (kept in the history) unless ``new_phone``
  gives the right one; the contact is marked for cleanup.
* ``no_answer``: the item stays open, due the next working day.

Applying the same outcome again changes nothing (a re-imported file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.audience.history import record_changes
from outreach.errors import FieldError, InputError, StateError
from outreach.events.record import record_outcome
from outreach.fields import FieldSet
from outreach.fields.cells import normalise_email
from outreach.fields.parsers import CellContext, RowError
from outreach.followups.outcomes import OutcomeRow
from outreach.followups.promotion import owner_for
from outreach.followups.queue import NEW_COLUMNS
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import outbox as outbox_store
from outreach.storage import transaction, utcnow
from outreach.storage.models import Contact, ContactProposal, FollowUp, Suppression
from outreach.workdays import BusinessCalendar

RETIRED = "left_company"  # the suppression reason that retires a contact (tracking/reply_effects.py too)
FIELD_OF = {column: column.removeprefix("new_") for column in NEW_COLUMNS}  # new_phone -> phone
PRIORITY = 40  # below a reply (50): a customer who answered comes first


@dataclass(frozen=True)
class Enqueued:
    added: int
    already: int  # had an open verify item
    retired: int  # left the company: no call

    def summary(self, what: str) -> str:
        return (f"Verify queue: {self.added} contact(s) of {what} added, {self.already} already there, "
                f"{self.retired} retired (left the company) left out")  # fmt: skip


def enqueue(engine: Engine, ws: WorkspaceConfig, contact_ids: Iterable[int], reason: str,
            owner: str | None = None, today: date | None = None) -> Enqueued:  # fmt: skip
    """Open a verify item for each contact (of ``owner``'s only, when given) that has none open."""
    if owner is not None and owner not in ws.settings.senders:
        raise InputError(f"--owner {owner!r} is not a sender in outreach.yaml (senders: "
                         f"{', '.join(ws.settings.senders)})")  # fmt: skip
    today = today or datetime.now(ws.tz).date()
    now = utcnow()
    wanted = sorted(set(contact_ids))
    added = already = retired = 0
    with transaction(engine) as session:
        open_now = set(session.scalars(select(FollowUp.contact_id).where(FollowUp.queue == "verify",
                                                                         FollowUp.state == "open")))  # fmt: skip
        gone = set(session.scalars(select(Contact.id).join(Suppression, Suppression.email == Contact.email)
                                   .where(Suppression.reason == RETIRED)))  # fmt: skip
        for start in range(0, len(wanted), 500):
            for contact in session.scalars(select(Contact).where(Contact.id.in_(wanted[start:start + 500]))):
                if owner is not None and contact.owner != owner:
                    continue
                if contact.id in gone:
                    retired += 1
                elif contact.id in open_now:
                    already += 1
                else:
                    session.add(FollowUp(contact_id=contact.id, queue="verify", state="open", priority=PRIORITY,
                                         owner=owner_for(session, ws, contact), reason=reason[:200], due_date=today,
                                         created_at=now, updated_at=now))  # fmt: skip
                    session.flush()
                    open_now.add(contact.id)
                    added += 1
    return Enqueued(added, already, retired)


def corrections_of(cells: Mapping[str, str]) -> dict[str, str]:
    """The non-empty ``new_*`` cells, by the field they correct."""
    return {FIELD_OF[c]: str(v).strip() for c, v in cells.items() if c in FIELD_OF and str(v or "").strip()}


def apply_verify(session: Session, item: FollowUp, r: OutcomeRow, today: date, calendar: BusinessCalendar,
                 who: str, registry: FieldSet, context: CellContext) -> bool:  # fmt: skip
    """One verify outcome; False when the item already says exactly this. ``FieldError`` for a bad correction
    (the caller rolls the row back)."""
    if item.outcome == r.outcome and item.notes == r.notes and item.state == ("open" if r.outcome == "no_answer"
                                                                              else "done"):  # fmt: skip
        return False
    now = utcnow()
    contact = item.contact
    fixes = dict(r.corrections)
    if r.outcome in ("confirmed", "updated", "wrong_number"):
        if r.outcome == "wrong_number" and "phone" not in fixes:
            fixes["phone"] = ""
            contact.needs_cleanup = f"wrong number (verify item {item.id})"
        if r.outcome != "updated":  # only a correction the caller meant to make is written
            fixes = {k: v for k, v in fixes.items() if r.outcome == "wrong_number" and k == "phone"}
        fixes["last_contacted_at"] = today.isoformat()
        record_changes(session, contact, fixes, who, "verify", registry=registry, context=context, now=now)
        item.state = "done"
    elif r.outcome == RETIRED:
        _successor(session, item, contact, fixes, who, now)
        _retire(session, contact, item, now)
        item.state = "done"
    else:  # no_answer
        item.state = "open"
        item.due_date = calendar.add(today, 1)
    item.outcome, item.notes, item.updated_at = r.outcome, r.notes, now
    record_outcome(session, item, now)
    return True


def _retire(session: Session, contact: Contact, item: FollowUp, now: datetime) -> None:
    outbox_store.add_suppression(session, contact.email, RETIRED, f"verify item {item.id}", None, now)
    for other in session.scalars(select(FollowUp).where(FollowUp.contact_id == contact.id, FollowUp.state == "open",
                                                        FollowUp.id != item.id)):  # fmt: skip
        other.state, other.outcome, other.updated_at = "done", "wrong_contact", now
        other.notes = f"{other.notes}\nclosed: left the company (verify item {item.id})".strip()


def _successor(session: Session, item: FollowUp, old: Contact, fixes: Mapping[str, str], who: str,
               now: datetime) -> None:  # fmt: skip
    """The person who took over, named in the ``new_*`` cells: a contact (with an address) or a proposal."""
    if not fixes:
        return
    name = " ".join(p for p in (fixes.get("first_name", ""), fixes.get("last_name", "")) if p)
    if "email" not in fixes:
        if name:
            session.add(ContactProposal(state="proposed", old_contact_id=old.id, name=name[:200], email="",
                                        owner=old.owner or "", created_at=now))  # fmt: skip
        return
    try:
        address = normalise_email(fixes["email"])
    except RowError as exc:
        raise FieldError(str(exc), field="new_email", contact=old.email) from None
    if address == old.email:
        raise FieldError(f"new_email {address} is the address of the contact who left", field="new_email",
                         contact=old.email)  # fmt: skip
    if session.scalar(select(Contact.id).where(Contact.email == address)) is not None:
        return  # already a contact (the same file imported again, or known before)
    successor = Contact(email=address, owner=old.owner, company_id=old.company_id, status=old.status,
                        language=old.language, custom={}, tags="", created_at=now, updated_at=now)  # fmt: skip
    session.add(successor)
    session.flush()
    rest = {k: v for k, v in fixes.items() if k != "email"}
    try:
        record_changes(session, successor, rest, who, "verify", now=now)
    except FieldError as exc:
        raise FieldError(exc.detail, field=f"new_{exc.field}", contact=address) from None


def to_verify(engine: Engine, ws: WorkspaceConfig, proposal_id: int, who: str) -> int:
    """The admin's third way with a proposed successor: callers phone the old contact's company to confirm
    it (the verify item names the proposal); the proposal waits as ``verifying``. The item's id."""
    from outreach.audience.proposals import open_proposal

    now = utcnow()
    with transaction(engine) as session:
        proposal = open_proposal(session, proposal_id)
        if proposal.state == "verifying":
            raise StateError(f"proposal {proposal_id} is already in the verify queue")
        old = session.get(Contact, proposal.old_contact_id) if proposal.old_contact_id else None
        if old is None:
            raise InputError(f"proposal {proposal_id} names no contact whose company could be phoned; approve or "
                             "reject it")  # fmt: skip
        who_named = " ".join(p for p in (proposal.name, proposal.email and f"<{proposal.email}>") if p)
        item = FollowUp(contact_id=old.id, queue="verify", state="open", priority=PRIORITY + 5,
                        owner=proposal.owner or owner_for(session, ws, old),
                        reason=f"proposal {proposal.id}: is {who_named or 'someone'} the successor?"[:200],
                        due_date=datetime.now(ws.tz).date(), created_at=now, updated_at=now)  # fmt: skip
        session.add(item)
        proposal.state, proposal.decided_at, proposal.decided_by = "verifying", now, who[:64]
        session.flush()
        return item.id
