"""The engine's bookkeeping: grouped commits of marks and outcomes, the failure health check, backoff.

Kept apart from the pipeline itself so each can be read (and tested) on its own.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Engine

from outreach.storage import outbox
from outreach.storage.outage import Outage

T = TypeVar("T")


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with ±20% jitter, so retries of a burst do not stampede."""
    return min(cap, base * (2 ** max(attempt - 1, 0))) * rng.uniform(0.8, 1.2)


class Ledger:
    """The engine's one writer: the outcome of each attempt, and the ``sending`` mark each message gets
    right before its own SMTP transaction, committed together in groups.

    Why marks are taken one message at a time, by the connection about to send it: a row is ``sending``
    on disk only once its transaction has started, so after a crash (SIGKILL, power) the rows a lease
    take-over finds mid-attempt — ``uncertain``, resent only on request — are the ones really in an SMTP
    transaction, while those still waiting in memory are only ``claimed`` and go back to the queue.

    Why that costs little: a connection asks (``mark(id)``) as its transaction starts and needs the mark
    on disk only before DATA (``settled``), two round trips later. Nothing is committed until some
    connection needs its mark; that commit takes every mark asked by then — four a commit with four
    connections, measured — and no connection waits for a commit it could have overlapped. (One commit
    per message, before MAIL FROM, cost a quarter more CPU per message.) Each commit also carries every
    outcome other than ``sent`` (a refusal, a retry, a message given back), so a connection never has
    more than one row on disk that the relay did not take and that is not answered: after a crash,
    uncertain rows the relay never received <= connections. ``sent`` outcomes, which update the contact
    too, ride along with the first commit a ``tick`` (5 ms) after they came, and get a commit of their
    own only when no mark needs one (the end of a run); a crash can leave those few uncertain as well,
    but the relay has them.

    On SQLite a commit is a few dozen microseconds of CPU and runs in the loop; on a server it waits on
    the network, so it runs in a thread of its own and the loop drives the SMTP sessions meanwhile. Both
    use one connection kept for the run (``outbox.Settler``).

    During a database outage everything waits here, in memory, and the writer tries again
    (``Outage``): the messages in flight finish and their outcomes are recorded once the database is
    back; no message starts meanwhile, since its mark cannot be made durable. Past the outage timeout
    the waiting marks fail with ``DatabaseUnavailable`` and ``results`` holds what was never recorded.
    """

    def __init__(self, engine: Engine, worker: str, now: Callable[[], datetime], lease: timedelta, db: Outage,
                 tick: float = 0.005) -> None:  # fmt: skip
        self.worker, self.now, self.lease, self.db, self.tick = worker, now, lease, db, tick
        self.settler = outbox.Settler(engine)
        self.results: list[outbox.Result] = []  # outcomes not written yet
        self.marks: dict[int, asyncio.Future[bool]] = {}
        self.failed: BaseException | None = None  # why the writer stopped: no mark can be made any more
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._sent_due = False
        # a server's commit waits on the network (and its disk): in a thread, the loop goes on meanwhile;
        # SQLite's costs a few dozen microseconds of CPU, less than a hop to a thread and back
        self._thread = None if engine.dialect.name == "sqlite" else ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="outreach-ledger")  # fmt: skip

    def add(self, result: outbox.Result) -> None:
        """An outcome (or a row given back): written with the next mark, a ``sent`` one within a tick."""
        self.results.append(result)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.tick, self._tick)

    def _tick(self) -> None:
        """``sent`` outcomes are due: the next commit for a mark takes them along (a few milliseconds
        later while messages flow); only if none comes within another tick do they get a commit of their own."""
        self._timer = None
        self._sent_due = True
        asyncio.get_running_loop().call_later(self.tick, self._overdue)

    def _overdue(self) -> None:
        if self._sent_due:
            self._wake.set()

    def mark(self, row_id: int) -> asyncio.Future[bool]:
        """Ask for ``row_id`` to be marked ``sending``; the next commit does it, at the latest when someone
        needs a mark (``settled``). Its result: True once it is on disk, False when the row is no longer
        ours (its lease ran out and another sender took it over): then it must not be sent."""
        if self.failed is not None:
            raise self.failed
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.marks[row_id] = future
        return future

    async def settled(self, mark: asyncio.Future[bool]) -> bool:
        """Wait for ``mark`` to be on disk, committing now if nobody has yet."""
        if not mark.done():
            self._wake.set()
        return await mark

    async def run(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                await self.db.await_call(self._commit)
        except BaseException as exc:  # the outage outlasted its timeout (or the run is over): nobody may send
            self.failed = exc if isinstance(exc, Exception) else RuntimeError("the ledger has stopped")
            for future in self.marks.values():
                if future.done():
                    continue
                if isinstance(exc, Exception):
                    future.set_exception(exc)
                else:
                    future.cancel()
            self.marks.clear()
            raise

    async def _commit(self, everything: bool = False) -> None:
        """One transaction, in the ledger's thread, for the marks asked so far and the outcomes due."""
        with_sent = everything or self._sent_due
        results = [r for r in self.results if with_sent or r.state != "sent"]
        ids = list(self.marks)
        if not results and not ids:
            return
        owned = await self._in_thread(self.settler.settle, results, ids, self.worker, self.now(), self.lease)
        if with_sent:
            self._sent_due = False
        written = {id(r) for r in results}
        self.results = [r for r in self.results if id(r) not in written]
        for row_id in ids:
            future = self.marks.pop(row_id)
            if not future.done():
                future.set_result(row_id in owned)

    async def flush(self) -> None:
        """Everything still held (the end of a run), riding out an outage like every commit."""
        await self.db.await_call(lambda: self._commit(everything=True))

    async def close(self) -> None:
        await self._in_thread(self.settler.close)
        if self._thread is not None:
            self._thread.shutdown(wait=False)

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        if self._thread is None:
            return fn(*args)
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)


class Health:
    """Auto-pause: too many permanent failures or connection errors among recent attempts.

    Bounces that come back later and blame the sender (spam, blocked, policy,
    authentication: see ``tracking/reasons.py``) turn attempts that looked sent
    into failed ones, oldest first, via ``add_late``.
    """

    def __init__(self, window: int, rate: float, minimum: int) -> None:
        self.recent: deque[bool] = deque(maxlen=window)
        self.rate, self.minimum = rate, minimum

    def add(self, bad: bool) -> str | None:
        self.recent.append(bad)
        return self.verdict()

    def add_late(self, count: int) -> str | None:
        """``count`` earlier attempts bounced afterwards for the sender's reasons."""
        for index, bad in enumerate(self.recent):
            if count <= 0:
                break
            if not bad:
                self.recent[index] = True
                count -= 1
        return self.verdict()

    def verdict(self) -> str | None:
        bad_n = sum(self.recent)
        if len(self.recent) >= self.minimum and bad_n / len(self.recent) > self.rate:
            return f"{bad_n} of the last {len(self.recent)} attempts failed ({bad_n / len(self.recent):.0%})"
        return None
