"""The database goes away while messages go out: real PostgreSQL stopped and started, SQLite locked.

Every test here runs real ``outreach`` processes against a real SMTP sink and
takes the database away from under them: a throwaway PostgreSQL cluster of
the tests' own (tests/pg_cluster.py) stopped with ``pg_ctl stop -m fast`` —
never the shared system cluster — or a SQLite file whose write lock another
connection holds past the busy timeout. What must hold either way: nothing
sent twice, nothing lost, uncertain rows the relay never received at most
one per SMTP connection, and no traceback. Waits are for events (a line on
stderr, messages at the sink), never fixed sleeps.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from engine_support import FaultySink, bulk_workspace, prepare, running
from helpers import Spawned, wait_for
from pg_cluster import PgCluster
from sqlalchemy import select

from outreach.campaigns.status import campaign_status
from outreach.storage import transaction
from outreach.storage.models import Outbox

OUTAGE = "the database is unavailable"  # the line each process logs once when an outage begins
BACK = "the database is back"


def _send(root: Path, port: int, env: dict[str, str] | None = None) -> Spawned:
    return Spawned(["-w", str(root), "campaign", "send", "blast", "--yes"],
                   {"OUTREACH_SMTP_PORT": str(port), **(env or {})})


def rows(engine) -> list[Outbox]:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def check(engine, sink: FaultySink, connections: int) -> Counter[str]:  # type: ignore[no-untyped-def]
    """No duplicate at the sink; every sent row arrived once; uncertain rows the sink never got <= connections."""
    received = sink.message_ids()
    assert all(n == 1 for n in received.values()), [m for m, n in received.items() if n > 1]
    states: Counter[str] = Counter()
    never = 0
    for row in rows(engine):
        states[row.state] += 1
        if row.state == "sent":
            assert received[row.message_id] == 1, row.email
        elif row.state == "uncertain":
            never += not received[row.message_id]
        else:
            assert received[row.message_id] == 0, (row.state, row.email)
    assert never <= connections, (never, states)
    return states


def no_traceback(*procs: Spawned) -> None:
    for proc in procs:
        assert "Traceback" not in proc.output(), proc.output()


def errors(proc: Spawned) -> list[str]:
    return [line for line in proc.err if line.startswith("Error:")]


# -- PostgreSQL restarted under two senders --------------------------------------------------


def pg_workspace(tmp_path: Path, pg: PgCluster, monkeypatch: pytest.MonkeyPatch, n: int, extra: str = ""):  # type: ignore[no-untyped-def]
    root = bulk_workspace(tmp_path / "ws", n, "throttle: {rate: 150/s, connections: 2}\n",
                          settings_extra="lease: 3s\n" + extra)  # fmt: skip
    monkeypatch.setenv("OUTREACH_DATABASE_URL", pg.test_url)
    return root


@pytest.mark.postgres
def test_two_senders_ride_through_a_postgresql_restart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        own_pg: PgCluster) -> None:  # fmt: skip
    """pg_ctl stop -m fast while two senders share a campaign, started again within the timeout: both finish."""
    n = 900
    root = pg_workspace(tmp_path, own_pg, monkeypatch, n)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        senders = [_send(root, sink.port) for _ in range(2)]
        wait_for(lambda: len(sink.received) >= 150, what="150 messages at the sink", context=senders[0].output)
        own_pg.stop("fast")
        for proc in senders:  # each noticed, and waits with what it holds
            proc.wait_line(OUTAGE, stream="err")
        at_stop = len(sink.received)
        own_pg.start()
        for proc in senders:
            assert proc.finish() == 0, proc.output()
            proc.wait_line(BACK, stream="err")
    assert at_stop < n  # the outage came mid-send
    states = check(engine, sink, connections=4)
    assert states["sent"] == n, states  # the outcomes held through the outage were recorded: none uncertain
    assert campaign_status(engine, "blast").state == "done"
    no_traceback(*senders)
    engine.dispose()


@pytest.mark.postgres
def test_an_outage_past_the_timeout_stops_with_one_error_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               own_pg: PgCluster) -> None:  # fmt: skip
    """Down longer than database.outage_timeout: exit 1, one Error: line, no traceback; sending again finishes."""
    n = 900
    root = pg_workspace(tmp_path, own_pg, monkeypatch, n, "database: {outage_timeout: 3s}\n")
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        sender = _send(root, sink.port)
        wait_for(lambda: len(sink.received) >= 100, what="100 messages at the sink", context=sender.output)
        own_pg.stop("fast")
        assert sender.finish() == 1, sender.output()
        own_pg.start()
        again = _send(root, sink.port)
        assert again.finish() == 0, again.output()
    (error,) = errors(sender)
    assert re.fullmatch(r"Error: campaign blast: the database has not answered for \d+ s \(database\.outage_timeout "
                        r"is 3 s\): .+; sending stopped after \d+ message\(s\).*; nothing was sent twice, and the rest "
                        r"stays queued: send again once the database answers", error), error  # fmt: skip
    no_traceback(sender, again)
    states = check(engine, sink, connections=2)
    assert states["sent"] + states["uncertain"] == n, states
    engine.dispose()


# -- SQLite: another process holds the write lock -----------------------------------------------


def sqlite_workspace(tmp_path: Path, extra: str) -> Path:
    return bulk_workspace(tmp_path / "ws", 400, "throttle: {rate: 100/s, connections: 2}\n",
                          settings_extra="lease: 3s\ndatabase: {busy_timeout: 0.5s" + extra + "}\n")  # fmt: skip


def hold_write_lock(root: Path) -> sqlite3.Connection:
    """What a long report or a stuck script does: a write transaction that does not end."""
    conn = sqlite3.connect(root / "outreach.db", isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_sqlite_locked_past_its_busy_timeout_is_ridden_through(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = sqlite_workspace(tmp_path, ", outage_timeout: 60s")
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        sender = _send(root, sink.port)
        wait_for(lambda: len(sink.received) >= 50, what="50 messages at the sink", context=sender.output)
        lock = hold_write_lock(root)
        sender.wait_line(OUTAGE + r" \(database is locked\)", stream="err")
        lock.rollback()
        lock.close()
        assert sender.finish() == 0, sender.output()
    states = check(engine, sink, connections=2)
    assert states["sent"] == 400, states
    no_traceback(sender)


def test_sqlite_locked_past_the_outage_timeout_stops_with_one_error_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = sqlite_workspace(tmp_path, ", outage_timeout: 2s")
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        sender = _send(root, sink.port)
        wait_for(lambda: len(sink.received) >= 50, what="50 messages at the sink", context=sender.output)
        lock = hold_write_lock(root)
        try:
            assert sender.finish() == 1, sender.output()
        finally:
            lock.rollback()
            lock.close()
        again = _send(root, sink.port)
        assert again.finish() == 0, again.output()
    (error,) = errors(sender)
    assert "(database.outage_timeout is 2 s): database is locked; sending stopped after" in error, error
    no_traceback(sender, again)
    states = check(engine, sink, connections=2)
    assert states["sent"] + states["uncertain"] == 400, states
