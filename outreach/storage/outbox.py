"""The outbox state machine, as the few storage calls the sending engine makes.

queued ──claim──► claimed ──attempt──► sending ──► sent | retry | failed
   ▲                 │ lease expired            │ lease expired
   └─────────────────┘ (never attempted)        └─► uncertain (the relay may have it)

Every transition is committed before the action it guards: a row is
``sending`` on disk before its SMTP transaction sends DATA (the first command
that can deliver anything; the engine asks for the mark as the transaction
starts and commits it meanwhile, in groups), so a crash can only leave it
``uncertain``, never silently resend it, and only while it is in a transaction. Claims are an UPDATE over a
``SELECT ... FOR UPDATE SKIP LOCKED`` sub-select (due retries, then fresh rows):
atomic on PostgreSQL with many workers, and on SQLite, where one writer holds
the lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, func, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from outreach.fields import BUILTIN
from outreach.fields.view import company_label
from outreach.storage import changed_rows, transaction
from outreach.storage.driver import Driver, marks
from outreach.storage.models import Campaign, Company, Contact, Event, Outbox, Suppression

PENDING = ("queued", "retry", "claimed", "sending")


@dataclass(frozen=True)
class Result:
    """What happened to one attempted row."""

    outbox_id: int
    state: str  # sent | retry | failed | queued (released without an attempt)
    code: int | None = None
    error: str | None = None
    next_attempt_at: datetime | None = None
    suppress_reason: str | None = None  # set when the relay says the address is dead


OUTBOX = Outbox.__table__
CONTACTS = Contact.__table__


class _Driver(Driver):
    """The engine's per-batch statements (claim, mark, record), written for the DB-API driver.

    These run a few times per hundred messages on the loop that also drives the SMTP
    sessions; through the ORM each cost ~3× more (compiling the expanding IN, building
    the result), and the relay waits meanwhile.
    """

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.locking = self.dialect != "sqlite"  # SQLite has one writer; others lock and skip rows

    def ids(self, sql: str, params: Sequence[Any]) -> list[int]:
        return [row[0] for row in self.run(sql, params)]


def _lease(db: _Driver, campaign_id: int, state: str, limit: int, worker: str, lease: timedelta,
           now: datetime) -> list[int]:  # fmt: skip
    """Lease due rows of one state, without ORDER BY: the rows come in the order of
    ``ix_outbox_claim`` (due time, then id on SQLite), so the database reads ``limit``
    index entries instead of sorting the whole campaign."""
    fresh = "next_attempt_at IS NULL OR " if state == "queued" else ""  # held for a window: has a time
    lock = " FOR UPDATE SKIP LOCKED" if db.locking else ""
    return db.ids(
        "UPDATE outbox SET state = 'claimed', lease_owner = ?, lease_expires_at = ?, updated_at = ? "
        "WHERE id IN (SELECT id FROM outbox WHERE campaign_id = ? AND state = ? "
        f"AND ({fresh}next_attempt_at <= ?) LIMIT ?{lock}) RETURNING id",
        (worker, db.ts(now + lease), db.ts(now), campaign_id, state, db.ts(now), limit),
    )


def _drop_suppressed(db: _Driver, ids: list[int], now: datetime) -> list[int]:
    """Claimed rows whose address was suppressed after the build (an unsubscribe, a bounce
    from another campaign) never leave: they become ``suppressed`` in the same transaction."""
    if not ids:
        return ids
    gone = set(db.ids(
        "UPDATE outbox SET state = 'suppressed', lease_owner = NULL, lease_expires_at = NULL, updated_at = ? "
        f"WHERE id IN ({marks(len(ids))}) AND email IN (SELECT email FROM suppressions) RETURNING id",
        (db.ts(now), *ids),
    ))  # fmt: skip
    return [i for i in ids if i not in gone]


def claim(engine: Engine, campaign_id: int, worker: str, limit: int, lease: timedelta,
          now: datetime, threads: bool = True) -> list[Any]:  # fmt: skip
    """Lease up to ``limit`` due rows to ``worker``.

    Returns plain Core rows (outbox columns, the contact's columns, the company's as
    ``company_name`` and ``company_timezone``): no ORM objects on the per-message path.
    """
    with engine.begin() as conn:
        db = _Driver(conn)
        # due retries first (their backoff is over), then fresh rows; each an index range
        # read up to ``limit`` rows, so a claim costs the batch, not the campaign
        ids = _lease(db, campaign_id, "retry", limit, worker, lease, now)
        if len(ids) < limit:
            ids += _lease(db, campaign_id, "queued", limit - len(ids), worker, lease, now)
        ids = _drop_suppressed(db, ids, now)
    if not ids:
        return []
    companies = Company.__table__
    first = OUTBOX.alias("first")
    first_message_id: Any = literal(None).label("first_message_id")
    if threads:  # follow-up steps thread under the first email: fetch its Message-ID
        first = OUTBOX.alias("first")
        first_message_id = (
            select(first.c.message_id)
            .where(first.c.campaign_id == OUTBOX.c.campaign_id, first.c.contact_id == OUTBOX.c.contact_id,
                   first.c.step == 0)
            .scalar_subquery()
            .label("first_message_id")
        )  # fmt: skip
    query = (
        select(OUTBOX.c.id, OUTBOX.c.campaign_id, OUTBOX.c.contact_id, OUTBOX.c.email, OUTBOX.c.step,
               OUTBOX.c.message_id, OUTBOX.c.variant, OUTBOX.c.language.label("message_language"),
               OUTBOX.c.attempts, first_message_id,
               *(CONTACTS.c[name] for name in CONTACT_FIELDS),
               *(companies.c[name].label(company_label(name)) for name in COMPANY_FIELDS))
        .join(CONTACTS, CONTACTS.c.id == OUTBOX.c.contact_id)
        .outerjoin(companies, companies.c.id == CONTACTS.c.company_id)
        .where(OUTBOX.c.id.in_(ids))
        .order_by(OUTBOX.c.id)
    )  # fmt: skip
    with engine.connect() as conn:
        return list(conn.execute(query))


# What a message's ``ContactView`` is made of (``ViewBase.from_row``): the registry's stored fields
# (the email is the outbox row's) and custom columns, and the company's columns the registry reads
# (``company_name``; ``company_timezone``, which a contact without its own inherits).
CONTACT_FIELDS = (*(f.key for f in BUILTIN.stored if f.name != "email"), "custom")
COMPANY_FIELDS = tuple(dict.fromkeys(f.key for f in BUILTIN if f.source == "company" or f.inherits_company))


def mark_sending(session: Session, ids: Sequence[int], worker: str, now: datetime, lease: timedelta) -> set[int]:
    """claimed -> sending (attempts + 1), committed before any of them is handed to SMTP."""
    return _mark(_Driver(session.connection()), ids, worker, now, lease)


def _mark(db: _Driver, ids: Sequence[int], worker: str, now: datetime, lease: timedelta) -> set[int]:
    if not ids:
        return set()
    return set(db.ids(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, lease_expires_at = ?, updated_at = ? "
        f"WHERE id IN ({marks(len(ids))}) AND state = 'claimed' AND lease_owner = ? RETURNING id",
        (db.ts(now + lease), db.ts(now), *ids, worker),
    ))  # fmt: skip


_RECORD = (
    "UPDATE outbox SET state = ?, updated_at = ?, lease_owner = NULL, lease_expires_at = NULL, "
    "last_code = ?, last_error = ?, sent_at = ?, next_attempt_at = ? "
    "WHERE id = ? AND ((lease_owner = ? AND state IN ('claimed', 'sending')) "
    "OR state = 'uncertain')"  # we know better than the reaper: we have the answer
)


def record(session: Session, results: Sequence[Result], worker: str, now: datetime) -> None:
    """Write outcomes of attempts (or releases) by ``worker`` in one executemany; the contacts of the
    sent ones get ``last_contacted_at`` (the UTC date of ``now``) in the same transaction."""
    _record(_Driver(session.connection()), results, worker, now)
    _failures(session, results, now)


def _record(db: _Driver, results: Sequence[Result], worker: str, now: datetime) -> None:
    if not results:
        return
    at = db.ts(now)
    db.many(_RECORD, [
        (r.state, at, r.code, r.error[:2000] if r.error else None, at if r.state == "sent" else None,
         db.ts(r.next_attempt_at), r.outbox_id, worker)
        for r in results
    ])  # fmt: skip
    sent = [r.outbox_id for r in results if r.state == "sent"]
    if sent:  # the contact was mailed: durable with the `sent` record itself, one statement per batch
        day = now.date()
        db.run(
            "UPDATE contacts SET last_contacted_at = ? WHERE id IN "
            f"(SELECT contact_id FROM outbox WHERE id IN ({marks(len(sent))})) "
            "AND (last_contacted_at IS NULL OR last_contacted_at < ?)",
            (db.day(day), *sent, db.day(day)),
        )
        record_sent_events(db, sent, at)


def _failures(session: Session, results: Sequence[Result], now: datetime) -> None:
    """A ``failed`` event per refused message, and the suppression of an address the relay says is dead."""
    failed = [r for r in results if r.state == "failed"]
    for r in failed:
        row = session.execute(
            select(OUTBOX.c.campaign_id, OUTBOX.c.contact_id, OUTBOX.c.email).where(OUTBOX.c.id == r.outbox_id)
        ).first()
        if row is None:
            continue
        session.add(Event(kind="failed", at=now, campaign_id=row.campaign_id, outbox_id=r.outbox_id,
                          contact_id=row.contact_id, detail={"code": r.code, "error": r.error}))  # fmt: skip
        if r.suppress_reason:
            add_suppression(session, row.email, r.suppress_reason, r.error, row.campaign_id, now)


def record_sent_events(db: Driver, outbox_ids: Sequence[int], at: Any) -> None:
    """One ``sent`` event per message the relay took, for the API's feed and the webhooks (events/feed.py).

    Written in the transaction that records the ``sent`` state, in one statement for the batch, after the
    other writes of ``record``: on PostgreSQL the first event insert takes the feed's ordering lock
    (migration 0005), held only from here to the commit. Only rows this very ``record`` made ``sent`` (its
    time in ``sent_at``) get one: an answer that came too late to change its row records no event either.
    The event keeps nothing of its own (``{}``): the feed reads the message's facts from its outbox row.
    """
    db.run(
        "INSERT INTO events (kind, at, campaign_id, outbox_id, contact_id, detail) "
        f"SELECT 'sent', ?, campaign_id, id, contact_id, ? FROM outbox WHERE id IN ({marks(len(outbox_ids))}) "
        "AND state = 'sent' AND sent_at = ? ORDER BY id",
        (at, db.json({}), *outbox_ids, at),
    )


class Settler:
    """The sending engine's ledger writes on one connection it keeps for the run (see
    sending/recording.py): outcomes and ``sending`` marks in one transaction, without a pool checkout, a
    Session or the dialect's converters made again per commit — a commit per few messages stays cheap.

    Used from one thread at a time. After a failed commit (an outage) the connection is dropped, and
    the next call opens another.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.conn: Connection | None = None
        self.db: _Driver | None = None

    def settle(self, results: Sequence[Result], ids: Sequence[int], worker: str, now: datetime,
               lease: timedelta) -> set[int]:  # fmt: skip
        """Record ``results``, then mark ``ids`` ``sending``; the ids that are ours (still claimed by us)."""
        if self.conn is None or self.db is None:
            self.conn = self.engine.connect()
            self.db = _Driver(self.conn)
        try:
            with self.conn.begin():
                _record(self.db, results, worker, now)
                if any(r.state == "failed" for r in results):
                    with Session(bind=self.conn) as session:
                        _failures(session, results, now)
                        session.flush()
                return _mark(self.db, ids, worker, now, lease)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        conn, self.conn, self.db = self.conn, None, None
        if conn is not None:
            with contextlib.suppress(Exception):  # a connection the server already dropped
                conn.close()


