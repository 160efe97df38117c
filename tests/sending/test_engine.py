"""The sending engine against a real, misbehaving SMTP server: nothing lost, nothing twice."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from engine_support import Faults, FaultySink, bulk_workspace, prepare, running
from helpers import DEADLINE, Spawned, wait_for
from sqlalchemy import select, update

from outreach.campaigns.status import campaign_status, set_lifecycle
from outreach.sending.engine import SendOptions, backoff, send_campaign
from outreach.sending.throttle import TokenBucket
from outreach.settings.tokens import Signer, parse_verp, workspace_secret
from outreach.settings.workspace import load_workspace
from outreach.storage import outbox, transaction, utcnow
from outreach.storage.models import Outbox, Suppression
from outreach.workdays import SendingWindow

FAST_RETRY = "retry: {attempts: 6, backoff: 0.01s, max_backoff: 0.05s}\n"
FAST = "throttle: {rate: 2000/s, connections: 3}\n"


def rows(engine) -> list[Outbox]:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return list(session.scalars(select(Outbox).order_by(Outbox.id)))


def assert_exactly_once(engine, sink: FaultySink) -> Counter[str]:  # type: ignore[no-untyped-def]
    """Every sent row arrived exactly once; nothing arrived that is not recorded as sent."""
    received = sink.message_ids()
    assert all(n == 1 for n in received.values()), [m for m, n in received.items() if n > 1]
    states = Counter()
    for row in rows(engine):
        states[row.state] += 1
        if row.state == "sent":
            assert received[row.message_id] == 1, row.email
        elif row.state in ("failed", "queued", "retry", "suppressed", "cancelled"):
            assert received[row.message_id] == 0, (row.state, row.email)
    return states


# -- throttling, windows, backoff: pure, on a mocked clock ------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_spreads_messages_evenly() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, burst=1, clock=clock, sleep=clock.sleep)
    assert [round(bucket.reserve(), 3) for _ in range(4)] == [0.0, 0.1, 0.2, 0.3]
    clock.now += 10  # idle for long: refills only up to the burst
    assert bucket.reserve() == 0.0
    assert round(bucket.reserve(), 3) == 0.1


def test_token_bucket_paces_a_blast_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(20.0, burst=5, clock=clock, sleep=clock.sleep)

    async def blast() -> None:
        for _ in range(105):
            await bucket.acquire()

    asyncio.run(blast())
    assert clock.now - 1000.0 == pytest.approx(5.0, abs=0.01)  # 5 free (burst), 100 at 20/s


def test_token_bucket_slows_down_and_recovers() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, burst=1, clock=clock, sleep=clock.sleep)
    bucket.reserve()
    bucket.slow_down()
    assert round(bucket.reserve(), 3) == 0.2
    for _ in range(20):
        bucket.recover()
    assert bucket.slowdown == 1.0


def test_backoff_is_exponential_with_bounded_jitter() -> None:
    import random

    rng = random.Random(1)
    for attempt, base in ((1, 30), (2, 60), (3, 120), (8, 3600)):
        for _ in range(50):
            assert 0.8 * base <= backoff(attempt, 30, 3600, rng) <= 1.2 * base


UTC = ZoneInfo("UTC")


def naive_utc(text: str, tz: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz)).astimezone(UTC).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("now_local", "tz", "opens_local"),
    [
        ("2026-11-30T10:00", "Asia/Jakarta", "2026-11-30T10:00"),  # Monday, inside
        ("2026-11-30T07:59", "Asia/Jakarta", "2026-11-30T08:00"),  # before opening
        ("2026-11-30T17:00", "Asia/Jakarta", "2026-12-01T08:00"),  # closing time is closed
        ("2026-11-28T12:00", "Asia/Jakarta", "2026-11-30T08:00"),  # Saturday -> Monday
        ("2026-11-27T16:30", "Asia/Makassar", "2026-11-27T16:30"),  # Friday, inside, WITA
        ("2026-11-27T17:30", "Asia/Makassar", "2026-11-30T08:00"),  # Friday evening -> Monday
        ("2026-03-07T12:00", "America/New_York", "2026-03-09T08:00"),  # across the DST switch
        ("2026-10-24T20:00", "Europe/Berlin", "2026-10-26T08:00"),  # across the end of DST
    ],
)
def test_sending_window_in_each_contacts_timezone(now_local: str, tz: str, opens_local: str) -> None:
    window = SendingWindow.parse("Mon-Fri", "08:00-17:00")
    opens = window.next_open(naive_utc(now_local, tz), ZoneInfo(tz))
    assert opens == naive_utc(opens_local, tz)


def test_the_same_moment_is_open_in_makassar_and_closed_in_jakarta() -> None:
    window = SendingWindow.parse("Mon-Fri", "08:00-17:00")
    moment = naive_utc("2026-11-30T07:30", "Asia/Jakarta")  # 08:30 in Makassar
    assert window.next_open(moment, ZoneInfo("Asia/Makassar")) == moment
    assert window.next_open(moment, ZoneInfo("Asia/Jakarta")) > moment


def test_window_parsing_errors() -> None:
    with pytest.raises(ValueError, match="not a day"):
        SendingWindow.parse("Mon-Fry", "08:00-17:00")
    with pytest.raises(ValueError, match="must end after"):
        SendingWindow.parse("Mon-Fri", "17:00-08:00")
    assert SendingWindow.parse("Fri-Mon", "08:00-09:00").days == frozenset({4, 5, 6, 0})


# -- the engine against a real server ---------------------------------------------


def test_faults_every_recipient_delivered_once_or_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = frozenset({"user00003@co3.example.com", "user00010@co3.example.com"})
    policy = frozenset({"user00020@co6.example.com"})
    faults = Faults(temp_rate=0.25, dead=dead, policy=policy, drop_rate=0.08, slow_rate=0.1, seed=11)
    root = bulk_workspace(tmp_path / "ws", 80, FAST + FAST_RETRY,
                          settings_extra="auto_pause: {failure_rate: 0.5}\n")  # fmt: skip
    with running(FaultySink(faults)) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        report = asyncio.run(send_campaign(ws, engine, "blast"))
    states = assert_exactly_once(engine, sink)
    assert states["failed"] == 3
    assert states["sent"] == 77, states
    assert report.sent == 77 and report.failed == 3 and report.retried > 0
    with transaction(engine) as session:
        suppressed = {s.email: s.reason for s in session.scalars(select(Suppression))}
    assert set(suppressed) == dead  # a policy refusal is not a dead address
    failed = {r.email: (r.last_code, r.last_error) for r in rows(engine) if r.state == "failed"}
    assert failed["user00020@co6.example.com"][0] == 550
    assert "5.7.1" in failed["user00020@co6.example.com"][1]
    assert campaign_status(engine, "blast").state == "done"


def test_verp_envelope_names_the_outbox_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 5, FAST)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        asyncio.run(send_campaign(ws, engine, "blast"))
    signer = Signer(workspace_secret(engine, ws.settings.unsubscribe.secret_env))
    by_mid = {r.message_id: r.id for r in rows(engine)}
    for mail_from, _rcpts, mid in sink.received:
        assert mail_from.startswith("sari+") and mail_from.endswith("@contoh-solusi.example")
        assert parse_verp(signer, mail_from) == by_mid[mid.strip("<>")]
    assert parse_verp(signer, "sari+1.00000000@contoh-solusi.co.id") is None


def test_auto_pause_when_too_many_fail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dead = frozenset(f"user{i:05d}@co{i % 7}.example.com" for i in range(0, 60, 2))
    root = bulk_workspace(tmp_path / "ws", 120, "throttle: {rate: 2000/s, connections: 1}\n")
    with running(FaultySink(Faults(dead=dead))) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        report = asyncio.run(send_campaign(ws, engine, "blast"))
    status = campaign_status(engine, "blast")
    assert status.state == "paused"
    assert status.reason is not None and status.reason.startswith("paused automatically:")
    assert report.reason == status.reason
    assert status.counts["queued"] > 0  # it stopped early, the rest waits
    assert status.counts["in_flight"] == 0
    assert_exactly_once(engine, sink)


def in_thread(target: Callable[[], object]) -> threading.Thread:
    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def joined(thread: threading.Thread) -> bool:
    thread.join(DEADLINE)
    return not thread.is_alive()


def test_pause_from_elsewhere_stops_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 400  # 10 s at 40/s: room for a slow machine to notice the pause long before the end
    root = bulk_workspace(tmp_path / "ws", n, "throttle: {rate: 40/s, connections: 2}\n")
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        thread = in_thread(lambda: asyncio.run(send_campaign(ws, engine, "blast")))
        wait_for(lambda: len(sink.received) >= 10, what="10 messages at the sink")
        set_lifecycle(engine, "blast", "pause")
        assert joined(thread), "the run did not stop after the pause"
        status = campaign_status(engine, "blast")
        assert status.state == "paused" and 10 <= status.counts["sent"] < n
        assert status.counts["in_flight"] == 0
        assert all(r.state in ("sent", "queued") for r in rows(engine))
        set_lifecycle(engine, "blast", "resume")
        (root / "campaigns" / "blast.yaml").write_text(
            "segment: all\ncontent: year-end-licensing.md\nsender: sari\n" + FAST)
        asyncio.run(send_campaign(load_workspace(root), engine, "blast"))
    assert assert_exactly_once(engine, sink)["sent"] == n


def test_cancel_stops_and_marks_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    n = 300
    root = bulk_workspace(tmp_path / "ws", n, "throttle: {rate: 50/s, connections: 1}\n")
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        thread = in_thread(lambda: asyncio.run(send_campaign(ws, engine, "blast")))
        wait_for(lambda: len(sink.received) >= 5, what="5 messages at the sink")
        set_lifecycle(engine, "blast", "cancel")
        assert joined(thread), "the run did not stop after the cancel"
    states = assert_exactly_once(engine, sink)
    assert states["cancelled"] + states["sent"] == n and states["cancelled"] > 0 and states["sent"] >= 5


def test_sending_window_defers_outside_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    now = datetime(2026, 11, 28, 5, 0)  # Saturday 12:00 in Jakarta
    root = bulk_workspace(tmp_path / "ws", 10, FAST + "window: {days: Mon-Fri, hours: '08:00-17:00'}\n",
                          timezone="Asia/Jakarta")  # fmt: skip
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        report = asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(now=lambda: now)))
        assert report.deferred == 10 and report.sent == 0
        assert "wait until 2026-11-30 01:00 UTC" in report.reason
        assert {r.next_attempt_at for r in rows(engine)} == {datetime(2026, 11, 30, 1, 0)}
        monday = datetime(2026, 11, 30, 1, 0, 5)
        report = asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(now=lambda: monday)))
    assert report.sent == 10
    assert assert_exactly_once(engine, sink)["sent"] == 10


def test_daily_cap_per_sender(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 12, "throttle: {rate: 2000/s, daily_cap: 5}\n")
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        report = asyncio.run(send_campaign(ws, engine, "blast"))
        assert report.sent == 5 and "daily cap of 5 for sender sari reached" in report.reason
        report = asyncio.run(send_campaign(ws, engine, "blast"))
        assert report.sent == 0
        tomorrow = utcnow() + timedelta(days=1)
        report = asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(now=lambda: tomorrow)))
        assert report.sent == 5
    assert assert_exactly_once(engine, sink)["sent"] == 10


def test_per_domain_rate_spreads_one_domain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 14, "throttle: {rate: 2000/s, connections: 4, per_domain_rate: 10/s}\n")
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        started = time.monotonic()
        asyncio.run(send_campaign(ws, engine, "blast"))
        elapsed = time.monotonic() - started
    assert_exactly_once(engine, sink)
    # 2 messages per domain at 10/s: the second waits ~0.1 s. A lower bound only, which a slow
    # machine can only make larger; the bucket's own timing is checked on a mocked clock above.
    assert elapsed >= 0.09


def test_relay_down_releases_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:
    root = bulk_workspace(tmp_path / "ws", 8, FAST)
    ws, engine = prepare(root, closed_port, monkeypatch)
    report = asyncio.run(send_campaign(ws, engine, "blast"))
    assert report.fatal is not None and report.fatal.startswith("cannot connect to SMTP relay 127.0.0.1:")
    assert {r.state for r in rows(engine)} == {"queued"}


# -- crashes: SIGKILL at random points, then restart ------------------------------

LEASE = "lease: 3s\n"  # taken over 3 s after a crash instead of 45 s: the mechanism is the same


def _send_process(root: Path, port: int) -> Spawned:
    return Spawned(["-w", str(root), "campaign", "send", "blast", "--yes"], {"OUTREACH_SMTP_PORT": str(port)})


def _held(engine) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for r in rows(engine) if r.state in ("claimed", "sending"))


def assert_nothing_twice(engine, sink: FaultySink) -> Counter[str]:  # type: ignore[no-untyped-def]
    """After crashes: a sent row arrived once; one in flight or uncertain at most once; nothing else arrived."""
    received = sink.message_ids()
    assert all(n == 1 for n in received.values()), [m for m, n in received.items() if n > 1]
    states: Counter[str] = Counter()
    for row in rows(engine):
        states[row.state] += 1
        expected = {"sent": {1}, "uncertain": {0, 1}, "sending": {0, 1}}.get(row.state, {0})
        assert received[row.message_id] in expected, (row.state, row.email)
    return states


def test_restart_right_after_sigkill_takes_over_and_finishes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kill -9 a send, start it again at once: the dead sender's rows come back when its lease runs out."""
    n, connections = 300, 2
    root = bulk_workspace(tmp_path / "ws", n, f"throttle: {{rate: 200/s, connections: {connections}}}\n",
                          settings_extra=LEASE)  # fmt: skip
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        first = _send_process(root, sink.port)
        wait_for(lambda: len(sink.received) >= 40, what="40 messages at the sink", context=first.output)
        first.kill()
        assert _held(engine) > 0  # the situation after a crash: rows claimed or in flight, their leases live
        second = _send_process(root, sink.port)
        assert second.finish() == 0, second.output()
    states = assert_nothing_twice(engine, sink)
    assert states["sent"] + states["uncertain"] == n, states
    assert never_received(engine, sink) <= connections  # at most one mid-transaction per connection
    status = campaign_status(engine, "blast")
    assert status.state == "done" and status.counts["uncertain"] == states["uncertain"]
    assert len(second.out) == 2, second.output()  # its summary, and what it took over
    assert re.fullmatch(r"Campaign blast: \d+ sent, 0 failed, 0 to retry \([\d.]+ msg/s\); state done", second.out[0])
    assert re.fullmatch(rf"Campaign blast: took over \d+ message\(s\) from a sender that stopped: \d+ queued again, "
                        rf"{states['uncertain']} uncertain.*", second.out[1]), second.output()


