"""The database: every message is a row with a state.

Contacts, companies, campaigns, the outbox (one row per campaign, contact and
step), events (what happened to a message), the suppression list and
follow-up items. Segments and campaign definitions are files, not rows; a
campaign row only records what was frozen from them and its lifecycle.

No ``from __future__ import annotations`` here: every command imports this
module, and with string annotations SQLAlchemy evaluates each ``Mapped[...]``
again at import (a third of the module's import time). A class is referred to
only after it is defined.
"""

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false

from outreach.fields import BUILTIN


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Per-database key/values (e.g. the generated unsubscribe secret)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Company(Base):
    __tablename__ = "companies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(255), unique=True)  # casefolded name
    industry: Mapped[str | None] = mapped_column(String(120))
    city: Mapped[str | None] = mapped_column(String(120))
    timezone: Mapped[str | None] = mapped_column(String(64))


class Contact(Base):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # normalised, lowercase
    first_name: Mapped[str] = mapped_column(String(120), default="")
    last_name: Mapped[str] = mapped_column(String(120), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(64), default="")
    company_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id"), index=True)
    industry: Mapped[str] = mapped_column(String(120), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(20), default="prospect")
    owner: Mapped[str] = mapped_column(String(64), default="")
    last_contacted_at: Mapped[date | None] = mapped_column(Date)
    transactions: Mapped[int] = mapped_column(Integer, default=0)
    tags: Mapped[str] = mapped_column(Text, default="")  # ";a;b;" so LIKE '%;a;%' matches a tag
    custom: Mapped[dict] = mapped_column(JSON, default=dict)
    language: Mapped[str] = mapped_column(String(8), default="", server_default="")  # id | en | "" (the workspace's)
    needs_cleanup: Mapped[str | None] = mapped_column(String(200))
    cooling_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    company: Mapped[Company | None] = relationship(lazy="joined")


def _registry_columns() -> None:
    """A field of the registry (``outreach.fields``) without a column above gets one: adding a field
    is the registry, a migration and its tests. The columns above are the built-in fields', typed for
    the code that reads them by name; tests/test_fields.py checks they are the registry's."""
    for f in BUILTIN.stored:
        if f.key not in Contact.__table__.c:
            server = None if f.default is None else str(f.default)
            setattr(Contact, f.key, mapped_column(f.sql_type(), default=f.default, server_default=server,
                                                  nullable=f.default is None))  # fmt: skip


_registry_columns()


class ContactChange(Base):
    """One field of one contact changed: old and new value as text, who changed it and through what
    (``audience.history.record_changes``; the import's updates are not recorded here)."""

    __tablename__ = "contact_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    field: Mapped[str] = mapped_column(String(120))  # a field of the registry, or custom.KEY
    old: Mapped[str] = mapped_column(Text, default="")
    new: Mapped[str] = mapped_column(Text, default="")
    who: Mapped[str] = mapped_column(String(120), default="")  # a user of the app, a caller, "cli"
    via: Mapped[str] = mapped_column(String(32), default="")  # cli | app | verify | api ...
    at: Mapped[datetime] = mapped_column(DateTime)


