"""The delivery rows: what each receiver has still to get, and what happened to each attempt.

* A receiver's ``cursor`` is the newest event already queued for it. Queuing
  (``enqueue``) reads the feed after it, up to the newest id at its start
  (every smaller id is committed by then: migration 0005), and writes one
  ``pending`` row per event of the receiver's types, in one transaction with
  the new cursor: nothing is queued twice or skipped. A receiver seen for the
  first time starts at the newest event (earlier ones are in the API's feed).
* Due (``due``): pending rows whose time has come and that no earlier pending
  row of the same contact holds back, oldest event first: a contact's events
  arrive in order, and one failing event of a contact holds back only that
  contact's later ones. At most one row per contact is due at a time, so the
  runner may post the due rows side by side.
* An answer (``record``): 2xx is ``delivered``; anything else is retried after
  ``backoff`` doubling up to ``max_backoff``, until ``retry_for`` after its
  first attempt, when it becomes ``dead`` (kept, shown by ``webhooks status``,
  and ``webhooks redeliver`` queues it again).
* A receiver is delivered to by one worker at a time (a lease on its row), so
  several workers on one PostgreSQL database do not post the same event twice
  at once. Delivery is still at least once: a crash between a receiver's 2xx
  and the record of it means a second POST, and receivers dedupe by ``id``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from outreach.events.feed import KIND
from outreach.storage import changed_rows, transaction
from outreach.storage.models import Event, WebhookDelivery, WebhookReceiver

QUEUE_BATCH = 1000


@dataclass(frozen=True)
class Due:
    delivery_id: int
    event_id: int
    attempts: int
    first_attempt_at: datetime | None


@dataclass(frozen=True)
class Attempt:
    """How one POST went: ``status`` (None: no HTTP answer at all) and, unless it was a 2xx, why not."""

    status: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Retry:
    backoff: float  # seconds before the second attempt
    max_backoff: float
    retry_for: float  # seconds after the first attempt: then dead


def receiver_key(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()


def receiver(engine: Engine, url: str, now: datetime) -> int:
    """The receiver's row id; made on first sight, its cursor at the newest event."""
    key = receiver_key(url)
    with transaction(engine) as session:
        found = session.scalar(select(WebhookReceiver.id).where(WebhookReceiver.key == key))
        if found is not None:
            return found
        newest = int(session.scalar(select(func.max(Event.id))) or 0)
        row = WebhookReceiver(key=key, url=url, cursor=newest, created_at=now)
        session.add(row)
        session.flush()
        return row.id


def has_work(engine: Engine, receiver_id: int, now: datetime) -> bool:
    """New events since the cursor, or a pending delivery due: read only, so an idle pass writes nothing."""
    with transaction(engine) as session:
        cursor = session.scalar(select(WebhookReceiver.cursor).where(WebhookReceiver.id == receiver_id)) or 0
        if session.scalar(select(Event.id).where(Event.id > cursor).limit(1)) is not None:
            return True
        return session.scalar(select(WebhookDelivery.id).where(
            WebhookDelivery.receiver_id == receiver_id, WebhookDelivery.state == "pending",
            WebhookDelivery.next_attempt_at <= now).limit(1)) is not None  # fmt: skip


def lease(engine: Engine, receiver_id: int, owner: str, now: datetime, seconds: float) -> bool:
    """Take (or keep) the receiver for ``seconds``; False while another worker holds it."""
    with transaction(engine) as session:
        return changed_rows(session.execute(
            update(WebhookReceiver)
            .where(WebhookReceiver.id == receiver_id,
                   or_(WebhookReceiver.lease_owner.is_(None), WebhookReceiver.lease_owner == owner,
                       WebhookReceiver.lease_until < now))
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
            .execution_options(synchronize_session=False)
        )) == 1  # fmt: skip


def holder(engine: Engine, receiver_id: int) -> str | None:
    with transaction(engine) as session:
        return session.scalar(select(WebhookReceiver.lease_owner).where(WebhookReceiver.id == receiver_id))


def take_over(engine: Engine, receiver_id: int, gone: str, owner: str, now: datetime, seconds: float) -> bool:
    """The lease of a worker known to be dead (``gone``), taken at once rather than when it runs out."""
    with transaction(engine) as session:
        return changed_rows(session.execute(
            update(WebhookReceiver).where(WebhookReceiver.id == receiver_id, WebhookReceiver.lease_owner == gone)
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=seconds))
            .execution_options(synchronize_session=False)
        )) == 1  # fmt: skip


def release(engine: Engine, receiver_id: int, owner: str) -> None:
    with transaction(engine) as session:
        session.execute(
            update(WebhookReceiver).where(WebhookReceiver.id == receiver_id, WebhookReceiver.lease_owner == owner)
            .values(lease_owner=None, lease_until=None).execution_options(synchronize_session=False)
        )  # fmt: skip