def test_sigkill_at_random_points_never_duplicates_or_loses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    rng = random.Random(2026)
    n, connections = 300, 2
    root = bulk_workspace(tmp_path / "ws", n, f"throttle: {{rate: 150/s, connections: {connections}}}\n",
                          settings_extra=LEASE)  # fmt: skip
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        for _ in range(3):  # each started at once after the previous one's SIGKILL
            proc = _send_process(root, sink.port)
            target = len(sink.received) + rng.randint(5, 60)
            wait_for(lambda t=target: len(sink.received) >= t, what=f"{target} messages at the sink",
                     context=proc.output)  # fmt: skip
            proc.kill()
            assert_nothing_twice(engine, sink)
        proc = _send_process(root, sink.port)
        assert proc.finish() == 0, proc.output()
    states = assert_nothing_twice(engine, sink)
    assert states["sent"] + states["uncertain"] == n, states
    assert never_received(engine, sink) <= 3 * connections  # at most one mid-transaction per connection and kill
    status = campaign_status(engine, "blast")
    assert status.state == "done"
    assert status.counts["uncertain"] == states["uncertain"] and status.counts["sent"] == states["sent"]


def never_received(engine, sink: FaultySink) -> int:  # type: ignore[no-untyped-def]
    """Uncertain rows whose message the relay never got: the cost of a crash the engine must keep to one per
    connection (those it got are only unconfirmed)."""
    received = sink.message_ids()
    return sum(1 for r in rows(engine) if r.state == "uncertain" and not received[r.message_id])


