"""The long-running processes and the mailbox poll through a database outage, as an operator meets one.

Real processes (``outreach worker``, ``outreach serve``, ``outreach track
poll``) against a throwaway PostgreSQL server that the test stops and starts
(``own_pg``, tests/pg_server.py; never a shared server), or a SQLite file
another connection keeps locked. Each keeps running (or retries), says so in
one line, and works again once the database is back; none prints a
traceback. The classification and the backoff themselves are tested on a
mocked clock at the end.
"""

from __future__ import annotations

import asyncio
import random
import re
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import httpx2
import pytest
from engine_support import FaultySink, bulk_workspace, prepare, running
from helpers import SendWorkspace, Spawned, invoke, refused_port, served_port, wait_for
from imap_server import PASSWORD, Dovecot, configure_imap
from pg_server import PgServer
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from outreach.errors import DatabaseUnavailable
from outreach.storage import transaction
from outreach.storage.models import Event, Outbox
from outreach.storage.outage import Outage, is_conflict, is_outage

OUTAGE = "the database is unavailable"
BACK = "the database is back after"
PAST = "schedule: 2026-01-05T09:00\n"  # due at once: the worker starts it on its first pass


def log_in(client: httpx2.Client, name: str, password: str) -> httpx2.Response:
    form = client.get("/app/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert form.status_code == 200 and token, form.text
    return client.post("/app/login", data={"username": name, "password": password, "csrf_token": token.group(1)})


def no_traceback(*procs: Spawned) -> None:
    for proc in procs:
        assert "Traceback" not in proc.output(), proc.output()


# -- the worker --------------------------------------------------------------------------------


@pytest.mark.postgres
def test_the_worker_keeps_running_through_an_outage_and_sends_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                     own_pg: PgServer) -> None:  # fmt: skip
    """Down longer than the send's outage_timeout: the send gives up, the worker does not; it sends the rest after."""
    n = 600
    root = bulk_workspace(tmp_path / "ws", n, "throttle: {rate: 100/s, connections: 2}\n" + PAST,
                          settings_extra="lease: 3s\ndatabase: {outage_timeout: 2s}\n")  # fmt: skip
    monkeypatch.setenv("OUTREACH_DATABASE_URL", own_pg.test_url)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        worker = Spawned(["-w", str(root), "worker", "--interval", "1"], {"OUTREACH_SMTP_PORT": str(sink.port)})
        worker.wait_line(r"^Worker started")
        wait_for(lambda: len(sink.received) >= 60, what="60 messages at the sink", context=worker.output)
        own_pg.stop("fast")
        worker.wait_line(OUTAGE, stream="err")
        worker.wait_line(r"campaign blast: the database has not answered for \d+ s .*; what was not sent stays queued "
                         r"and is sent when the database is back$", stream="err")  # fmt: skip
        assert worker.proc.poll() is None  # still running
        own_pg.start()
        worker.wait_line(BACK, stream="err")
        wait_for(lambda: len(sink.received) >= n - 2, what="the rest at the sink", context=worker.output)
        worker.signal(signal.SIGTERM)
        assert worker.finish() == 0, worker.output()
    received = sink.message_ids()
    assert all(c == 1 for c in received.values()), [m for m, c in received.items() if c > 1]
    with transaction(engine) as session:
        rows = list(session.scalars(select(Outbox)))
    states = Counter(r.state for r in rows)
    assert states["sent"] + states["uncertain"] == n, states
    assert sum(1 for r in rows if r.state == "uncertain" and not received[r.message_id]) <= 2, states
    assert {r.message_id for r in rows if r.state == "sent"} <= set(received)
    no_traceback(worker)
    engine.dispose()


# -- serve -----------------------------------------------------------------------------------


@pytest.mark.postgres
def test_serve_answers_503_while_the_database_is_down_then_works_again(
        tmp_path: Path, own_pg: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = bulk_workspace(tmp_path / "ws", 3)
    monkeypatch.setenv("OUTREACH_DATABASE_URL", own_pg.test_url)
    added = invoke("users", "add", "boss", "--role", "executive", "--password-stdin", ws=root, input="boss-pw-12345\n")
    assert added.exit_code == 0, added.output
    serve = Spawned(["-w", str(root), "serve", "--port", "0"])  # any free port, read back from the banner
    port = served_port(serve)
    with httpx2.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False, timeout=30) as client:
        health = client.get("/healthz")
        assert (health.status_code, health.text, health.headers["content-type"]) == (200, "ok\n",
                                                                                      "text/plain; charset=utf-8")
        assert log_in(client, "boss", "boss-pw-12345").status_code == 303
        assert client.get("/app/campaigns").status_code == 200
        own_pg.stop("fast")
        down = client.get("/healthz")
        assert (down.status_code, down.text) == (503, "database unavailable\n")
        page = client.get("/app/campaigns")
        assert page.status_code == 503 and page.headers["content-type"] == "text/plain; charset=utf-8"
        assert page.text == "The database is not answering right now. Please try again in a minute.\n"
        assert page.headers["retry-after"] == "30"
        own_pg.start()
        wait_for(lambda: client.get("/healthz").status_code == 200, what="/healthz 200 again", context=serve.output)
        assert client.get("/app/campaigns").status_code == 200  # the same session: nothing was lost
    serve.signal(signal.SIGTERM)
    serve.finish()
    no_traceback(serve)
    log = "\n".join(serve.err)
    assert log.count(OUTAGE) == 1 and log.count(BACK) == 1, log


