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
  succeeds or ``database.outage_timeout`` has passed since the outage began
  (its first failure, whoever saw it); then ``DatabaseUnavailable``, an
  ``OutreachError``: the CLI's one ``Error:`` line. A unit of work must be a
  whole transaction, so running it again is safe.
* ``recovered_within(seconds)``: leases could not be renewed during the outage,
  so a sender or the worker waits one lease after it before taking over
  anyone's messages: every live sender has renewed by then.

The outage is logged once when it starts and once when it ends (logger
``outreach.database``), never per retry.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

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


def describe(exc: BaseException) -> str:
    """The database's own words, on one line (without SQLAlchemy's statement and link)."""
    orig = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


class Outage:
    """One process's view of whether its database answers; see the module's docstring."""

    def __init__(self, timeout: float = 60.0, *, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None) -> None:  # fmt: skip
        self.timeout = timeout
        self.clock = clock
        self.rng = rng or random.Random()
        self.down_since: float | None = None
        self.recovered_at: float | None = None
        self.error = ""  # the first error of the outage under way
        self.tries = 0
        self.outages = 0  # how many began in this process (for reports and tests)

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def down_for(self) -> float:
        return 0.0 if self.down_since is None else self.clock() - self.down_since

    def failed(self, exc: BaseException) -> float:
        """An outage error: how long to wait before the next try; ``DatabaseUnavailable`` once past the timeout."""
        now = self.clock()
        if self.down_since is None:
            self.down_since, self.error, self.tries = now, describe(exc), 0
            self.outages += 1
            log.warning("the database is unavailable (%s); retrying for up to %g s (database.outage_timeout)",
                        self.error, self.timeout)  # fmt: skip
        self.tries += 1
        elapsed = now - self.down_since
        if elapsed >= self.timeout:
            raise DatabaseUnavailable(
                f"the database has not answered for {elapsed:.0f} s (database.outage_timeout is {self.timeout:g} s):"
                f" {self.error}", seconds=elapsed, error=self.error,
            ) from None  # fmt: skip
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (self.tries - 1)) * self.rng.uniform(0.8, 1.2)
        return max(min(delay, self.timeout - elapsed), 0.01)  # the last try falls on the timeout itself

    def succeeded(self) -> None:
        if self.down_since is not None:
            log.warning("the database is back after %.1f s", self.clock() - self.down_since)
            self.down_since, self.recovered_at = None, self.clock()

    def recovered_within(self, seconds: float) -> bool:
        """Down now, or back for less than ``seconds``."""
        return self.down or (self.recovered_at is not None and self.clock() - self.recovered_at < seconds)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, run again after each outage error until it works or the outage lasts too long."""
        while True:
            try:
                result = fn(*args)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                time.sleep(self.failed(exc))
                continue
            self.succeeded()
            return result

    async def acall(self, fn: Callable[..., T], *args: Any) -> T:
        """``call`` for the event loop: the wait between tries is an ``asyncio.sleep``, so SMTP sessions and
        requests go on meanwhile (``fn`` itself still runs in the loop)."""
        while True:
            try:
                result = fn(*args)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                await asyncio.sleep(self.failed(exc))
                continue
            self.succeeded()
            return result

    async def await_call(self, make: Callable[[], Awaitable[T]]) -> T:
        """``acall`` for work that is itself awaited (``make()`` gives a fresh awaitable per try: a thread hop)."""
        while True:
            try:
                result = await make()
            except Exception as exc:
                if not is_outage(exc):
                    raise
                await asyncio.sleep(self.failed(exc))
                continue
            self.succeeded()
            return result
