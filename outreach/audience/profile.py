"""One contact's whole page: its fields, and everything that happened with it, read as the rows are.

The sales admin opens a contact to answer "why did this person not get our
mail?" or "who changed this number?": so the page has the fields (from the
registry, custom ones too), the suppression and its reason, every message
(its state, not only the sent ones), replies with their intent, the calls and
visits with their outcomes, other events (bounces, unsubscribes, clicks), and
who changed what (``contact_changes``). Each list is the newest ``LIMIT``
rows, read by the indexes the contact policy already uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.audience.history import Change, contact_changes, contact_version
from outreach.errors import NotFoundError
from outreach.fields import BUILTIN, FieldSet
from outreach.storage.models import Campaign, Contact, Event, FollowUp, Outbox, ReplyIntent, Suppression

LIMIT = 200
MAX_KEY = 320
REPLY_TEXT = 2000
# Suppressions that are the person's own wish (or their mail provider's report of it): lifting one needs the
# admin to confirm it in words, which is recorded (audience/suppression.py)
PERSONAL = ("complaint", "unsubscribe", "reply_opt_out")
_EVENT_WORDS = {"bounced": "bounced", "clicked": "clicked a link", "unsubscribed": "unsubscribed",
                "complained": "marked as spam", "auto_reply": "auto-reply", "failed": "refused by the relay",
                "intent_set": "reply intent set by hand", "auth_failure": "failed authentication"}  # fmt: skip


@dataclass(frozen=True)
class Suppressed:
    reason: str
    detail: str
    at: datetime
    campaign: str

    @property
    def personal(self) -> bool:
        """The person asked for it (or complained): lifting it must be confirmed, and is recorded."""
        return self.reason in PERSONAL


@dataclass(frozen=True)
class Message:
    at: datetime  # sent, else last changed
    campaign: str
    step: int
    state: str
    subject: str
    email: str
    error: str


@dataclass(frozen=True)
class Reply:
    at: datetime
    campaign: str
    text: str
    intent: str | None
    decided_by: str | None


@dataclass(frozen=True)
class Task:
    """A call, visit or verify item: what was asked and how it ended."""

    queue: str
    state: str
    outcome: str
    notes: str
    reason: str
    owner: str
    due: date | None
    visit_at: datetime | None
    updated_at: datetime
    campaign: str


@dataclass(frozen=True)
class Happened:
    at: datetime
    what: str
    campaign: str
    detail: str


@dataclass(frozen=True)
class Profile:
    id: int
    email: str
    name: str
    fields: list[tuple[str, str, str]]  # (field, label, value as text), the registry's order, custom after
    suppressed: Suppressed | None
    messages: list[Message]
    replies: list[Reply]
    tasks: list[Task]
    events: list[Happened]
    changes: list[Change]  # newest first
    version: str  # what an edit form carries back (audience/history.py ``contact_version``)


def find(session: Session, key: str | int) -> Contact:
    """The contact with this id (digits) or address (case aside); NotFoundError naming what was asked."""
    text = str(key).strip()[:MAX_KEY]
    if text.isascii() and text.isdigit() and len(text) <= 12:
        contact = session.get(Contact, int(text))
    else:
        contact = session.scalar(select(Contact).where(Contact.email == text.lower()))
    if contact is None:
        raise NotFoundError(f"no contact {text!r} (the contact list shows who there is)")
    return contact


def contact_profile(engine: Engine, key: str | int, registry: FieldSet = BUILTIN) -> Profile:
    """Everything the contact's page shows, in one session."""
    with Session(engine) as session:
        contact = find(session, key)
        names: dict[int | None, str] = dict(session.execute(select(Campaign.id, Campaign.name)).all())
        view = registry.view.of(contact)
        shown = [(f.name, f.title, view.text(f.name)) for f in registry if f.source != "custom"]
        shown += [(f"custom.{k}", k, str(v)) for k, v in sorted(view.custom.items())]
        return Profile(contact.id, contact.email, view.text("full_name") if "full_name" in registry else "",
                       shown, _suppressed(session, contact.email, names), _messages(session, contact.id, names),
                       _replies(session, contact.id, names), _tasks(session, contact.id, names),
                       _events(session, contact.id, names),
                       list(reversed(contact_changes(session, contact.id)))[:LIMIT],
                       contact_version(contact, registry))  # fmt: skip


def _suppressed(session: Session, email: str, names: dict[int | None, str]) -> Suppressed | None:
    row = session.get(Suppression, email)
    if row is None:
        return None
    return Suppressed(row.reason, row.detail or "", row.created_at, names.get(row.campaign_id, ""))


def _messages(session: Session, contact_id: int, names: dict[int | None, str]) -> list[Message]:
    rows = session.scalars(select(Outbox).where(Outbox.contact_id == contact_id)
                           .order_by(Outbox.id.desc()).limit(LIMIT))  # fmt: skip
    return [Message(r.sent_at or r.updated_at, names.get(r.campaign_id, ""), r.step, r.state, r.subject or "", r.email,
                    (r.last_error or "")[:300] if r.state in ("failed", "retry", "uncertain") else "")
            for r in rows]  # fmt: skip


def _replies(session: Session, contact_id: int, names: dict[int | None, str]) -> list[Reply]:
    rows = session.execute(
        select(Event, ReplyIntent.intent, ReplyIntent.decided_by)
        .outerjoin(ReplyIntent, ReplyIntent.event_id == Event.id)
        .where(Event.contact_id == contact_id, Event.kind == "replied")
        .order_by(Event.at.desc(), Event.id.desc()).limit(LIMIT)
    ).all()  # fmt: skip
    out = []
    for event, intent, decided_by in rows:
        detail = event.detail or {}
        text = str(detail.get("reply_text") or detail.get("subject") or "")[:REPLY_TEXT]
        out.append(Reply(event.at, names.get(event.campaign_id, ""), text, intent, decided_by))
    return out


def _tasks(session: Session, contact_id: int, names: dict[int | None, str]) -> list[Task]:
    rows = session.scalars(select(FollowUp).where(FollowUp.contact_id == contact_id)
                           .order_by(FollowUp.updated_at.desc(), FollowUp.id.desc()).limit(LIMIT))  # fmt: skip
    return [Task(r.queue, r.state, r.outcome, r.notes, r.reason, r.owner, r.due_date, r.visit_at, r.updated_at,
                 names.get(r.campaign_id, "")) for r in rows]  # fmt: skip


def _events(session: Session, contact_id: int, names: dict[int | None, str]) -> list[Happened]:
    """What the other lists do not show: bounces, unsubscribes, complaints, clicks, auto-replies."""
    rows = session.scalars(select(Event).where(Event.contact_id == contact_id, Event.kind.in_(tuple(_EVENT_WORDS)))
                           .order_by(Event.at.desc(), Event.id.desc()).limit(LIMIT))  # fmt: skip
    return [Happened(r.at, _EVENT_WORDS[r.kind], names.get(r.campaign_id, ""), _detail(r.detail or {})) for r in rows]


def _detail(detail: dict[str, object]) -> str:
    for key in ("reason", "error", "url", "via", "subject", "intent"):
        if detail.get(key):
            return str(detail[key])[:300]
    return ""