def test_healthz_answers_anyone_without_a_session(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    from outreach.web.app import create_app
    from outreach.workspace import Workspace

    root = bulk_workspace(tmp_path / "ws", 1)
    with Workspace.open(root) as ws, TestClient(create_app(ws)) as client:
        answer = client.get("/healthz", headers={"X-Forwarded-For": "203.0.113.9"})
        assert (answer.status_code, answer.text) == (200, "ok\n")
        assert client.head("/healthz").status_code == 200
        assert client.post("/healthz").status_code in (404, 405)  # the public side's "not a valid link", or 405


# -- track poll ----------------------------------------------------------------------------------


def _inbox(send_ws: SendWorkspace, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, outage_timeout: str) -> str:
    """promo sent, one reply waiting in the mailbox; SQLite's busy timeout short."""
    for args in (("campaign", "build", "promo"), ("campaign", "send", "promo", "--yes")):
        result = send_ws.run(*args)
        assert result.exit_code == 0, result.output
    user = dovecot.new_user()
    configure_imap(send_ws.root, dovecot, user)
    with (send_ws.root / "outreach.yaml").open("a") as fh:
        fh.write(f"database: {{busy_timeout: 0.3s, outage_timeout: {outage_timeout}}}\n")
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", PASSWORD)
    sent = send_ws.server.received[0].message
    raw = (f"From: {sent['To']}\r\nTo: {sent['From']}\r\nSubject: Re: {sent['Subject']}\r\n"
           f"Message-ID: <r1@alpha.example.com>\r\nIn-Reply-To: {sent['Message-ID']}\r\n"
           "Content-Type: text/plain; charset=utf-8\r\n\r\nTertarik, tolong telepon saya.\r\n")  # fmt: skip
    dovecot.append(user, raw.encode())
    return user


def _replies(send_ws: SendWorkspace) -> int:
    engine = send_ws.engine()
    try:
        with transaction(engine) as session:
            return len(list(session.scalars(select(Event).where(Event.kind == "replied"))))
    finally:
        engine.dispose()


def _locked(root: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(root / "outreach.db", isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_track_poll_waits_out_a_locked_database(send_ws: SendWorkspace, dovecot: Dovecot,
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    user = _inbox(send_ws, dovecot, monkeypatch, "60s")
    lock = _locked(send_ws.root)
    poll = Spawned(["-w", str(send_ws.root), "track", "poll"])
    try:
        poll.wait_line(OUTAGE + r" \(database is locked\)", stream="err")
    finally:
        lock.rollback()
        lock.close()
    assert poll.finish() == 0, poll.output()
    assert poll.err[-1].startswith(BACK), poll.output()
    assert _replies(send_ws) == 1
    assert dovecot.messages(user) == []  # recorded, then moved to the processed folder
    no_traceback(poll)


def test_track_poll_past_the_timeout_leaves_the_mail_for_the_next_poll(
        send_ws: SendWorkspace, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    user = _inbox(send_ws, dovecot, monkeypatch, "2s")
    lock = _locked(send_ws.root)
    try:
        poll = Spawned(["-w", str(send_ws.root), "track", "poll"])
        assert poll.finish() == 1, poll.output()
    finally:
        lock.rollback()
        lock.close()
    errors = [line for line in poll.err if line.startswith("Error:")]
    assert len(errors) == 1 and re.fullmatch(
        r"Error: the database has not answered for \d+ s \(database\.outage_timeout is 2 s\): database is locked; "
        r"the messages not yet recorded stay in the mailbox for the next poll", errors[0]), poll.output()  # fmt: skip
    no_traceback(poll)
    assert len(dovecot.messages(user)) == 1 and _replies(send_ws) == 0
    again = send_ws.run("track", "poll")
    assert again.exit_code == 0, again.output
    assert _replies(send_ws) == 1 and dovecot.messages(user) == []


# -- what counts as an outage, and the backoff, on a mocked clock ---------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_sqlite_locked_is_an_outage_and_bad_sql_is_not(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}", connect_args={"timeout": 0.05})
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
    holder = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(OperationalError) as locked, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    holder.rollback()
    assert is_outage(locked.value) and not is_conflict(locked.value)
    with pytest.raises(OperationalError) as no_table, engine.begin() as conn:  # a mistake, not an outage
        conn.execute(text("SELECT * FROM nothing_here"))
    assert not is_outage(no_table.value)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    with pytest.raises(IntegrityError) as duplicate, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    assert not is_outage(duplicate.value)
    engine.dispose()


@pytest.mark.postgres
def test_postgresql_refused_and_terminated_are_outages_a_syntax_error_is_not(pg_url: str) -> None:
    with refused_port() as port, pytest.raises(OperationalError) as exc:  # bound, not listening: refused
        create_engine(f"postgresql+psycopg://outreach@127.0.0.1:{port}/x").connect()
    assert is_outage(exc.value)
    engine = create_engine(pg_url)
    with engine.connect() as victim, engine.connect() as admin:
        pid = victim.execute(text("SELECT pg_backend_pid()")).scalar()
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(OperationalError) as terminated:  # 57P01, "terminating connection due to administrator"
            victim.execute(text("SELECT 1"))
        assert is_outage(terminated.value)
    with engine.connect() as conn, pytest.raises(ProgrammingError) as syntax:
        conn.execute(text("SELEC 1"))
    assert not is_outage(syntax.value)
    engine.dispose()


def _locked_error() -> OperationalError:
    return OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked"))


def test_the_backoff_doubles_up_to_five_seconds_and_gives_up_at_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(asyncio, "sleep", clock.sleep)
    outage = Outage(20.0, clock=clock, rng=random.Random(1))
    tries: list[float] = []

    def write() -> None:
        tries.append(clock.now)
        raise _locked_error()

    with pytest.raises(DatabaseUnavailable, match=r"^the database has not answered for 20 s \(database\."
                                                  r"outage_timeout is 20 s\): database is locked$"):  # fmt: skip
        asyncio.run(outage.acall(write))
    gaps = [b - a for a, b in zip(tries, tries[1:], strict=False)]
    assert 0.2 <= gaps[0] <= 0.3 and all(g <= 6.0 for g in gaps) and max(gaps) >= 4.0, gaps
    assert tries[-1] - tries[0] == pytest.approx(20.0)  # the last try falls on the timeout itself
    with pytest.raises(DatabaseUnavailable):  # once one gave up, the next fails at its first outage error
        asyncio.run(outage.acall(write))
    assert tries[-1] == clock.now


def test_a_short_outage_is_ridden_out_and_logged_once_each_way(monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    clock = Clock()
    monkeypatch.setattr(asyncio, "sleep", clock.sleep)
    outage = Outage(60.0, clock=clock, rng=random.Random(1))
    failures = iter(range(4))

    def write() -> str:
        if next(failures, None) is not None:
            raise _locked_error()
        return "written"

    caplog.set_level("WARNING", "outreach.database")
    assert asyncio.run(outage.acall(write)) == "written"
    assert [r.getMessage() for r in caplog.records] == [
        "the database is unavailable (database is locked); retrying (database.outage_timeout: 60 s)",
        f"the database is back after {clock.now - 100.0:.1f} s",
    ]
    assert not outage.down and outage.recovered_within(45.0)
    clock.now += 44.9  # (not to 45.0 exactly: the jittered clock's sum may land a rounding short of it)
    assert outage.recovered_within(45.0)
    clock.now += 0.2
    assert not outage.recovered_within(45.0)  # a lease after it, take-overs resume


@pytest.mark.parametrize(("yaml", "error"), [
    ("database:\n  outage_timeout: 0s\n", "database.outage_timeout: Input should be greater than or equal to 1"),
    ("database:\n  outage_timeout: soon\n",
     "database.outage_timeout: 'soon' is not a duration; write e.g. 30s, 15m, 1h or 90d"),
    ("database:\n  busy_timeout: 2h\n", "database.busy_timeout: Input should be less than or equal to 3600"),
    ("database:\n  outage: 60s\n", "database.outage: unknown key"),
])  # fmt: skip
def test_database_settings_are_checked_when_the_workspace_loads(example_ws: Path, yaml: str, error: str) -> None:
    settings = example_ws / "outreach.yaml"
    lines = settings.read_text().count("\n")
    settings.write_text(settings.read_text() + yaml)
    result = invoke("campaign", "status", "solusi-jaringan", ws=example_ws)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {settings.resolve()}, line {lines + 2}: {error}\n"


def test_the_database_settings_default_to_a_minute_and_half_a_minute(example_ws: Path) -> None:
    from outreach.settings.workspace import load_workspace

    database = load_workspace(example_ws).settings.database
    assert (database.outage_timeout, database.busy_timeout) == (60.0, 30.0)
