"""``outreach worker`` as a service: the real process, against a real SMTP server and a real dovecot.

Each test starts the worker with ``--interval 1``, waits for what it must do
(messages at the server, a state in the database, a line in its log), then
stops it with SIGTERM and checks a clean exit: status 0, its summary line, and
no message left claimed or in flight. Time passes for real (a schedule a few
seconds ahead, a retry backoff of seconds); only a follow-up step's "one day
later" is reached by moving the first email's ``sent_at`` back, as if the day
had passed while the worker ran.
"""

from __future__ import annotations

import re
import socket
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from engine_support import FaultySink, bulk_workspace, prepare, running
from helpers import PROSPECTS, TRY_LATER, SendWorkspace, SmtpController, SmtpServer, Spawned, wait_for, write
from imap_server import PASSWORD, Dovecot, configure_imap
from sqlalchemy import func, select

from outreach.storage import transaction
from outreach.storage.models import Campaign, Event, Outbox

ANI, BUDI, CITRA, FAJAR = PROSPECTS
PAST = "schedule: 2026-01-05T09:00\n"  # due at once: the worker starts it on its first pass


class Service:
    """The worker process of a workspace, and what it did to the database."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.root = root
        self.proc = Spawned(["-w", str(root), "worker", "--interval", "1"], env)
        self.proc.wait_line(r"^Worker started")

    def wait(self, predicate: Callable[[], Any], what: str) -> Any:
        return wait_for(predicate, what=what, context=self.proc.output)

    def stop(self) -> None:
        """SIGTERM: a clean exit with its summary, nothing left claimed or in flight."""
        self.proc.signal()
        assert self.proc.finish() == 0, self.proc.output()
        assert re.fullmatch(r"Worker stopped: \d+ sent, \d+ failed in \d+ pass\(es\)", self.proc.out[-1]), \
            self.proc.output()
        assert "Traceback" not in self.proc.output()
        assert not {"claimed", "sending"} & set(self.states()), self.states()

    def states(self, campaign: str | None = None) -> Counter[str]:
        query = select(Outbox.state)
        if campaign:
            query = query.join(Campaign).where(Campaign.name == campaign)
        with transaction(self.engine()) as session:
            return Counter(session.scalars(query))

    def campaign(self, name: str) -> Campaign:
        with transaction(self.engine()) as session:
            row = session.scalar(select(Campaign).where(Campaign.name == name))
            assert row is not None
            session.expunge(row)
            return row

    def engine(self):  # type: ignore[no-untyped-def]
        from outreach.settings.workspace import load_workspace
        from outreach.storage import open_engine

        if not hasattr(self, "_engine"):
            self._engine = open_engine(load_workspace(self.root).database_url)
        return self._engine

    def kill(self) -> None:
        self.proc.kill()
        if hasattr(self, "_engine"):
            self._engine.dispose()


@pytest.fixture
def service(send_ws: SendWorkspace):  # type: ignore[no-untyped-def]
    started: list[Service] = []

    def start(env: dict[str, str] | None = None) -> Service:
        started.append(Service(send_ws.root, env))
        return started[-1]

    yield start
    for s in started:
        s.kill()


def campaign(sw: SendWorkspace, extra: str, name: str = "promo") -> None:
    write(sw.root / "campaigns" / f"{name}.yaml", "segment: prospects\ncontent: promo.md\nsender: awang\n"
          "throttle: {rate: 1000/s}\n" + extra)  # fmt: skip
    # a second campaign to the same people this week is what the contact policy holds back: let it go
    result = sw.run("campaign", "build", name, *(("--ignore-policy", "--yes") if name != "promo" else ()))
    assert result.exit_code == 0, result.output


def test_a_campaign_scheduled_ahead_is_started_when_it_comes_due(send_ws: SendWorkspace, service) -> None:  # type: ignore[no-untyped-def]
    worker = service()  # running, with nothing due
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    campaign(send_ws, f"schedule: {when.isoformat()}\n")
    assert worker.campaign("promo").state == "scheduled"

    worker.wait(lambda: send_ws.server.recipients() == PROSPECTS, what="the scheduled campaign at the server")
    worker.wait(lambda: worker.campaign("promo").state == "done", what="the campaign done")

    with transaction(worker.engine()) as session:
        first = session.scalar(select(func.min(Outbox.sent_at)))
    assert first is not None and first >= when.replace(tzinfo=None)  # not a moment before its time
    worker.stop()
    assert worker.proc.out[1] == "promo: 4 sent, 0 failed, 0 to retry; state done"


def test_a_retry_is_resumed_when_its_backoff_ends(send_ws: SendWorkspace, service) -> None:  # type: ignore[no-untyped-def]
    send_ws.server.fail_rcpt(BUDI, TRY_LATER, times=1)
    campaign(send_ws, PAST + "retry: {attempts: 3, backoff: 5s, max_backoff: 5s}\n")
    worker = service()

    worker.wait(lambda: send_ws.server.to(BUDI), what="the retried message at the server")

    assert send_ws.server.rcpt_attempts[BUDI.lower()] == 2 and send_ws.server.recipients() == PROSPECTS
    worker.wait(lambda: worker.campaign("promo").state == "done", what="the campaign done")
    worker.stop()
    first, second = worker.proc.out[1:3]
    # the first run ended with the retry months... seconds away; the worker started the second when it was due
    assert re.fullmatch(r"promo: 3 sent, 0 failed, 1 to retry; state sending: 1 message\(s\) wait until .* UTC "
                        r"\(retries or sending window\); a worker or another send will take them", first), first
    assert second == "promo: 1 sent, 0 failed, 0 to retry; state done"


def test_a_follow_up_step_is_sent_on_the_day_it_is_due(send_ws: SendWorkspace, service) -> None:  # type: ignore[no-untyped-def]
    write(send_ws.root / "campaigns" / "promo-2.md",
          "---\nsubject: Menindaklanjuti\n---\nYth. {{ contact.first_name }}, apakah penawaran kami sampai?\n")
    campaign(send_ws, PAST + "steps:\n  - after: 1 day\n    content: promo-2.md\n")
    worker = service()
    worker.wait(lambda: worker.campaign("promo").state_reason == "4 follow-up step(s) not due yet",
             what="the first email sent, its step waiting")  # fmt: skip
    assert len(send_ws.server.received) == 4

    with transaction(worker.engine()) as session:  # a day passes
        for row in session.scalars(select(Outbox).where(Outbox.step == 0)):
            row.sent_at -= timedelta(days=1, hours=1)

    worker.wait(lambda: len(send_ws.server.received) == 8, what="the follow-up step at the server")
    worker.wait(lambda: worker.campaign("promo").state == "done", what="the campaign done")
    worker.stop()
    first = {r.rcpt_tos[0]: r.message["Message-ID"] for r in send_ws.server.received[:4]}
    for r in send_ws.server.received[4:]:
        assert r.message["Subject"] == "Menindaklanjuti" and r.message["In-Reply-To"] == first[r.rcpt_tos[0]]
    assert worker.states() == {"sent": 8}


def test_a_broken_mailbox_does_not_stop_sending(send_ws: SendWorkspace, service,  # type: ignore[no-untyped-def]
                                                closed_port: int) -> None:
    closed = closed_port
    with (send_ws.root / "outreach.yaml").open("a") as fh:
        fh.write(f"imap:\n  host: 127.0.0.1\n  port: {closed}\n  security: none\n  username: sari\n  poll_every: 1s\n"
                 "  timeout: 5s\n")  # fmt: skip
    campaign(send_ws, PAST)
    worker = service({"OUTREACH_IMAP_PASSWORD": PASSWORD})

    worker.wait(lambda: send_ws.server.recipients() == PROSPECTS, what="the campaign at the server")
    worker.wait(lambda: sum("mailbox poll:" in line for line in worker.proc.err) >= 3,
             what="three failed polls: the mailbox job keeps running")  # fmt: skip
    worker.stop()
    assert worker.campaign("promo").state == "done"
    assert all(" ERROR outreach.worker: mailbox poll: " in line for line in worker.proc.err if "mailbox poll" in line)


def test_a_broken_relay_does_not_stop_the_mailbox(send_ws: SendWorkspace, service, dovecot: Dovecot) -> None:  # type: ignore[no-untyped-def]
    campaign(send_ws, "")  # the first campaign went out earlier; a reply to it is in the mailbox
    assert send_ws.run("campaign", "send", "promo", "--yes").exit_code == 0
    user = dovecot.new_user()
    configure_imap(send_ws.root, dovecot, user, poll_every="1s")
    (to_ani,) = send_ws.server.to(ANI)
    dovecot.append(user, (f"From: <{ANI}>\r\nTo: {to_ani.message['From']}\r\nSubject: Re: promo\r\n"
                          f"Message-ID: <r1@alpha.example.com>\r\nIn-Reply-To: {to_ani.message['Message-ID']}\r\n"
                          "Content-Type: text/plain; charset=utf-8\r\n\r\nTertarik, tolong telepon saya.\r\n").encode())
    campaign(send_ws, PAST, name="promo-b")  # the next one is due, and the relay is down
    relay = SmtpServer()
    held = socket.socket()  # the relay is down: its port bound, refusing (nothing else can take it meanwhile)
    held.bind(("127.0.0.1", 0))
    port = held.getsockname()[1]
    try:
        worker = service({"OUTREACH_SMTP_PORT": str(port), "OUTREACH_IMAP_PASSWORD": PASSWORD})
        worker.proc.wait_line(rf"WARNING outreach.worker: campaign promo-b: cannot connect to SMTP relay "
                              rf"127.0.0.1:{port}", stream="err")  # fmt: skip
        worker.wait(lambda: replied(worker) == 1, what="the reply read from the mailbox while the relay is down")
        controller = SmtpController(relay, sock=held)  # the same socket listens now: never free for another
    except BaseException:
        held.close()
        raise
    controller.start()  # the relay is back: the campaign goes out on the next try
    try:
        worker.wait(lambda: relay.recipients() == PROSPECTS, what="the campaign at the relay once it is back")
        worker.wait(lambda: worker.campaign("promo-b").state == "done", what="the campaign done")
        worker.stop()
    finally:
        controller.stop()
    assert worker.states("promo-b") == {"sent": 4}


def replied(worker: Service) -> int:
    with transaction(worker.engine()) as session:
        return session.scalar(select(func.count()).select_from(Event).where(Event.kind == "replied")) or 0


def test_sigterm_while_sending_finishes_in_flight_and_loses_nothing(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 300, "throttle: {rate: 50/s, connections: 2}\n" + PAST)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        worker = Service(root)
        try:
            wait_for(lambda: len(sink.received) >= 20, what="20 messages at the sink")
            worker.stop()
        finally:
            worker.kill()
    received = sink.message_ids()
    assert all(n == 1 for n in received.values())
    with transaction(engine) as session:
        rows = list(session.scalars(select(Outbox)))
    states = Counter(r.state for r in rows)
    assert states["sent"] + states["queued"] == 300 and 20 <= states["sent"] < 300, states
    assert {r.message_id for r in rows if r.state == "sent"} == set(received)
    stopped = r"blast: \d+ sent, 0 failed, 0 to retry; state sending: stopped by a signal"
    assert re.fullmatch(stopped, worker.proc.out[1]), worker.proc.output()
