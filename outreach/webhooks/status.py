"""Each receiver's state for people: what waits, what fails and why, what was given up on.

Read from the delivery rows and the feed, for ``outreach webhooks status`` and
the executives' ``/app/webhooks`` page. ``backlog`` counts what the receiver
has still to get: pending deliveries, and events of its types not yet queued
(the worker queues them on its next pass).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select

from outreach.events.feed import KIND, utc_text
from outreach.settings.config import Webhook
from outreach.storage import transaction
from outreach.storage.models import Event, WebhookDelivery, WebhookReceiver
from outreach.webhooks.deliveries import receiver_key


@dataclass(frozen=True)
class ReceiverStatus:
    url: str
    events: tuple[str, ...]
    configured: bool  # still in outreach.yaml
    secret_set: bool
    seen: bool  # a worker has queued for it (its first events are the ones after that moment)
    backlog: int = 0
    failing: int = 0  # of the backlog, deliveries that failed at least once and are retried
    dead: int = 0
    delivered: int = 0
    oldest_pending: datetime | None = None  # the creation time of the oldest pending delivery (UTC)
    last_error: str | None = None
    last_error_at: datetime | None = None
    last_delivered_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["events"] = list(self.events)
        for key in ("oldest_pending", "last_error_at", "last_delivered_at"):
            out[key] = utc_text(out[key]) if out[key] else None
        return out


def receivers_status(engine: Engine, hooks: tuple[Webhook, ...]) -> list[ReceiverStatus]:
    """The configured receivers, then any the database still has deliveries for (removed from the file)."""
    by_key = {receiver_key(h.url): h for h in hooks}
    with transaction(engine) as session:
        rows = {r.key: r for r in session.scalars(select(WebhookReceiver))}
        counts: Counts = {
            (rid, state): (n, failing, oldest) for rid, state, n, failing, oldest in session.execute(
                select(WebhookDelivery.receiver_id, WebhookDelivery.state, func.count(),
                       func.count().filter(WebhookDelivery.attempts > 0), func.min(WebhookDelivery.created_at))
                .group_by(WebhookDelivery.receiver_id, WebhookDelivery.state))
        }  # fmt: skip
        unqueued = {key: _unqueued(session, row, by_key[key]) for key, row in rows.items() if key in by_key}
    out = []
    for key, hook in by_key.items():
        out.append(_status(hook.url, hook.events, True, hook.secret() is not None, rows.get(key), counts,
                           unqueued.get(key, 0)))  # fmt: skip
    for key, row in rows.items():
        if key not in by_key and (counts.get((row.id, "pending")) or counts.get((row.id, "dead"))):
            out.append(_status(row.url, (), False, False, row, counts, 0))
    return out


def _unqueued(session: Any, row: WebhookReceiver, hook: Webhook) -> int:
    kinds = [KIND[t] for t in hook.events]
    return int(session.scalar(select(func.count()).where(Event.id > row.cursor, Event.kind.in_(kinds))) or 0)


Counts = dict[tuple[int, str], tuple[int, int, datetime | None]]  # (receiver, state) -> (n, failing, oldest)


def _status(url: str, events: tuple[str, ...], configured: bool, secret_set: bool, row: WebhookReceiver | None,
            counts: Counts, unqueued: int) -> ReceiverStatus:  # fmt: skip
    if row is None:
        return ReceiverStatus(url, events, configured, secret_set, seen=False)
    pending, failing, oldest = counts.get((row.id, "pending"), (0, 0, None))
    return ReceiverStatus(
        url, events, configured, secret_set, seen=True, backlog=pending + unqueued, failing=failing,
        dead=counts.get((row.id, "dead"), (0, 0, None))[0],
        delivered=counts.get((row.id, "delivered"), (0, 0, None))[0],
        oldest_pending=oldest, last_error=row.last_error, last_error_at=row.last_error_at,
        last_delivered_at=row.last_delivered_at,
    )  # fmt: skip
