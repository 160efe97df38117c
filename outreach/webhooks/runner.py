"""A receiver's deliveries as the worker runs them: queue the new events, post what is due, record.

``Deliverer.run(hook)`` is one pass for one receiver: it leases the receiver,
queues the events that came since, and posts the due ones, ``concurrency`` at
a time (at most one per contact: see deliveries.py), each recorded as soon as
its answer (or its timeout) comes; again while more are due, for at most
``budget`` seconds, renewing the lease for each batch; then it gives the
lease back. A worker killed mid-pass holds it a timeout and a margin longer. The worker
runs one such job per receiver on its own schedule, beside the sending jobs:
the POSTs are asyncio I/O and the database work runs in threads, so a
receiver that is down or hangs costs its own job time and never the engine's.
A missing secret queues on (``webhooks status`` shows the backlog and says
why) and posts nothing: an unsigned event would be refused anyway.

``clock`` gives the database's time (naive UTC); tests pass a fake one to
see 24 hours of retries go by without waiting for them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Engine

from outreach.events.feed import FeedEvent, events_by_id
from outreach.settings.config import Webhook
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import utcnow
from outreach.webhooks import deliveries
from outreach.webhooks.deliveries import Attempt, Due, Retry
from outreach.webhooks.post import SIGNATURE, body, post, signature

log = logging.getLogger("outreach.webhooks")
T = TypeVar("T")
LEASE_MARGIN = 20.0  # seconds beyond one batch's POSTs (at most one timeout) a receiver stays leased
BUDGET = 30.0


@dataclass
class PassReport:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    queued: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.failed + self.dead


@dataclass
class Deliverer:
    ws: WorkspaceConfig
    engine: Engine
    owner: str
    clock: Callable[[], datetime] = utcnow
    rng: random.Random = field(default_factory=random.Random)
    _ids: dict[str, int] = field(default_factory=dict)

    async def run(self, hook: Webhook, stop: asyncio.Event | None = None, budget: float = BUDGET) -> PassReport:
        report = PassReport()
        receiver_id = await self._receiver(hook)
        if not await self._db(deliveries.has_work, self.engine, receiver_id, self.clock()):
            return report
        if not await self._lease(hook, receiver_id):
            return report  # another worker delivers to it now
        try:
            await self._pass(hook, receiver_id, report, stop or asyncio.Event(), time.monotonic() + budget)
        finally:
            await self._db(deliveries.release, self.engine, receiver_id, self.owner)
        return report

    async def _lease(self, hook: Webhook, receiver_id: int) -> bool:
        """Take or renew the receiver for one batch. A crashed worker's lease ends a timeout and a margin
        later, or at once when that worker ran on this machine and its process is gone (a restart)."""
        seconds = hook.timeout + LEASE_MARGIN
        if await self._db(deliveries.lease, self.engine, receiver_id, self.owner, self.clock(), seconds):
            return True
        gone = await self._db(deliveries.holder, self.engine, receiver_id)
        return gone is not None and dead_here(gone) and await self._db(
            deliveries.take_over, self.engine, receiver_id, gone, self.owner, self.clock(), seconds)  # fmt: skip

    async def _receiver(self, hook: Webhook) -> int:
        if hook.url not in self._ids:
            self._ids[hook.url] = await self._db(deliveries.receiver, self.engine, hook.url, self.clock())
        return self._ids[hook.url]

    async def _pass(self, hook: Webhook, receiver_id: int, report: PassReport, stop: asyncio.Event,
                    deadline: float) -> None:  # fmt: skip
        while not stop.is_set() and time.monotonic() < deadline:
            report.queued += await self._db(deliveries.enqueue, self.engine, receiver_id, hook.events, self.clock())
            secret = hook.secret()
            if secret is None:
                await self._db(deliveries.note_error, self.engine, receiver_id,
                               f"${hook.secret_env} is not set: nothing is delivered until the worker has it",
                               self.clock())  # fmt: skip
                return
            batch = await self._db(deliveries.due, self.engine, receiver_id, self.clock(), hook.concurrency)
            if not batch or not await self._lease(hook, receiver_id):
                return
            events = await self._db(events_by_id, self.engine, [d.event_id for d in batch], self.ws.tz)
            await self._post_all(hook, receiver_id, secret, batch, events, report, stop)

    async def _post_all(self, hook: Webhook, receiver_id: int, secret: bytes, batch: list[Due],
                        events: dict[int, FeedEvent], report: PassReport, stop: asyncio.Event) -> None:  # fmt: skip
        slots = asyncio.Semaphore(hook.concurrency)

        async def one(item: Due) -> None:
            async with slots:
                event = events.get(item.event_id)
                attempt = (await self._post(hook, secret, event) if event is not None
                           else Attempt(None, f"event {item.event_id} is not in the feed"))  # fmt: skip
                state = await self._db(deliveries.record, self.engine, receiver_id, item, attempt, self.clock(),
                                       Retry(hook.backoff, hook.max_backoff, hook.retry_for), self.rng)  # fmt: skip
                if state == "delivered":
                    report.delivered += 1
                elif state == "dead":
                    report.dead += 1
                    log.error("webhook %s: event %d dead-lettered after retrying since %s: %s", hook.url,
                              item.event_id, item.first_attempt_at, attempt.error)  # fmt: skip
                else:
                    report.failed += 1

        work: asyncio.Future[Any] = asyncio.ensure_future(asyncio.gather(*(one(item) for item in batch)))
        stopping: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not work.done():  # the worker is stopping: what is in flight is posted again next time
            work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work

    async def _post(self, hook: Webhook, secret: bytes, event: FeedEvent) -> Attempt:
        raw = body(event.as_dict())
        headers = {SIGNATURE: signature(secret, raw), "X-Outreach-Event": event.type,
                   "X-Outreach-Delivery": str(event.id)}  # fmt: skip
        return await post(hook.url, raw, headers, hook.timeout)

    async def _db(self, fn: Callable[..., T], *args: object) -> T:
        return await asyncio.to_thread(fn, *args)



def dead_here(owner: str) -> bool:
    """``owner`` (``host:pid:…``, as sending.engine.worker_id makes it) is a process of this machine that
    no longer runs."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # it runs, as another user
        return False
    return False