class Campaign(Base):
    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    segment: Mapped[str] = mapped_column(String(120))
    sender: Mapped[str] = mapped_column(String(64))
    # draft -> built -> sending -> done; paused / cancelled at any time
    state: Mapped[str] = mapped_column(String(20), default="built")
    state_reason: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    schedule_at: Mapped[datetime | None] = mapped_column(DateTime)
    preflight_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Outbox(Base):
    """One message to one contact for one campaign step.

    States: queued, claimed (leased by a worker), retry, sent, failed,
    uncertain (a lease expired: the relay may or may not have it),
    suppressed, cancelled.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id", "step", name="uq_outbox_campaign_contact"),
        Index("ix_outbox_claim", "campaign_id", "state", "next_attempt_at"),
        # the contact policy at build: a contact's recent and pending emails, read by index
        Index("ix_outbox_contact_state_sent", "contact_id", "state", "sent_at"),
        Index("ix_outbox_sent_at", "sent_at"),  # /metrics: the last minute's sends, without reading the outbox
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    step: Mapped[int] = mapped_column(Integer, default=0)
    email: Mapped[str] = mapped_column(String(320), index=True)
    state: Mapped[str] = mapped_column(String(20), default="queued")
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    variant: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))  # id | en: the content version it was built in
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Event(Base):
    """Something that happened to a message or contact: sent, bounced, replied..."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_kind_campaign", "kind", "campaign_id"),
        Index("ix_events_contact_kind_at", "contact_id", "kind", "at"),  # the contact policy's "replied lately"
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(DateTime)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    # the inbound message's own Message-ID, so ingesting a file twice records nothing twice
    source_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class Suppression(Base):
    __tablename__ = "suppressions"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(Text)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class FollowUp(Base):
    """A contact for a caller to phone (queue call) or a sales exec to visit."""

    __tablename__ = "followups"
    __table_args__ = (Index("ix_followups_contact_state", "contact_id", "state"),)  # the policy's open items
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    queue: Mapped[str] = mapped_column(String(10))  # call | visit
    state: Mapped[str] = mapped_column(String(10), default="open")  # open | done
    priority: Mapped[int] = mapped_column(Integer, default=50)
    owner: Mapped[str] = mapped_column(String(64), default="")
    reason: Mapped[str] = mapped_column(String(200), default="")
    last_subject: Mapped[str] = mapped_column(Text, default="")
    reply_excerpt: Mapped[str] = mapped_column(Text, default="")
    due_date: Mapped[date | None] = mapped_column(Date)
    visit_at: Mapped[datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(32), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    # bumped by every ORM update (SQLAlchemy's version counter: the UPDATE says WHERE version = the one
    # read), so two callers saving the same item cannot overwrite each other unseen
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    contact: Mapped[Contact] = relationship(lazy="joined")
    intent: Mapped[str | None] = mapped_column(String(20))  # the reply's intent (tracking/intents.py)
    question: Mapped[str | None] = mapped_column(Text)  # the question the reply asks, quoted on the card

    __mapper_args__ = {"version_id_col": version}


class User(Base):
    """An account of the team app: an executive, a writer or a caller.

    Only an argon2 hash of the password is kept. ``session_gen`` is part of
    every session cookie: bumping it (logout, password change) ends every
    session of the user at once. ``calendar_gen`` does the same for the
    secret address of the user's calendar feed.
    """

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # lowercase
    role: Mapped[str] = mapped_column(String(16))  # executive | writer | caller
    sender: Mapped[str | None] = mapped_column(String(64))  # a key of senders in outreach.yaml
    email: Mapped[str | None] = mapped_column(String(320))  # where the writer's test copies go
    password_hash: Mapped[str] = mapped_column(String(255))
    session_gen: Mapped[int] = mapped_column(Integer, default=1)
    calendar_gen: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    # a disabled account cannot log in and its API tokens do nothing; its sessions ended when it was disabled
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ReplyIntent(Base):
    """What the reader (or an admin) decided a reply wants, and whether the admin should look at it.

    One row per "replied" event; ``decided_by`` is "reader" until someone sets the intent by
    hand (``outreach replies set-intent``), which also records an ``intent_set`` event.
    """

    __tablename__ = "reply_intents"
    __table_args__ = (Index("ix_reply_intents_contact_intent_at", "contact_id", "intent", "at"),)  # the decline hold
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), unique=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"))
    intent: Mapped[str] = mapped_column(String(20))
    unsure: Mapped[bool] = mapped_column(Boolean, default=False)
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    question: Mapped[str | None] = mapped_column(Text)
    referral_name: Mapped[str | None] = mapped_column(String(200))
    referral_email: Mapped[str | None] = mapped_column(String(320))
    decided_by: Mapped[str] = mapped_column(String(64), default="reader")
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    at: Mapped[datetime] = mapped_column(DateTime)


class ContactProposal(Base):
    """A successor named in a referral or left_company reply, waiting for the admin: proposed | approved | rejected."""

    __tablename__ = "contact_proposals"
    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default="proposed")
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("reply_intents.id"))
    old_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    new_contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    owner: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(64))


class WorkerHeartbeat(Base):
    """One running (or last seen) ``outreach worker``: who it is, and when it last showed a sign of life.

    The worker writes its row at every pass and at least every few seconds while idle; a row whose
    ``beat_at`` is old belongs to a worker that died (``stopped_at`` is set only by a clean stop).
    Read by ``outreach worker --status``, the team app and ``/metrics`` (operations/heartbeat.py).
    """

    __tablename__ = "worker_heartbeats"
    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # HOST:PID:RANDOM, as the engine's lease owner
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    beat_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    pass_at: Mapped[datetime | None] = mapped_column(DateTime)  # the end of its last pass over due campaigns
    last_pass: Mapped[dict] = mapped_column(JSON, default=dict)  # what that pass did, and totals since start
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime)


class HookToken(Base):
    """A token an email service's signed post used (Mailgun's), kept while such a post is still accepted:
    the same signed post sent again (a replay) is refused."""

    __tablename__ = "hook_tokens"
    key: Mapped[str] = mapped_column(String(160), primary_key=True)  # "mailgun:TOKEN"
    seen_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ApiToken(Base):
    """A bearer token of the JSON API (``outreach users token NAME``); it acts with its user's role.

    Only the SHA-256 of the token is kept: a token is 256 random bits, so a fast hash is as safe as a slow
    one, and a request is checked with one indexed lookup. Removing the user removes its tokens.
    """

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the whole token
    hint: Mapped[str] = mapped_column(String(16))  # the token's first characters, to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(DateTime)


