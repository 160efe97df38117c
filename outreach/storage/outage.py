"""Database outages: what counts as one, and riding through it, in one place.

The sending engine, the worker, the web app and IMAP polling all call the
database while something else is under way (SMTP sessions, a mailbox, HTTP
requests). When the database goes away for a while they must neither die with
a traceback nor lose what they hold, so each unit of work goes through an
``Outage`` (one per process, shared by every caller in it):

* ``is_outage(exc)`` says whether an error means "the database is not
  answering now" — PostgreSQL restarting, failing over or refusing
  connections (SQLSTATE class 08, 57P01-57P03, 53300, a read-only standby,
  a connection cut mid-statement), or SQLite's "database is locked" once its
  busy timeout ran out (another process holds the write lock). Anything else
  (a constraint, a bad query) is a bug or bad data and is raised as it is.
* ``call`` / ``acall`` run a unit of work and, during an outage, run it again
  with exponential backoff (0.25 s doubling to 5 s, jittered) until it
  succeeds or ``database.outage_timeout`` has passed since its first
  failure; then ``DatabaseUnavailable``, an ``OutreachError``: the CLI's one
  ``Error:`` line. Once one unit of work gave up, the others give up at their
  next failure instead of waiting a whole timeout each. A unit of work must be
  a whole transaction, so running it again is safe. A deadlock or
  serialization failure (``is_conflict``: two senders updating the same rows
  in another order) is no outage; the work simply runs again at once, a few
  times.
* ``recovered_within(seconds)``: leases could not be renewed during the outage,
  so a sender or the worker waits one lease after it before taking over
  anyone's messages: every live sender has renewed by then.

The outage is logged once when it starts and once when it ends (logger
``outreach.database``), never per retry; the worker's jobs, which do not wait
but run again at their next time, report their failures here too (``fail``,
``ok``), so they share the one view.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from outreach.errors import DatabaseUnavailable

log = logging.getLogger("outreach.database")
T = TypeVar("T")

FIRST_DELAY = 0.25  # seconds before the first retry; doubles up to MAX_DELAY
MAX_DELAY = 5.0
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
# SQLSTATEs of a server that is going, gone, not yet back, or full: admin_shutdown, crash_shutdown,
# cannot_connect_now ("the database system is shutting down / starting up"), too_many_connections,
# read_only_sql_transaction (a failover left us on a standby); class 08 is every connection exception
_PG_OUTAGE = frozenset({"57P01", "57P02", "57P03", "53300", "25006"})
_PG_CONFLICT = frozenset({"40001", "40P01"})  # serialization failure, deadlock detected: run the work again
CONFLICT_TRIES = 10


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` means the database is not answering now (and may later), not that the work is wrong."""
    orig: BaseException | None = exc
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:  # SQLAlchemy saw the connection die under it
            return True
        orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError):
        return str(orig).lower().startswith(_SQLITE_BUSY)
    if isinstance(orig, sqlite3.Error):
        return False
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate.startswith("08") or sqlstate in _PG_OUTAGE
    # no SQLSTATE: no server answered at all (refused, reset, closed, timed out)
    return isinstance(exc, OperationalError | InterfaceError)


def is_conflict(exc: BaseException) -> bool:
    """True when the server rolled the transaction back to let a concurrent one through (two senders updating
    the same rows in another order): not an outage, but the same unit of work simply runs again."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return getattr(orig, "sqlstate", None) in _PG_CONFLICT


def describe(exc: BaseException) -> str:
    """The database's own words, on one line (without SQLAlchemy's statement and link)."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


