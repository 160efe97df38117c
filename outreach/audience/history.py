"""A contact's changes: corrections applied through the registry's parsers, each one kept, old -> new.

``record_changes`` is the one way a person's correction reaches a contact (the
team app's contact page, a caller's verify-by-phone outcome, the API): each
value goes through its field's parser, as an import's cell does, and is
refused with the field named when it is bad; nothing is changed unless every
value is good. Each field that really changes gets a ``contact_changes`` row
(old and new as text, who, through what, when) in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.audience.upsert import company_key
from outreach.errors import ConflictError, FieldError, NotFoundError
from outreach.fields import BUILTIN, Field, FieldSet
from outreach.fields.kinds import TEXT
from outreach.fields.parsers import BadValue, CellContext, Plain
from outreach.storage import utcnow
from outreach.storage.models import Company, Contact, ContactChange

MAX_VALUE = 500  # as an import's cell


@dataclass(frozen=True)
class Change:
    field: str
    old: str
    new: str
    who: str
    via: str
    at: datetime


def record_changes(session: Session, contact: Contact, updates: Mapping[str, object], who: str, via: str, *,
                   registry: FieldSet = BUILTIN, context: CellContext | None = None,
                   now: datetime | None = None) -> list[Change]:  # fmt: skip
    """Apply ``{field: new value}`` to ``contact`` and record what changed; returns the changes.

    A value is text as a person types it (``"0812-3456-7890"``, ``"existing"``), parsed by the
    field's parser with ``context`` (the phone region, the senders an owner may be); ``None`` or
    ``""`` clears the field back to its default. A field that cannot be set (unknown, derived, an
    empty email, an address another contact has) or a bad value raises ``FieldError`` and nothing
    changes. ``custom.KEY`` sets a custom column (through its typed field when the registry has one).
    """
    ctx, at = context or Plain(), now or utcnow()
    planned = [(name, *_planned(session, contact, registry, name, value, ctx)) for name, value in updates.items()]
    changes = []
    for name, f, value in planned:
        old = _text(contact, f)
        _apply(session, contact, f, value)
        new = _text(contact, f)
        if new != old:
            changes.append(Change(name, old, new, who, via, at))
    for change in changes:
        record_change(session, contact.id, change)
    if changes:
        contact.updated_at = at
    session.flush()
    return changes


def record_change(session: Session, contact_id: int, change: Change) -> None:
    """One row of the contact's history; also for what is not a field (its suppression, set or lifted)."""
    session.add(ContactChange(contact_id=contact_id, field=change.field, old=change.old, new=change.new,
                              who=change.who, via=change.via, at=change.at))  # fmt: skip


def contact_changes(session: Session, contact_id: int) -> list[Change]:
    """A contact's recorded changes, oldest first."""
    rows = session.scalars(select(ContactChange).where(ContactChange.contact_id == contact_id)
                           .order_by(ContactChange.at, ContactChange.id))  # fmt: skip
    return [Change(r.field, r.old, r.new, r.who, r.via, r.at) for r in rows]


def _field(registry: FieldSet, name: str, email: str) -> Field:
    found = registry.get(name)
    if found is None and name.startswith("custom.") and len(name) > len("custom."):
        return Field(name, TEXT, source="custom")
    if found is None:
        known = ", ".join((*(f.name for f in registry if f.source != "derived"), "custom.KEY"))
        raise FieldError(f"{name!r} is not a contact field (fields: {known})", field=name, contact=email)
    if found.source == "derived":
        raise FieldError(f"{name} is derived from other fields; change those instead", field=name, contact=email)
    return found