@pytest.mark.parametrize(("n", "rate", "kill_at"), [(24, 3, 6), (1500, 400, 300)], ids=["3/s", "400/s"])
def test_a_crash_strands_nothing_that_was_never_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int,
                                                     rate: int, kill_at: int) -> None:  # fmt: skip
    """SIGKILL mid-send, at a slow and at a fast rate, restart at once: what waited in memory was never attempted
    and is sent by the restarted sender; uncertain are only the messages in an SMTP transaction at the kill."""
    connections = 2
    root = bulk_workspace(tmp_path / "ws", n, f"throttle: {{rate: {rate}/s, connections: {connections}}}\n",
                          settings_extra=LEASE)  # fmt: skip
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        first = _send_process(root, sink.port)
        wait_for(lambda: len(sink.received) >= kill_at, what=f"{kill_at} messages at the sink", context=first.output)
        first.kill()
        assert {r.state for r in rows(engine)} & {"claimed", "sending"}  # leases live: the restart must wait them out
        second = _send_process(root, sink.port)
        assert second.finish() == 0, second.output()
    states = assert_nothing_twice(engine, sink)  # (a) no duplicate at the sink
    assert states["sent"] + states["uncertain"] == n, states  # (b) nothing lost
    assert never_received(engine, sink) <= connections, states  # (c)
    assert campaign_status(engine, "blast").state == "done"


