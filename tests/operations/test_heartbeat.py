"""The worker's heartbeat, read by ``outreach worker --status``: real worker processes, a crash and an
immediate restart, ``--once``, and a database that is away. The mailbox poll's time, with a real dovecot.

Time is never waited out: "a minute later" is ``worker_status(engine, now=…)`` with a later ``now``.
"""

from __future__ import annotations

import json
import logging
import re
import signal
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from engine_support import Faults, FaultySink, bulk_workspace, prepare, running
from helpers import Spawned, invoke, wait_for
from imap_server import PASSWORD, Dovecot, configure_imap
from sqlalchemy import select

from outreach.operations.heartbeat import ALIVE_WITHIN, Heartbeat, ago, last_mailbox_poll, worker_status
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine, transaction, utcnow
from outreach.storage.models import WorkerHeartbeat

SLOW = "throttle: {rate: 20/s}\nschedule: 2026-01-05T09:00\n"  # due at once; 60 messages take a few seconds
NOT_RUNNING = ("Error: no outreach worker is running: start one with `outreach worker` (as a service: "
               "docs/deploy.md); campaigns handed to it wait until then")  # fmt: skip
LINE = r"{host}, pid {pid}, since \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC; heartbeat \d+s ago"


def status(root: Path) -> tuple[int, list[str], list[str]]:
    result = invoke("worker", "--status", ws=root)
    return result.exit_code, result.stdout.splitlines(), result.stderr.splitlines()


def test_no_worker_ever_is_said_so(example_ws: Path) -> None:
    assert status(example_ws) == (1, ["No worker has run on this database yet."], [NOT_RUNNING])
    result = invoke("worker", "--status", "--json", ws=example_ws)
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {"alive": False, "last_pass": None, "heartbeat_age": None, "workers": []}
    assert invoke("worker", "--status", "--once", ws=example_ws).exit_code == 2  # bad usage
    assert invoke("worker", "--json", "--once", ws=example_ws).exit_code == 2