def _planned(session: Session, contact: Contact, registry: FieldSet, name: str, value: object,
             ctx: CellContext) -> tuple[Field, Any]:  # fmt: skip
    """The field and the parsed value (None: clear it); FieldError when it cannot be set."""
    f = _field(registry, name, contact.email)
    text = "" if value is None else str(value).strip()
    if len(text) > MAX_VALUE or any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise FieldError(f"{name}: a value is one line of at most {MAX_VALUE} characters", field=name,
                         contact=contact.email)  # fmt: skip
    if not text:
        if f.name == "email":
            raise FieldError("email cannot be empty", field=name, contact=contact.email)
        return f, None
    try:
        parsed, _warning = f.parse(f.name, [text], ctx)
    except BadValue as exc:  # an import keeps the contact without the value; a correction just refuses it
        raise FieldError(str(exc).removesuffix("; the contact was kept without it"), field=name,
                         contact=contact.email) from None
    if parsed is None:  # e.g. a phone cell of separators only
        raise FieldError(f"{name}: {text!r} holds no value", field=name, contact=contact.email)
    if f.name == "email" and parsed != contact.email:
        other = session.scalar(select(Contact.id).where(Contact.email == parsed))
        if other is not None:
            raise FieldError(f"another contact already has the address {parsed}", field=name, contact=contact.email)
    return f, parsed


def _text(contact: Contact, f: Field) -> str:
    if f.source == "custom":
        return f.text((contact.custom or {}).get(f.key))
    if f.source == "company":
        return f.text(getattr(contact.company, f.key) if contact.company is not None else None)
    return f.text(f.kind.view(getattr(contact, f.key)))


def _apply(session: Session, contact: Contact, f: Field, value: Any) -> None:
    if f.source == "custom":
        custom = dict(contact.custom or {})
        if value is None:
            custom.pop(f.key, None)
        else:
            custom[f.key] = value if isinstance(value, int | float | str) else f.text(value)
        contact.custom = custom
    elif f.source == "company":
        contact.company = None if value is None else _company(session, str(value))
    else:
        setattr(contact, f.key, f.default if value is None else value)


def _company(session: Session, name: str) -> Company:
    """The company of this name (case and spaces aside), made when there is none."""
    key = company_key(name)
    found = session.scalar(select(Company).where(Company.key == key))
    if found is None:
        found = Company(name=name, key=key)
        session.add(found)
    return found


@dataclass(frozen=True)
class ContactRecord:
    """A contact as ``contacts show`` prints it: every field, then its changes."""

    fields: list[tuple[str, str]]  # (field or custom.KEY, value as text), in the registry's order
    changes: list[Change]


def find_contact(session: Session, email: str) -> Contact:
    """The contact with this address (case aside); NotFoundError if none."""
    contact = session.scalar(select(Contact).where(Contact.email == email.strip().lower()))
    if contact is None:
        raise NotFoundError(f"no contact {email.strip()[:320]!r} (contacts list shows who there is)")
    return contact


def change_contact(session: Session, email: str, updates: Mapping[str, object], who: str, via: str, *,
                   registry: FieldSet = BUILTIN, context: CellContext | None = None,
                   base: str | None = None) -> list[Change]:  # fmt: skip
    """``record_changes`` for the contact with this address; with ``base`` (``contact_version`` of the copy
    the person edited) only if nobody changed the contact since: ConflictError otherwise, nothing changed."""
    contact = find_contact(session, email)
    if base is not None and base != contact_version(contact, registry):
        raise ConflictError("this contact was changed since you opened it; nothing was saved. Its values now "
                            "are shown: make your change again", contact=contact.email)  # fmt: skip
    return record_changes(session, contact, updates, who, via, registry=registry, context=context)


def contact_version(contact: Contact, registry: FieldSet = BUILTIN) -> str:
    """A short fingerprint of every value a person can change: an edit form carries the one it showed."""
    values = [(f.name, _text(contact, f)) for f in registry if f.source in ("column", "company")]
    values += sorted((str(k), str(v)) for k, v in (contact.custom or {}).items())
    return hashlib.sha256(json.dumps(values, ensure_ascii=False).encode()).hexdigest()[:20]


def contact_record(session: Session, email: str, registry: FieldSet = BUILTIN) -> ContactRecord:
    """The contact with this address (case aside) and its recorded changes; NotFoundError if none."""
    contact = find_contact(session, email)
    view = registry.view.of(contact)
    shown = [(f.name, view.text(f.name)) for f in registry if f.source != "custom"]
    shown += [(f"custom.{key}", str(value)) for key, value in sorted(view.custom.items())]
    return ContactRecord(shown, contact_changes(session, contact.id))