class WebhookReceiver(Base):
    """One ``webhooks:`` entry of outreach.yaml, as the worker delivers to it (keyed by its URL).

    ``cursor`` is the newest event already queued for it; ``lease_owner``/``lease_until`` let one worker
    at a time deliver to it (several workers on one PostgreSQL database).
    """

    __tablename__ = "webhook_receivers"
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)  # hex SHA-256 of the URL
    url: Mapped[str] = mapped_column(Text)
    cursor: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_delivered_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class WebhookDelivery(Base):
    """One event to one receiver: pending (waiting, or failing and retried with backoff), delivered, dead.

    ``contact_id`` is copied from the event so that a contact's later events wait while an earlier one is
    still pending (in order per contact) with one indexed look-up.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("receiver_id", "event_id", name="uq_webhook_delivery"),
        Index("ix_webhook_due", "receiver_id", "state", "next_attempt_at"),
        Index("ix_webhook_contact", "receiver_id", "contact_id", "state", "event_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    receiver_id: Mapped[int] = mapped_column(ForeignKey("webhook_receivers.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    contact_id: Mapped[int | None] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12), default="pending")  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    first_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class ContentVersion(Base):
    """One version of a file the writer edits (campaigns/*.md, blocks/*.md) or an image uploaded for it:
    who saved it, when, how big, and its text (images: none), so the history shows diffs and can restore.

    Written by ``studio/saving.py`` in the same lock as the file itself; ``action`` says how the version came:
    ``created`` (content new), ``saved``, ``restored`` (from an earlier version, ``note``), ``found`` (the file
    changed on disk outside the app, noticed at the next save), ``uploaded`` (an image)."""

    __tablename__ = "content_versions"
    __table_args__ = (Index("ix_content_versions_path", "path", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(String(400))  # workspace-relative, with /
    at: Mapped[datetime] = mapped_column(DateTime)
    who: Mapped[str] = mapped_column(String(120), default="")
    via: Mapped[str] = mapped_column(String(32), default="")  # app | cli | disk
    action: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(Integer)  # bytes
    digest: Mapped[str] = mapped_column(String(64))  # hex SHA-256 of the bytes: the editor's ``base``
    body: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str] = mapped_column(String(200), default="")


class CampaignCount(Base):
    """A campaign's messages by state and by event, kept by triggers in the transactions that change them
    (storage/counts.py): the status reads these rows instead of counting the outbox."""

    __tablename__ = "campaign_counts"
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(String(24), primary_key=True)  # an outbox state, queued_later, ev:KIND
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # 0; PostgreSQL: txid
    n: Mapped[int] = mapped_column(BigInteger, default=0)


class ContactAlias(Base):
    """An address of a contact merged into another (``outreach contacts merge KEEP OTHER``): OTHER's address and
    its old id now mean KEEP, so a reply from the old address, or a link in a message sent to it, still finds
    the person (audience/merge.py)."""

    __tablename__ = "contact_aliases"
    email: Mapped[str] = mapped_column(String(320), primary_key=True)  # OTHER's address, normalised
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)  # KEEP
    merged_id: Mapped[int] = mapped_column(Integer, index=True)  # OTHER's id, which old unsubscribe links carry
    who: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)


class AuditEntry(Base):
    """Who changed what, through what, when: one row per change a person made to something that is not a
    contact's field (those are ``contact_changes``) nor content (``content_versions``): an account, an import,
    a suppression, a campaign or segment file, a campaign's step (build, send, schedule, pause ...).

    Written by ``outreach.audit.record`` in the transaction of the change it records (``record_now`` for files).
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_subject_at", "subject", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    who: Mapped[str] = mapped_column(String(120), default="")  # a user of the app, "cli"
    via: Mapped[str] = mapped_column(String(32), default="")  # app | cli | api ...
    action: Mapped[str] = mapped_column(String(64))  # user.add, contacts.import, contact.unsuppress, edit, send ...
    subject: Mapped[str] = mapped_column(String(400))  # what it was done to: "user:cali", "campaign:promo" ...
    detail: Mapped[str] = mapped_column(Text, default="")  # in words, for the page that lists them


# The admin's contact list filters by these (audience/search.py: the filter's values too, by a loose index scan).
# Not status: two values, no index narrows them; walking the email index serves a page better.
Index("ix_contacts_city", Contact.city)
Index("ix_contacts_owner", Contact.owner)
