"""One contact from two (``outreach contacts merge KEEP OTHER``), in one transaction.

* Fields: KEEP's values win; a field KEEP has empty (or at its default: status
  ``prospect``, no transactions) is filled from OTHER, through the registry's
  parsers (``history.record_changes``, so each fill is in KEEP's history, ``via
  merge``). ``last_contacted_at`` is the later of the two; custom columns KEEP
  lacks are copied.
* Messages, replies and their intents, follow-ups, proposals, events, the
  change history and pending webhook deliveries move to KEEP. A campaign step
  both got (the duplicate was in the same blast) keeps both messages: OTHER's
  is parked on a step of its own below zero (the outbox holds one message per
  contact and step), and of two copies not sent yet only one will be: a
  pending copy is cancelled when the other was sent or is pending too.
  Messages not sent yet now go to KEEP's address.
* Two open follow-up items in one queue become one (KEEP's; OTHER's is closed,
  saying so).
* Suppressions of either apply to KEEP: a person's "no" is honoured whichever
  address said it. OTHER's own stays too.
* OTHER's address and id become an alias of KEEP (``contact_aliases``): a reply
  from it, or a link in a message sent to it, finds KEEP (storage/aliases.py).
  Then OTHER is removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.orm import Session

from outreach.audience.history import Change, record_changes
from outreach.errors import InputError, NotFoundError
from outreach.fields import BUILTIN
from outreach.storage import outbox as outbox_store
from outreach.storage import transaction, utcnow
from outreach.storage.models import (
    Contact,
    ContactAlias,
    ContactChange,
    ContactProposal,
    Event,
    FollowUp,
    Outbox,
    ReplyIntent,
    Suppression,
    WebhookDelivery,
)

PENDING = ("queued", "retry")  # not handed to the relay yet: may still be cancelled
SKIP = ("email", "last_contacted_at")  # the key, and a fact (the later one wins)


@dataclass(frozen=True)
class MergeResult:
    keep: str
    other: str
    messages: int  # OTHER's messages now KEEP's
    cancelled: int  # copies of a message the person would have got twice
    followups: int
    events: int
    filled: tuple[Change, ...]
    suppressed: str | None  # the reason KEEP is now suppressed for, when it came from OTHER

    def summary(self) -> str:
        filled = ", ".join(c.field for c in self.filled) or "none"
        parts = [f"Merged {self.other} into {self.keep}: {self.messages} message(s), {self.followups} "
                 f"follow-up(s) and {self.events} event(s) moved; fields filled from {self.other}: {filled}"]
        if self.cancelled:
            parts.append(f"{self.cancelled} copy(ies) not sent yet cancelled (the same message goes to the "
                         "other address)")
        if self.suppressed:
            parts.append(f"{self.keep} is now suppressed too ({self.suppressed}, as {self.other} was)")
        parts.append(f"{self.other} stays as an alias: mail from it still reaches {self.keep}'s record")
        return "; ".join(parts) + "."


def _contact(session: Session, email: str, role: str) -> Contact:
    address = email.strip().lower()
    found = session.scalar(select(Contact).where(Contact.email == address))
    if found is not None:
        return found
    alias = session.get(ContactAlias, address)
    if alias is not None:
        into = session.get(Contact, alias.contact_id)
        raise InputError(f"{role} {address} was already merged into {into.email if into else 'another contact'}")
    raise NotFoundError(f"{role}: no contact {email.strip()[:320]!r} (contacts list shows who there is)")


def merge_contacts(engine: Engine, keep_email: str, other_email: str, who: str,
                   now: datetime | None = None) -> MergeResult:  # fmt: skip
    now = now or utcnow()
    if keep_email.strip().lower() == other_email.strip().lower():
        raise InputError(f"KEEP and OTHER are the same contact ({keep_email.strip().lower()[:320]}): "
                         "name two different contacts to merge")  # fmt: skip
    with transaction(engine) as session:
        keep, other = _contact(session, keep_email, "KEEP"), _contact(session, other_email, "OTHER")
        filled = _fill(session, keep, other, who, now)
        messages, cancelled = _move_messages(session, keep, other, now)
        followups = _move_followups(session, keep, other, now)
        events = _move_rest(session, keep, other)
        suppressed = _suppressions(session, keep, other, now)
        alias = session.get(ContactAlias, other.email)  # merged once, imported again since: now merged again
        if alias is None:
            session.add(ContactAlias(email=other.email, contact_id=keep.id, merged_id=other.id, who=who[:120],
                                     created_at=now))  # fmt: skip
        else:
            alias.contact_id, alias.merged_id, alias.who, alias.created_at = keep.id, other.id, who[:120], now
        session.add(ContactChange(contact_id=keep.id, field="alias", old="", new=other.email, who=who[:120],
                                  via="merge", at=now))  # fmt: skip
        session.add(Event(kind="merged", at=now, contact_id=keep.id, detail={"other": other.email, "by": who[:120]}))
        other_address = other.email
        session.flush()
        session.expunge(other)
        session.execute(delete(Contact).where(Contact.id == other.id))
        return MergeResult(keep.email, other_address, messages, cancelled, followups, events, tuple(filled), suppressed)


def _blank(name: str, text: str) -> bool:
    f = BUILTIN.get(name)
    return not text or (f is not None and f.default not in (None, "") and text == f.text(f.default))


def _fill(session: Session, keep: Contact, other: Contact, who: str, now: datetime) -> list[Change]:
    kv, ov = BUILTIN.view.of(keep), BUILTIN.view.of(other)
    updates: dict[str, object] = {}
    for f in BUILTIN:
        if f.source not in ("column", "company") or f.name in SKIP:
            continue
        mine, theirs = kv.text(f.name), ov.text(f.name)
        if _blank(f.name, mine) and not _blank(f.name, theirs):
            updates[f.name] = theirs
    for key, value in (other.custom or {}).items():
        if key not in (keep.custom or {}) and value not in (None, ""):
            updates[f"custom.{key}"] = value
    if other.last_contacted_at and (keep.last_contacted_at is None or other.last_contacted_at > keep.last_contacted_at):
        updates["last_contacted_at"] = other.last_contacted_at.isoformat()
    changes = record_changes(session, keep, updates, who, "merge", now=now)
    if other.cooling_until and (keep.cooling_until is None or other.cooling_until > keep.cooling_until):
        keep.cooling_until = other.cooling_until  # a decline's hold is the person's
    keep.needs_cleanup = keep.needs_cleanup or other.needs_cleanup
    return changes


def _move_messages(session: Session, keep: Contact, other: Contact, now: datetime) -> tuple[int, int]:
    taken: dict[tuple[int, int], Outbox] = {
        (r.campaign_id, r.step): r for r in session.scalars(select(Outbox).where(Outbox.contact_id == keep.id))
    }
    lowest: dict[int, int] = {}
    for (campaign, step) in taken:
        lowest[campaign] = min(lowest.get(campaign, 0), step)
    rows = list(session.scalars(select(Outbox).where(Outbox.contact_id == other.id).order_by(Outbox.id)))
    cancelled = 0
    for row in rows:
        mine = taken.get((row.campaign_id, row.step))
        if mine is not None:
            cancelled += _one_copy(mine, row, keep, now)
            lowest[row.campaign_id] = min(lowest.get(row.campaign_id, 0), 0) - 1
            row.step = lowest[row.campaign_id]  # parked: the outbox holds one message per contact and step
        row.contact_id = keep.id
        if row.state in PENDING:
            row.email = keep.email
        row.updated_at = now
    session.flush()
    return len(rows), cancelled


def _one_copy(mine: Outbox, theirs: Outbox, keep: Contact, now: datetime) -> int:
    """Of two copies of one message for one person, the one not sent yet is cancelled (KEEP's, when neither is)."""
    note = f"cancelled by a merge: the same message is {{}} to the other address of {keep.email}"
    if theirs.state in PENDING:
        theirs.state, theirs.last_error, theirs.updated_at = "cancelled", note.format("also queued"), now
        return 1
    if mine.state in PENDING:
        mine.state, mine.last_error, mine.updated_at = "cancelled", note.format("already sent"), now
        return 1
    return 0


def _move_followups(session: Session, keep: Contact, other: Contact, now: datetime) -> int:
    open_queues = set(session.scalars(select(FollowUp.queue).where(FollowUp.contact_id == keep.id,
                                                                    FollowUp.state == "open")))  # fmt: skip
    items = list(session.scalars(select(FollowUp).where(FollowUp.contact_id == other.id)))
    for item in items:
        if item.state == "open" and item.queue in open_queues:
            item.state = "done"
            note = f"closed by a merge into {keep.email}, which has an open {item.queue} item"
            item.notes = f"{item.notes}\n{note}".strip()
        item.contact_id, item.updated_at = keep.id, now
    session.flush()
    return len(items)


def _move_rest(session: Session, keep: Contact, other: Contact) -> int:
    """Events, reply intents, proposals, the change history, pending webhook deliveries, older aliases."""
    events = session.scalar(select(func.count()).select_from(Event).where(Event.contact_id == other.id)) or 0
    for model, column in ((Event, Event.contact_id), (ReplyIntent, ReplyIntent.contact_id),
                          (ContactProposal, ContactProposal.old_contact_id),
                          (ContactProposal, ContactProposal.new_contact_id),
                          (ContactChange, ContactChange.contact_id), (WebhookDelivery, WebhookDelivery.contact_id),
                          (ContactAlias, ContactAlias.contact_id)):  # fmt: skip
        session.execute(update(model).where(column == other.id).values({column.key: keep.id})
                        .execution_options(synchronize_session=False))  # fmt: skip
    return int(events)


def _suppressions(session: Session, keep: Contact, other: Contact, now: datetime) -> str | None:
    theirs = session.get(Suppression, other.email)
    if theirs is None or session.get(Suppression, keep.email) is not None:
        return None
    detail = f"merged from {other.email}" + (f": {theirs.detail}" if theirs.detail else "")
    outbox_store.add_suppression(session, keep.email, theirs.reason, detail[:1000], theirs.campaign_id, now)
    return theirs.reason