def enqueue(engine: Engine, receiver_id: int, types: Collection[str], now: datetime, limit: int = QUEUE_BATCH) -> int:
    """Queue the receiver's events after its cursor (at most ``limit``); how many were queued."""
    kinds = [KIND[t] for t in types]
    with transaction(engine) as session:
        row = session.get(WebhookReceiver, receiver_id)
        assert row is not None
        top = int(session.scalar(select(func.max(Event.id))) or 0)
        if top <= row.cursor:
            return 0
        events = session.execute(
            select(Event.id, Event.contact_id)
            .where(Event.id > row.cursor, Event.id <= top, Event.kind.in_(kinds))
            .order_by(Event.id).limit(limit)
        ).all()  # fmt: skip
        session.add_all(WebhookDelivery(receiver_id=receiver_id, event_id=event_id, contact_id=contact_id,
                                        state="pending", attempts=0, next_attempt_at=now, created_at=now,
                                        updated_at=now) for event_id, contact_id in events)  # fmt: skip
        row.cursor = events[-1][0] if len(events) == limit else top
        return len(events)


def due(engine: Engine, receiver_id: int, now: datetime, limit: int) -> list[Due]:
    """Pending deliveries due now, none held back by an earlier pending one of its contact; oldest first."""
    d, earlier = WebhookDelivery, aliased(WebhookDelivery)
    held = exists().where(earlier.receiver_id == d.receiver_id, earlier.contact_id == d.contact_id,
                          earlier.state == "pending", earlier.event_id < d.event_id)  # fmt: skip
    with transaction(engine) as session:
        rows = session.execute(
            select(d.id, d.event_id, d.attempts, d.first_attempt_at)
            .where(d.receiver_id == receiver_id, d.state == "pending", d.next_attempt_at <= now, ~held)
            .order_by(d.event_id).limit(limit)
        ).all()  # fmt: skip
    return [Due(*row) for row in rows]


def next_due(engine: Engine, receiver_id: int) -> datetime | None:
    """When the receiver's earliest pending delivery is due (held back or not): for the runner's rest."""
    with transaction(engine) as session:
        return session.scalar(select(func.min(WebhookDelivery.next_attempt_at)).where(
            WebhookDelivery.receiver_id == receiver_id, WebhookDelivery.state == "pending"))  # fmt: skip


def record(engine: Engine, receiver_id: int, item: Due, attempt: Attempt, now: datetime, retry: Retry,
           rng: random.Random | None = None) -> str:  # fmt: skip
    """The attempt's outcome on its row (and the receiver's last error or success); the row's new state."""
    first = item.first_attempt_at or now
    attempts = item.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "first_attempt_at": first, "last_status": attempt.status,
                                 "updated_at": now}  # fmt: skip
    if attempt.ok:
        state = "delivered"
        values.update(state=state, last_error=None)
    else:
        dead = now - first >= timedelta(seconds=retry.retry_for)
        state = "dead" if dead else "pending"
        values.update(state=state, last_error=(attempt.error or "no answer")[:1000],
                      next_attempt_at=now + timedelta(seconds=backoff(attempts, retry, rng or random.Random())))
    with transaction(engine) as session:
        session.execute(update(WebhookDelivery).where(WebhookDelivery.id == item.delivery_id, WebhookDelivery.state
                                                      == "pending").values(**values)
                        .execution_options(synchronize_session=False))  # fmt: skip
        mark = {"last_delivered_at": now} if attempt.ok else {"last_error": (attempt.error or "")[:1000],
                                                               "last_error_at": now}  # fmt: skip
        session.execute(update(WebhookReceiver).where(WebhookReceiver.id == receiver_id).values(**mark)
                        .execution_options(synchronize_session=False))  # fmt: skip
    return state


def note_error(engine: Engine, receiver_id: int, error: str, now: datetime) -> None:
    """A problem of the receiver as a whole (its secret is not set): shown by ``webhooks status``."""
    with transaction(engine) as session:
        session.execute(update(WebhookReceiver).where(WebhookReceiver.id == receiver_id)
                        .values(last_error=error[:1000], last_error_at=now)
                        .execution_options(synchronize_session=False))  # fmt: skip


def backoff(attempts: int, retry: Retry, rng: random.Random) -> float:
    """``backoff`` doubling with each failed attempt, up to ``max_backoff``, ±10%: a burst of failures does
    not come back all at once."""
    return min(retry.max_backoff, retry.backoff * 2 ** max(attempts - 1, 0)) * rng.uniform(0.9, 1.1)


def redeliver(engine: Engine, url: str | None, now: datetime) -> int:
    """Dead deliveries (of one receiver, or all) pending again, due now, with a fresh retry period."""
    where = [WebhookDelivery.state == "dead"]
    if url is not None:
        where.append(WebhookDelivery.receiver_id.in_(
            select(WebhookReceiver.id).where(WebhookReceiver.key == receiver_key(url))))  # fmt: skip
    with transaction(engine) as session:
        return changed_rows(session.execute(
            update(WebhookDelivery).where(and_(*where))
            .values(state="pending", attempts=0, first_attempt_at=None, next_attempt_at=now, updated_at=now)
            .execution_options(synchronize_session=False)
        ))  # fmt: skip
