"""The public routes' database work in batches, so a scanner's burst never queues request by request.

``ClickRecorder``: a click route checks its link (no database), hands the
click to this recorder and answers 302 at once. One writer task takes whatever has
gathered (up to ``batch``) and writes it in one transaction in a worker
thread: under a burst of link scanners that is a few SQLite commits a second
instead of one per request, and no request queues behind another's write.

Nothing is lost on a clean stop: ``stop()`` (the app's lifespan end, so on
Ctrl-C or SIGTERM) writes everything still queued before the server exits.
A failed write is retried with backoff; if the database is still down at
shutdown, the clicks it could not write are logged at ERROR, one line each,
so they can be replayed.

``EmailReader``: the unsubscribe confirmation page needs one read (the
address it masks); concurrent pages share one query (see the class).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence

from sqlalchemy import Engine

from outreach.storage.outage import describe, is_outage
from outreach.tracking.clicks import Click, record_clicks
from outreach.tracking.unsubscribe import Addressee, addressees

log = logging.getLogger("outreach.web.clicks")

Writer = Callable[[Engine, Sequence[Click]], int]


class ClickRecorder:
    def __init__(self, engine: Engine, *, batch: int = 200, writer: Writer = record_clicks,
                 shutdown_attempts: int = 5) -> None:  # fmt: skip
        self.engine, self.batch, self.writer = engine, batch, writer
        self.shutdown_attempts = shutdown_attempts
        self._queue: asyncio.Queue[Click | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.written = 0
        self.lost = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="click-recorder")

    def add(self, click: Click) -> None:
        """Queue a verified click; never blocks the request that made it."""
        self._queue.put_nowait(click)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def stop(self) -> None:
        """Write what is queued, then end the writer task."""
        self._stopping = True
        self._queue.put_nowait(None)
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            batch, done = ([first] if first is not None else []), first is None
            while not done and len(batch) < self.batch:
                try:
                    nxt = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    break
                if nxt is None:
                    done = True
                else:
                    batch.append(nxt)
            if batch:
                await self._write(batch)
            if done:
                return

    async def _write(self, batch: list[Click]) -> None:
        delay, attempts = 0.1, 0
        while True:
            attempts += 1
            try:
                await asyncio.to_thread(self.writer, self.engine, batch)
                self.written += len(batch)
                return
            except Exception as exc:  # noqa: BLE001 - keep the clicks and try again; the redirects went out anyway
                if is_outage(exc):  # expected for a while: one line, no traceback
                    log.warning("writing %d click(s) failed (attempt %d): the database is unavailable (%s); "
                                "they are kept and written once it answers", len(batch), attempts, describe(exc))
                else:
                    log.exception("writing %d click(s) failed (attempt %d)", len(batch), attempts)
            if self._stopping and attempts >= self.shutdown_attempts:
                self._give_up(batch)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _give_up(self, batch: list[Click]) -> None:
        self.lost += len(batch)
        for c in batch:
            log.error("click not recorded: contact %d campaign %d at %s url %s", c.contact_id, c.campaign_id,
                      c.at.isoformat(), c.url)  # fmt: skip


Pair = tuple[int, int]  # (contact id, campaign id) of a token


class EmailReader:
    """The unsubscribe page's one read, batched: concurrent requests share one query and one thread hop.

    Each request waits for its contact's address (and the page's language); whoever arrives while a query
    runs joins the next one. Under a scanner's burst that is one indexed ``IN (...)`` read per few dozen
    pages instead of a worker thread and a connection per page; alone, a request costs the same as before.
    A failed read fails exactly the requests of that batch (they answer 503).
    """

    def __init__(self, engine: Engine, run: Callable[..., Awaitable[dict[Pair, Addressee]]],
                 read: Callable[[Engine, Collection[Pair]], dict[Pair, Addressee]] = addressees) -> None:  # fmt: skip
        self.engine, self.run, self.read = engine, run, read
        self._pending: dict[Pair, list[asyncio.Future[Addressee | None]]] = {}
        self._running = False

    async def addressee(self, contact_id: int, campaign_id: int) -> Addressee | None:
        future: asyncio.Future[Addressee | None] = asyncio.get_running_loop().create_future()
        self._pending.setdefault((contact_id, campaign_id), []).append(future)
        if not self._running:
            self._running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                try:
                    emails = await self.run(self.read, self.engine, list(batch))
                except Exception as exc:  # noqa: BLE001 - handed to each waiting request, which answers 503
                    for futures in batch.values():
                        for f in futures:
                            if not f.done():
                                f.set_exception(exc)
                    continue
                for pair, futures in batch.items():
                    for f in futures:
                        if not f.done():
                            f.set_result(emails.get(pair))
        finally:
            self._running = False