class Outage:
    """One process's view of whether its database answers; see the module's docstring.

    The database is "down" while any caller's work keeps failing with an outage error, and "back" when
    the last of them succeeded: a read that works while SQLite refuses writes does not end the outage of
    the writer waiting. Each unit of work counts its own time against the timeout, from its first failure.
    """

    def __init__(self, timeout: float = 60.0, *, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:  # fmt: skip
        self.timeout = timeout
        self.clock = clock
        self.rng = rng or random.Random()
        self.down_since: float | None = None
        self.recovered_at: float | None = None
        self.outages = 0  # how many began in this process (for reports and tests)
        self._failing: dict[object, float] = {}  # caller -> when its work first failed
        self.gave_up: DatabaseUnavailable | None = None  # a caller gave up: the others do at their next failure

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def fail(self, key: object, exc: BaseException) -> float:
        """``key``'s work failed with an outage error: when it first did. The outage begins (and is logged)
        with the first caller failing."""
        now = self.clock()
        if key not in self._failing:
            if not self._failing and self.gave_up is None:  # once given up, the rest only fails fast
                self.down_since = now
                self.outages += 1
                log.warning("the database is unavailable (%s); retrying (database.outage_timeout: %g s)",
                            describe(exc), self.timeout)  # fmt: skip
            self._failing[key] = now
        return self._failing[key]

    def ok(self, key: object, recovered: bool = True) -> None:
        """``key``'s work went through (or it gave up: ``recovered`` False); the last one ends the outage."""
        if self._failing.pop(key, None) is None:
            return
        if recovered:
            self.gave_up = None
        if self._failing:
            return
        if recovered and self.down_since is not None:
            log.warning("the database is back after %.1f s", self.clock() - self.down_since)
            self.recovered_at = self.clock()
        self.down_since = None

    def recovered_within(self, seconds: float) -> bool:
        """Down now, or back for less than ``seconds``."""
        return self.down or (self.recovered_at is not None and self.clock() - self.recovered_at < seconds)

    def retry_after(self, exc: Exception, key: object, tries: int) -> float:
        """How long ``key`` waits before running its work again after ``exc`` (its ``tries``-th failure);
        raises when that is not for retrying: a bug, bad data, or an outage that lasted too long."""
        if is_outage(exc):
            since = self.fail(key, exc)
            elapsed = self.clock() - since
            if self.gave_up is not None:
                self.ok(key, recovered=False)
                raise self.gave_up from None
            if elapsed >= self.timeout:
                self.ok(key, recovered=False)
                error = describe(exc)
                self.gave_up = DatabaseUnavailable(
                    f"the database has not answered for {elapsed:.0f} s (database.outage_timeout is "
                    f"{self.timeout:g} s): {error}", seconds=elapsed, error=error,
                )  # fmt: skip
                raise self.gave_up from None
            delay = min(MAX_DELAY, FIRST_DELAY * 2 ** min(tries, 10)) * self.rng.uniform(0.8, 1.2)
            return max(min(delay, self.timeout - elapsed), 0.01)  # the last try falls on the timeout itself
        self.ok(key, recovered=False)
        if is_conflict(exc) and tries < CONFLICT_TRIES:
            return self.rng.uniform(0.005, 0.05 * (tries + 1))
        raise exc

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, run again after each outage error until it works or the outage lasts too long."""
        key, tries = object(), 0
        try:
            while True:
                try:
                    result = fn(*args)
                except Exception as exc:
                    time.sleep(self.retry_after(exc, key, tries))
                    tries += 1
                    continue
                self.ok(key)
                return result
        finally:
            self.ok(key, recovered=False)  # stopped while it waited (cancelled, interrupted): it waits no more

    async def acall(self, fn: Callable[..., T], *args: Any) -> T:
        """``call`` for the event loop: the wait between tries is an ``asyncio.sleep``, so SMTP sessions and
        requests go on meanwhile (``fn`` itself still runs in the loop)."""

        async def once() -> T:
            return fn(*args)

        return await self.await_call(once)

    async def await_call(self, make: Callable[[], Awaitable[T]]) -> T:
        """``acall`` for work that is itself awaited (``make()`` gives a fresh awaitable per try: a thread hop)."""
        key, tries = object(), 0
        try:
            while True:
                try:
                    result = await make()
                except Exception as exc:
                    await asyncio.sleep(self.retry_after(exc, key, tries))
                    tries += 1
                    continue
                self.ok(key)
                return result
        finally:
            self.ok(key, recovered=False)  # cancelled while it waited (the run is over): it waits no more


def ping(engine: Engine) -> None:
    """One round trip: raises when the database does not answer (``/healthz``)."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