def test_a_running_worker_beats_says_what_it_does_and_stops_cleanly(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = bulk_workspace(tmp_path / "ws", 60, SLOW)
    with running(FaultySink(Faults(slow_rate=1.0, slow_seconds=0.02))) as sink:
        _ws, engine = prepare(root, sink.port, monkeypatch)
        worker = Spawned(["-w", str(root), "worker", "--interval", "1"])
        worker.wait_line(r"^Worker started")
        host_pid = {"host": re.escape(socket.gethostname()), "pid": worker.pid}

        def sending() -> list[str] | None:
            code, out, err = status(root)
            return out if code == 0 and "sending blast" in out[0] else None

        out = wait_for(sending, what="the worker's status while it sends", context=worker.output)
        assert re.fullmatch(rf"Worker alive: {LINE.format(**host_pid)}; last pass \d+s ago: 1 campaign\(s\) due "
                            r"\(blast\); sending blast; since start: \d+ sent, 0 failed, 0 read from the mailbox, "
                            r"\d+ pass\(es\)", out[0]), out  # fmt: skip
        wait_for(lambda: len(sink.received) == 60, what="the campaign sent", context=worker.output)
        as_json = json.loads(invoke("worker", "--status", "--json", ws=root).stdout)
        assert as_json["alive"] is True and 0 <= as_json["heartbeat_age"] < ALIVE_WITHIN
        (me,) = as_json["workers"]
        assert (me["pid"], me["alive"], me["stopped_at"]) == (worker.pid, True, None)
        worker.signal()
        assert worker.finish() == 0, worker.output()

    code, out, err = status(root)
    assert (code, err) == (1, [NOT_RUNNING])
    assert re.fullmatch(rf"No worker alive. Last seen: {LINE.format(**host_pid)} \(stopped cleanly\); last pass "
                        r"\d+s ago: nothing due; since start: 60 sent, 0 failed, 0 read from the mailbox, "
                        r"\d+ pass\(es\)", out[0]), out  # fmt: skip
    engine.dispose()


def test_a_killed_worker_stops_beating_and_one_started_at_once_takes_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = bulk_workspace(tmp_path / "ws", 3)
    _ws, engine = prepare(root, 1, monkeypatch)
    first = Spawned(["-w", str(root), "worker", "--interval", "1"])
    first.wait_line(r"^Worker started")
    wait_for(lambda: status(root)[0] == 0, what="the first worker's heartbeat", context=first.output)
    first.signal(signal.SIGKILL)
    first.finish()

    later = worker_status(engine, utcnow() + timedelta(seconds=ALIVE_WITHIN + 1))  # no beat came after the kill
    assert not later.alive and later.workers[0].pid == first.pid
    assert later.lines()[0].startswith("No worker alive. Last seen: ")
    assert "(it stopped beating: killed, crashed or cut off from the database)" in later.lines()[0]

    second = Spawned(["-w", str(root), "worker", "--interval", "1"])  # the restart, right away
    second.wait_line(r"^Worker started")
    now = wait_for(lambda: next((w for w in worker_status(engine, utcnow()).live if w.pid == second.pid), None),
                   what="the new worker's heartbeat", context=second.output)  # fmt: skip
    assert now.stopped_at is None
    assert second.pid in [w.pid for w in worker_status(engine, now.beat_at + timedelta(seconds=ALIVE_WITHIN)).live]
    second.signal()
    assert second.finish() == 0, second.output()
    with transaction(engine) as session:  # one row per worker process; the killed one's stays as it was
        rows = {r.pid: r.stopped_at for r in session.scalars(select(WorkerHeartbeat))}
    assert rows.keys() == {first.pid, second.pid} and rows[first.pid] is None and rows[second.pid] is not None
    engine.dispose()


def test_worker_once_records_its_pass_and_is_not_left_alive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 4, "schedule: 2026-01-05T09:00\n")
    with running(FaultySink()) as sink:
        _ws, engine = prepare(root, sink.port, monkeypatch)
        result = invoke("worker", "--once", ws=root)
        assert result.exit_code == 0, result.output
    code, out, err = status(root)
    assert (code, err) == (1, [NOT_RUNNING])
    assert re.fullmatch(r"No worker alive. Last seen: .* \(stopped cleanly\); last pass \d+s ago: 1 campaign\(s\) due "
                        r"\(blast\); sending blast; since start: 4 sent, 0 failed, 0 read from the mailbox, "
                        r"1 pass\(es\)", out[0]), out  # fmt: skip
    engine.dispose()


def test_a_beat_the_database_cannot_take_is_logged_once_and_never_raised(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    gone = open_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}", migrate=False)
    beat = Heartbeat(gone, "h:1:abc", "h", 1, utcnow())
    with caplog.at_level(logging.INFO, logger="outreach.worker"):
        beat.start(utcnow())
        assert beat.beat(utcnow()) is False and beat.stop(utcnow()) is False
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and warnings[0].startswith("worker heartbeat not written (")
    assert warnings[0].endswith("); trying again at the next beat")


def test_ago_reads_as_a_person_would_say_it() -> None:
    assert [ago(s) for s in (-3, 0, 59.9, 60, 3599, 3600, 86399, 86400 * 3 + 3600 * 4)] == [
        "0s", "0s", "59s", "1m 00s", "59m 59s", "1h 00m", "23h 59m", "3d 04h"]  # fmt: skip


def test_the_time_of_each_mailbox_poll_is_recorded(example_ws: Path, dovecot: Dovecot,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    configure_imap(example_ws, dovecot, dovecot.new_user())
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", PASSWORD)
    engine = open_engine(load_workspace(example_ws).database_url)
    assert last_mailbox_poll(engine) is None
    before = utcnow()
    assert invoke("track", "poll", ws=example_ws).exit_code == 0
    good = last_mailbox_poll(engine)
    assert good is not None and good.ok and good.new == 0 and good.at >= before and good.last_ok_at == good.at

    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", "wrong")
    assert invoke("track", "poll", ws=example_ws).exit_code == 1
    failed = last_mailbox_poll(engine)
    assert failed is not None and not failed.ok and failed.at >= good.at and failed.last_ok_at == good.at
    assert failed.error and "IMAP" in failed.error
    engine.dispose()
