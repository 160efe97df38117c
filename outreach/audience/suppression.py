"""Suppressing a contact by hand, and lifting a suppression, with the reason and who did it on record.

A suppressed address is never mailed again (the engine drops its queued
messages at their claim). Most suppressions are made by what happened: a hard
bounce, a complaint, an unsubscribe link, a reply that opted out. The sales
admin can add one ("asked by phone not to be mailed") or lift one (a bounce
from a mailbox that works again), always with a reason.

Lifting a suppression the person asked for themselves (an unsubscribe, a
complaint, a reply that opted out) would mail someone who said no: it needs
the admin to type the contact's address as confirmation, and the record says
so. Every change is a row of the contact's history (field ``suppressed``) and
of the audit log, in the transaction that makes it.
"""

from __future__ import annotations

from sqlalchemy import Engine

from outreach import audit
from outreach.audience.history import Change, record_change
from outreach.audience.profile import PERSONAL, find
from outreach.errors import InputError, StateError
from outreach.storage import transaction, utcnow
from outreach.storage.models import Suppression
from outreach.storage.outbox import add_suppression

MANUAL = "manual"
MAX_REASON = 500


def _reason(text: str, what: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise InputError(f"say why you {what} this contact (a reason is kept with the change)")
    if len(reason) > MAX_REASON:
        raise InputError(f"the reason is longer than {MAX_REASON} characters")
    return reason


def suppress(engine: Engine, key: str | int, reason: str, who: str, via: str) -> str:
    """Suppress the contact (by id or address) for ``reason``; what was done, in words."""
    why = _reason(reason, "suppress")
    with transaction(engine) as session:
        contact = find(session, key)
        existing = session.get(Suppression, contact.email)
        if existing is not None:
            raise StateError(f"{contact.email} is already suppressed ({existing.reason})", contact=contact.email)
        now = utcnow()
        add_suppression(session, contact.email, MANUAL, f"{why} (by {who})", None, now)
        record_change(session, contact.id, Change("suppressed", "", f"{MANUAL}: {why}", who, via, now))
        audit.record(session, who, via, "contact.suppress", f"contact:{contact.email}", why, now)
        return f"{contact.email} is suppressed: it will not be mailed again"


def unsuppress(engine: Engine, key: str | int, reason: str, who: str, via: str, confirm: str = "") -> str:
    """Lift the contact's suppression for ``reason``. One the person asked for (``PERSONAL``) is lifted only
    when ``confirm`` is the contact's address, typed out; what was done, in words."""
    why = _reason(reason, "lift the suppression of")
    with transaction(engine) as session:
        contact = find(session, key)
        row = session.get(Suppression, contact.email)
        if row is None:
            raise StateError(f"{contact.email} is not suppressed", contact=contact.email)
        personal = row.reason in PERSONAL
        if personal and confirm.strip().lower() != contact.email:
            raise InputError(f"{contact.email} was suppressed because of a {row.reason.replace('_', ' ')}: the person "
                             "asked not to be mailed. Lift it only if they asked to be mailed again, and type the "
                             "address to confirm it", contact=contact.email)  # fmt: skip
        now = utcnow()
        old = f"{row.reason}: {row.detail}" if row.detail else row.reason
        session.delete(row)
        confirmed = "; confirmed by typing the address (the person's own request was lifted)" if personal else ""
        record_change(session, contact.id, Change("suppressed", old, f"lifted: {why}{confirmed}", who, via, now))
        audit.record(session, who, via, "contact.unsuppress", f"contact:{contact.email}",
                     f"lifted {old}; reason: {why}{confirmed}", now)  # fmt: skip
        return f"{contact.email} may be mailed again (the {row.reason} suppression is lifted)"