def test_a_sender_waiting_on_another_senders_messages_says_so_and_takes_them_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    n, other, hour = 20, "other-host:4242:abcdef", timedelta(hours=1)
    root = bulk_workspace(tmp_path / "ws", n, FAST)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        campaign_id = rows(engine)[0].campaign_id
        held = outbox.claim(engine, campaign_id, other, 5, hour, utcnow(), threads=False)  # a live sender's lease
        with transaction(engine) as session:  # two of them mid-attempt
            outbox.mark_sending(session, [r.id for r in held[:2]], other, utcnow(), hour)
        proc = _send_process(root, sink.port)
        proc.wait_line(r"^Campaign blast: waiting for 5 message\(s\) held by another sender "
                       r"\(other-host:4242:abcdef\); if it has stopped, they are taken over when its lease runs out "
                       r"\(\d\d:\d\d:\d\d UTC\)$", stream="err")  # fmt: skip
        wait_for(lambda: len(sink.received) == n - 5, what="everything else at the sink", context=proc.output)
        with transaction(engine) as session:  # the other sender dies: nothing renews its lease
            session.execute(update(Outbox).where(Outbox.lease_owner == other)
                            .values(lease_expires_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
        assert proc.finish() == 0, proc.output()
    assert re.fullmatch(r"Campaign blast: 18 sent, 0 failed, 0 to retry \([\d.]+ msg/s\); state done", proc.out[0])
    assert proc.out[1] == ("Campaign blast: took over 5 message(s) from a sender that stopped: 3 queued again, "
                           "2 uncertain (the relay may have them; `outreach campaign resend-uncertain` sends them "
                           "again)")  # fmt: skip
    states = assert_exactly_once(engine, sink)
    assert states == {"sent": 18, "uncertain": 2}


def test_a_restart_after_the_dead_senders_lease_ran_out_still_says_what_it_took_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The usual restart: minutes after the crash, the lease long gone. `campaign send` reads the status before
    it sends, which takes the dead sender's rows over; the run must still say so, uncertain ones above all (the
    suite found it: under load a restart "at once" came after the test's 3 s lease)."""
    n, dead, an_hour_ago = 10, "dead-host:4242:abcdef", utcnow() - timedelta(hours=1)
    root = bulk_workspace(tmp_path / "ws", n, FAST)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        campaign_id = rows(engine)[0].campaign_id
        lease = timedelta(seconds=30)  # it ran out long ago
        held = outbox.claim(engine, campaign_id, dead, 5, lease, an_hour_ago, threads=False)
        with transaction(engine) as session:  # two of them mid-attempt
            outbox.mark_sending(session, [r.id for r in held[:2]], dead, an_hour_ago, lease)
        proc = _send_process(root, sink.port)
        assert proc.finish() == 0, proc.output()
    assert re.fullmatch(r"Campaign blast: 8 sent, 0 failed, 0 to retry \([\d.]+ msg/s\); state done", proc.out[0])
    assert proc.out[1:] == ["Campaign blast: took over 5 message(s) from a sender that stopped: 3 queued again, "
                            "2 uncertain (the relay may have them; `outreach campaign resend-uncertain` sends them "
                            "again)"]  # fmt: skip
    assert assert_exactly_once(engine, sink) == {"sent": 8, "uncertain": 2}


def test_a_restart_with_only_the_dead_senders_last_messages_left_says_they_are_uncertain(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    dead, an_hour_ago, lease = "dead-host:4242:abcdef", utcnow() - timedelta(hours=1), timedelta(seconds=30)
    root = bulk_workspace(tmp_path / "ws", 2, FAST)
    ws, engine = prepare(root, 9, monkeypatch)  # nothing is sent: no relay needed
    held = outbox.claim(engine, rows(engine)[0].campaign_id, dead, 2, lease, an_hour_ago, threads=False)
    with transaction(engine) as session:
        outbox.mark_sending(session, [r.id for r in held], dead, an_hour_ago, lease)
    proc = _send_process(root, 9)
    assert proc.finish() == 0, proc.output()
    assert proc.out == ["Campaign blast: nothing queued (0 sent, state built)",
                        "Campaign blast: took over 2 message(s) from a sender that stopped: 0 queued again, "
                        "2 uncertain (the relay may have them; `outreach campaign resend-uncertain` sends them "
                        "again)"]  # fmt: skip


def test_resend_uncertain_only_on_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from outreach.campaigns.status import resend_uncertain

    root = bulk_workspace(tmp_path / "ws", 6, FAST)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        with transaction(engine) as session:
            first = session.scalars(select(Outbox).order_by(Outbox.id)).first()
            first.state = "uncertain"
        report = asyncio.run(send_campaign(ws, engine, "blast"))
        assert report.sent == 5 and campaign_status(engine, "blast").counts["uncertain"] == 1
        assert resend_uncertain(engine, "blast") == 1
        report = asyncio.run(send_campaign(ws, engine, "blast"))
        assert report.sent == 1
    assert assert_exactly_once(engine, sink)["sent"] == 6


# -- several workers on one PostgreSQL database -------------------------------------


@pytest.mark.postgres
@pytest.mark.parametrize("workers", [2, 4])
def test_workers_on_postgresql_share_without_duplicates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        pg_url: str, workers: int) -> None:  # fmt: skip
    n = 400
    root = bulk_workspace(tmp_path / "ws", n, "throttle: {rate: 2000/s, connections: 2}\n" + FAST_RETRY)
    monkeypatch.setenv("OUTREACH_DATABASE_URL", pg_url)
    with running(FaultySink(Faults(temp_rate=0.05))) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        assert engine.dialect.name == "postgresql"
        procs = [_send_process(root, sink.port) for _ in range(workers)]
        for proc in procs:
            assert proc.finish() == 0, proc.output()
    states = assert_exactly_once(engine, sink)
    assert states["sent"] == n, states
    assert len(sink.message_ids()) == n


def test_sigterm_stops_cleanly_nothing_lost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 300, "throttle: {rate: 100/s, connections: 2}\n")
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        proc = _send_process(root, sink.port)
        wait_for(lambda: len(sink.received) >= 20, what="20 messages at the sink", context=proc.output)
        proc.signal(signal.SIGTERM)
        assert proc.finish() == 0, proc.output()
    assert re.fullmatch(r"Campaign blast: \d+ sent, 0 failed, 0 to retry \([\d.]+ msg/s\); state sending: "
                        r"stopped by a signal", proc.out[-1]), proc.output()  # fmt: skip
    states = assert_exactly_once(engine, sink)
    assert states["sent"] + states["queued"] == 300 and 20 <= states["sent"] < 300
    assert states["uncertain"] == 0  # in-flight messages finished; the rest went back to the queue


@pytest.mark.postgres
def test_worker_processes_on_postgresql_start_a_due_campaign_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  pg_url: str) -> None:  # fmt: skip
    n = 300
    root = bulk_workspace(tmp_path / "ws", n, "throttle: {rate: 2000/s, connections: 2}\nschedule: 2026-01-05T09:00\n")
    monkeypatch.setenv("OUTREACH_DATABASE_URL", pg_url)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        env = {**os.environ, "OUTREACH_SMTP_PORT": str(sink.port)}
        argv = [sys.executable, "-m", "outreach", "-w", str(root), "worker", "--once"]
        procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(3)]
        for proc in procs:
            _out, err = proc.communicate(timeout=DEADLINE)
            assert proc.returncode == 0, err.decode()
    assert assert_exactly_once(engine, sink)["sent"] == n
    assert campaign_status(engine, "blast").state == "done"


