"""The engine's ledger (sending/recording.py) on PostgreSQL, where its commits wait on a thread of their own.

A commit that waits on the database (a row lock held by another session, here; a busy server, in life) must
not strand what arrives meanwhile: a ``sent`` outcome added during the commit is written by a commit of its
own a tick later, with no mark coming to carry it. Stranded, the row stays ``sending`` on disk, the sender
waits for it for ever and renews its lease, and every other sender of the campaign waits on that lease.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from engine_support import bulk_workspace, prepare
from helpers import DEADLINE, free_port
from sqlalchemy import Engine, create_engine, text

from outreach.sending.recording import Ledger
from outreach.storage import outbox, transaction, utcnow
from outreach.storage.outage import Outage

WORKER = "test-host:1:abcdef"
LEASE = timedelta(minutes=5)
pytestmark = pytest.mark.postgres


async def until(predicate: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    """``helpers.wait_for`` for a test running on the event loop: the loop goes on while it polls."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}")
        await asyncio.sleep(0.02)


async def turns(n: int = 10) -> None:
    """Let the loop run ``n`` times: with ``tick=0`` each of the ledger's timers fires within one turn."""
    for _ in range(n):
        await asyncio.sleep(0)


def in_flight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str) -> tuple[Engine, list[int]]:
    """A campaign of two messages, both ``sending`` for WORKER: the relay has them, their answers are due."""
    monkeypatch.setenv("OUTREACH_DATABASE_URL", pg_url)
    root = bulk_workspace(tmp_path / "ws", 2)
    _ws, engine = prepare(root, free_port(), monkeypatch)
    with transaction(engine) as session:
        campaign_id = session.execute(text("SELECT id FROM campaigns")).scalar_one()
    ids = [r.id for r in outbox.claim(engine, campaign_id, WORKER, 2, LEASE, utcnow(), threads=False)]
    with transaction(engine) as session:
        assert outbox.mark_sending(session, ids, WORKER, utcnow(), LEASE) == set(ids)
    return engine, sorted(ids)


def states(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT id, state FROM outbox")).all())


@contextmanager
def row_locked(pg_url: str, row_id: int) -> Iterator[Engine]:
    """Another session holds ``row_id``'s lock until the block ends: a commit touching it waits meanwhile."""
    other = create_engine(pg_url)
    conn = other.connect()
    try:
        with conn.begin():
            conn.execute(text("SELECT id FROM outbox WHERE id = :id FOR UPDATE"), {"id": row_id})
            yield other
    finally:
        conn.close()
        other.dispose()


def lock_waiter(engine: Engine) -> int | None:
    """The backend of this database waiting for a row lock (the ledger's commit), if one is."""
    with engine.connect() as conn:
        return conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar()  # fmt: skip


def test_a_sent_outcome_that_comes_while_a_commit_waits_is_written_on_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str) -> None:  # fmt: skip
    engine, (first, second) = in_flight(tmp_path, monkeypatch, pg_url)

    async def scenario() -> None:
        ledger = Ledger(engine, WORKER, utcnow, LEASE, Outage(), tick=0)
        runner = asyncio.create_task(ledger.run())
        try:
            with row_locked(pg_url, first) as other:
                ledger.add(outbox.Result(first, "sent", 250))
                await until(lambda: lock_waiter(other), "the ledger's commit of the first answer waiting")
                ledger.add(outbox.Result(second, "sent", 250))  # while that commit waits
                await turns()  # its tick, and the tick after, come and go meanwhile
            # no mark will come (the run is at its end): the second answer needs a commit of its own
            await until(lambda: states(engine) == {first: "sent", second: "sent"}, "both answers on disk")
            assert ledger.results == []
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await ledger.close()

    asyncio.run(scenario())


def test_a_commit_the_server_cuts_writes_its_sent_outcomes_when_it_runs_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str) -> None:  # fmt: skip
    engine, (first, second) = in_flight(tmp_path, monkeypatch, pg_url)

    async def scenario() -> None:
        db = Outage()
        ledger = Ledger(engine, WORKER, utcnow, LEASE, db, tick=0)
        runner = asyncio.create_task(ledger.run())
        try:
            with row_locked(pg_url, first) as other:
                ledger.add(outbox.Result(first, "sent", 250))
                ledger.add(outbox.Result(second, "sent", 250))
                await until(lambda: lock_waiter(other), "the ledger's commit waiting")
                with other.connect() as conn:  # the server ends the ledger's session mid-commit
                    conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": lock_waiter(other)})
                    conn.commit()
            await until(lambda: states(engine) == {first: "sent", second: "sent"}, "both answers on disk")
            await until(lambda: not db.down, "the outage to end")
            assert db.outages == 1
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
            await ledger.close()

    asyncio.run(scenario())