def add_suppression(session: Session, email: str, reason: str, detail: str | None,
                    campaign_id: int | None, now: datetime) -> bool:  # fmt: skip
    if session.get(Suppression, email) is not None:
        return False
    session.add(Suppression(email=email, reason=reason, detail=detail, campaign_id=campaign_id, created_at=now))
    session.flush()
    return True


def renew(engine: Engine, worker: str, now: datetime, lease: timedelta) -> None:
    with transaction(engine) as session:
        session.execute(
            update(Outbox)
            .where(Outbox.lease_owner == worker, Outbox.state.in_(("claimed", "sending")))
            .values(lease_expires_at=now + lease)
            .execution_options(synchronize_session=False)
        )


def release(engine: Engine, worker: str, now: datetime) -> int:
    """Give back rows claimed but never attempted (pause, cancel, shutdown)."""
    with transaction(engine) as session:
        res = session.execute(
            update(Outbox)
            .where(Outbox.lease_owner == worker, Outbox.state == "claimed")
            .values(state="queued", lease_owner=None, lease_expires_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        return changed_rows(res)


def expire_leases(engine: Engine, now: datetime, campaign_id: int | None = None) -> tuple[int, int]:
    """Take over the rows of senders whose lease ran out (they died, or hung for a whole lease):
    never attempted -> queued again; mid-attempt -> uncertain (the relay may have them).

    Every sender does this while it runs and the worker on a timer, so a crashed sender's rows
    come back one lease after its last renewal, whoever is running then. A live sender renews
    its leases every quarter lease; if it was only slow, its answers still land (``record``
    accepts an outcome for an ``uncertain`` row) and a requeued row is never sent by it, since
    ``mark_sending`` takes only rows still claimed by their owner. ``campaign_id`` limits the
    work to one campaign's index range. Returns (queued again, uncertain).
    """
    scope = [Outbox.campaign_id == campaign_id] if campaign_id is not None else []
    with transaction(engine) as session:
        base = and_(*scope, Outbox.lease_expires_at.is_not(None), Outbox.lease_expires_at < now)
        requeued = changed_rows(session.execute(
            update(Outbox).where(base, Outbox.state == "claimed")
            .values(state="queued", lease_owner=None, lease_expires_at=None, updated_at=now)
            .execution_options(synchronize_session=False)
        ))  # fmt: skip
        uncertain = changed_rows(session.execute(
            update(Outbox).where(base, Outbox.state == "sending")
            .values(state="uncertain", lease_owner=None, lease_expires_at=None, updated_at=now,
                    last_error="worker stopped during the SMTP transaction; the relay may have it")
            .execution_options(synchronize_session=False)
        ))  # fmt: skip
    return requeued, uncertain


@dataclass(frozen=True)
class Waiting:
    """What keeps a sender that has nothing to claim from being done with its campaign."""

    ready: bool  # rows claimable now (taken over, given back, or their time came)
    pending: int  # rows queued or waiting to retry, due now or later
    due: datetime | None  # the earliest of them (a retry's backoff, a sending window)
    mine: int  # this sender's own rows still in flight
    held: int  # rows leased to other senders
    holders: tuple[str, ...]  # those senders
    lease_ends: datetime | None  # when the first of their leases runs out, unless renewed

    def busy(self) -> bool:
        return bool(self.mine or self.held)


def waiting(session: Session, campaign_id: int, worker: str, now: datetime) -> Waiting:
    pending, due, fresh = session.execute(
        select(func.count(), func.min(Outbox.next_attempt_at),
               func.count(Outbox.id).filter(Outbox.next_attempt_at.is_(None)))
        .where(Outbox.campaign_id == campaign_id, Outbox.state.in_(("queued", "retry")))
    ).one()  # fmt: skip
    leased = session.execute(
        select(Outbox.lease_owner, func.count(), func.min(Outbox.lease_expires_at))
        .where(Outbox.campaign_id == campaign_id, Outbox.state.in_(("claimed", "sending")))
        .group_by(Outbox.lease_owner)
    ).all()  # fmt: skip
    others = [(owner or "?", n, ends) for owner, n, ends in leased if owner != worker]
    ends = [e for _, _, e in others if e is not None]
    return Waiting(
        ready=bool(fresh) or (due is not None and due <= now),
        pending=pending,
        due=due,
        mine=sum(n for owner, n, _ in leased if owner == worker),
        held=sum(n for _, n, _ in others),
        holders=tuple(sorted(owner for owner, _, _ in others)),
        lease_ends=min(ends) if ends else None,
    )


def cancel_pending(session: Session, campaign_id: int, now: datetime) -> int:
    """Everything not yet attempted of a cancelled campaign; rows mid-attempt finish first."""
    res = session.execute(
        update(Outbox)
        .where(Outbox.campaign_id == campaign_id, Outbox.state.in_(("queued", "retry", "claimed")))
        .values(state="cancelled", lease_owner=None, lease_expires_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return changed_rows(res)


def state_counts(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Outbox.state, func.count()).where(Outbox.campaign_id == campaign_id).group_by(Outbox.state)
    )
    return {state: n for state, n in rows}


def last_event_id(engine: Engine) -> int:
    """The newest event's id (0 when there is none): where "recorded since now" starts."""
    with Session(engine) as session:
        return int(session.scalar(select(func.max(Event.id))) or 0)


def sender_problems_since(engine: Engine, campaign_id: int, after_id: int) -> tuple[int, int]:
    """Bounces and authentication-failure reports recorded for a campaign after event ``after_id``
    whose category puts the fault with the sender (relay, domain, content): (how many, newest id seen).

    Ingest writes ``detail["category"]``; the engine counts these as failed attempts for auto-pause.
    """
    with Session(engine) as session:
        rows = session.execute(
            select(Event.id, Event.detail).where(
                Event.campaign_id == campaign_id, Event.id > after_id, Event.kind.in_(("bounced", "auth_failure"))
            )
        ).all()
    count = sum(1 for _id, detail in rows if (detail or {}).get("category") == "sender")
    return count, max((event_id for event_id, _detail in rows), default=after_id)


def campaign_state(engine: Engine, campaign_id: int) -> str:
    with Session(engine) as session:
        return session.scalar(select(Campaign.state).where(Campaign.id == campaign_id)) or "missing"