# -- the claim itself, on SQLite and on PostgreSQL -------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def claim_db(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    root = bulk_workspace(tmp_path / "ws", 10)
    if request.param == "postgresql":
        monkeypatch.setenv("OUTREACH_DATABASE_URL", request.getfixturevalue("pg_url"))
    ws, engine = prepare(root, 2525, monkeypatch)
    assert engine.dialect.name == request.param
    return engine


def test_claim_takes_due_retries_first_then_fresh_rows_and_never_what_is_not_due(claim_db) -> None:  # type: ignore[no-untyped-def]
    engine, now, lease = claim_db, utcnow(), timedelta(seconds=45)
    with transaction(engine) as session:
        by_id = {r.id: r for r in session.scalars(select(Outbox).order_by(Outbox.id))}
        ids = sorted(by_id)
        for i, (state, due) in enumerate([("queued", None), ("retry", -60), ("retry", 60), ("queued", 3600),
                                          ("retry", -5), ("queued", -1)]):  # fmt: skip
            by_id[ids[i]].state = state
            by_id[ids[i]].next_attempt_at = now + timedelta(seconds=due) if due is not None else None
        session.add(Suppression(email=by_id[ids[6]].email, reason="unsubscribed", created_at=now))
    first = outbox.claim(engine, by_id[ids[0]].campaign_id, "w1", 4, lease, now, threads=False)
    claimed = {r.id for r in first}
    # the retries whose backoff is over come first; a suppressed row may take a place and drop out
    assert len(claimed) in (3, 4) and {ids[1], ids[4]} <= claimed
    assert claimed - {ids[1], ids[4]} <= {ids[0], ids[5], ids[7], ids[8], ids[9]}
    rest = outbox.claim(engine, by_id[ids[0]].campaign_id, "w2", 100, lease, now, threads=False)
    assert not {r.id for r in rest} & claimed  # nothing is claimed twice
    assert {ids[2], ids[3], ids[6]}.isdisjoint(r.id for r in [*first, *rest])  # not due, or suppressed
    assert len(first) + len(rest) == 7
    with transaction(engine) as session:
        assert session.get(Outbox, ids[6]).state == "suppressed"  # type: ignore[union-attr]
        leased = session.scalars(select(Outbox).where(Outbox.state == "claimed")).all()
        assert {r.lease_owner for r in leased} == {"w1", "w2"}
        assert all(r.lease_expires_at == now + lease for r in leased)  # stored as the ORM reads it
