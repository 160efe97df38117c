"""Webhook deliveries against a real HTTP receiver, the runner in this process, the clock mocked.

Real parts: the workspace's SQLite file, a campaign sent through aiosmtpd,
replies ingested from .eml files, a threaded HTTP receiver that checks every
signature. Only the clock is fake, so a day of retries passes in a loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from conftest import SECRET, SECRET_ENV, Hooked, hook_yaml
from helpers import SmtpServer, invoke, make_workspace
from starlette.testclient import TestClient
from webhook_receiver import receiving

from outreach.storage import utcnow
from outreach.web.app import create_app
from outreach.webhooks.runner import Deliverer
from outreach.workspace import Workspace


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def deliver(ws: Workspace, deliverer: Deliverer) -> None:
    """One pass for the workspace's one receiver, as the worker's job runs it."""
    (hook,) = ws.config.settings.webhooks
    asyncio.run(deliverer.run(hook))


def test_every_event_arrives_signed_once_with_id_type_at_and_data(hooked: Hooked, tmp_path: Path) -> None:
    with Workspace.open(hooked.root) as ws:
        deliverer = Deliverer(ws.config, ws.engine, "test")
        deliver(ws, deliverer)  # the receiver is seen: it gets what happens from now on
        ws.build("promo")
        assert ws.send("promo").sent == 4
        rows = hooked.sent_rows()
        ws.ingest([hooked.reply(tmp_path / "in", rows["ani@alpha.example.com"], 1, "Tolong telepon saya.")])
        deliver(ws, deliverer)
        status = ws.webhook_status()[0]
    events = [d.event for d in hooked.receiver.delivered]
    assert all(d.signature_ok for d in hooked.receiver.delivered)
    assert sorted(e["type"] for e in events) == ["reply", "sent", "sent", "sent", "sent"]
    assert len({e["id"] for e in events}) == 5
    reply = next(e for e in events if e["type"] == "reply")
    assert reply["contact"] == "ani@alpha.example.com" and reply["campaign"] == "promo"
    assert reply["data"]["text"].startswith("Tolong telepon saya") and reply["at"].endswith("Z")
    sent = next(e for e in events if e["type"] == "sent")
    assert set(sent) >= {"id", "type", "at", "data"} and sent["data"]["message_id"].startswith("<")
    headers = hooked.receiver.delivered[0].headers
    assert headers["X-Outreach-Signature"] == "sha256=" + hmac.new(SECRET, hooked.receiver.delivered[0].raw,
                                                                    hashlib.sha256).hexdigest()  # fmt: skip
    assert (status.backlog, status.failing, status.dead, status.delivered) == (0, 0, 0, 5)


def test_a_failing_receiver_is_retried_with_backoff_for_a_day_then_dead_lettered(hooked: Hooked,
                                                                                  tmp_path: Path) -> None:  # fmt: skip
    clock = Clock()
    hooked.receiver.set_mode("fail")
    with Workspace.open(hooked.root) as ws:
        deliverer = Deliverer(ws.config, ws.engine, "test", clock=clock)
        deliver(ws, deliverer)
        ws.build("promo")
        ws.send("promo")
        first = clock.now
        deliver(ws, deliverer)
        assert hooked.receiver.count("fail") == 4
        clock.advance(seconds=30)  # the first backoff is a minute (±10%): nothing is due yet
        deliver(ws, deliverer)
        assert hooked.receiver.count("fail") == 4
        status = ws.webhook_status()[0]
        assert (status.backlog, status.failing, status.dead) == (4, 4, 0)
        assert status.last_error == "HTTP 500 Internal Server Error"
        clock.advance(seconds=40)  # 70 s: the second attempt
        deliver(ws, deliverer)
        assert hooked.receiver.count("fail") == 8
        clock.advance(seconds=70)  # 140 s: the next waits two minutes after the second
        deliver(ws, deliverer)
        assert hooked.receiver.count("fail") == 8
        clock.advance(seconds=70)  # 210 s
        deliver(ws, deliverer)
        assert hooked.receiver.count("fail") == 12
        passes = 0
        while ws.webhook_status()[0].dead < 4:
            clock.advance(minutes=67)  # past the longest backoff (an hour, +10% at most): each pass tries each
            deliver(ws, deliverer)
            passes += 1
            assert passes < 40, "still not dead-lettered after 40 hours"
        # dead at the first attempt a day or more after the first one, not before
        assert clock.now - first >= timedelta(hours=24) > clock.now - timedelta(minutes=67) - first
        assert hooked.receiver.count("fail") == 12 + 4 * passes
        status = ws.webhook_status()[0]
        assert (status.backlog, status.failing, status.dead, status.delivered) == (0, 0, 4, 0)
        shown = invoke("webhooks", "status", ws=hooked.root).stdout.splitlines()
        assert shown[:2] == [hooked.receiver.url, "  backlog 0 (0 failing), dead 4, delivered 0"]
        assert shown[2].endswith(": HTTP 500 Internal Server Error")

        # the receiver is back: a new event of a dead-lettered contact is not held back by the dead ones
        hooked.receiver.set_mode("ok")
        rows = hooked.sent_rows()
        ws.ingest([hooked.reply(tmp_path / "in", rows["budi@beta.example.com"], 2, "Boleh, kirim brosurnya.")])
        deliver(ws, deliverer)
        assert [d.event["type"] for d in hooked.receiver.delivered] == ["reply"]

        # the dead letters, queued again by hand, are delivered (receivers dedupe by id)
        redelivered = invoke("webhooks", "redeliver", ws=hooked.root)
        assert redelivered.stdout == "4 dead-lettered deliveries queued again\n"
        deliver(ws, deliverer)
        status = ws.webhook_status()[0]
    assert sorted(d.event["type"] for d in hooked.receiver.delivered) == ["reply", "sent", "sent", "sent", "sent"]
    assert (status.backlog, status.dead, status.delivered) == (0, 0, 5)


def test_a_contacts_later_event_waits_while_an_earlier_one_is_failing(hooked: Hooked, tmp_path: Path) -> None:
    clock = Clock()
    with Workspace.open(hooked.root) as ws:
        deliverer = Deliverer(ws.config, ws.engine, "test", clock=clock)
        deliver(ws, deliverer)
        hooked.receiver.set_mode("fail")
        ws.build("promo")
        ws.send("promo")
        rows = hooked.sent_rows()
        page = ws.events()
        ani_sent = next(e.id for e in page.events if e.contact == "ani@alpha.example.com")
        hooked.receiver.refuse = {ani_sent}  # only ani's first event fails from now on
        hooked.receiver.set_mode("ok")
        ws.ingest([hooked.reply(tmp_path / "in", rows["ani@alpha.example.com"], 3, "Saya tertarik.")])
        ani_reply = ws.events(after=ani_sent, types=["reply"]).events[0].id
        deliver(ws, deliverer)
        assert ani_reply not in hooked.receiver.attempted_ids()  # held back behind ani's failing `sent`
        assert len(hooked.receiver.delivered) == 3  # the other three contacts' events went
        assert ws.webhook_status()[0].backlog == 2
        hooked.receiver.refuse = set()
        clock.advance(minutes=2)
        deliver(ws, deliverer)
    ids = hooked.receiver.ids()
    assert ids.index(ani_sent) < ids.index(ani_reply)
    for contact in {d.event["contact"] for d in hooked.receiver.delivered}:  # in order for each contact
        theirs = [d.event["id"] for d in hooked.receiver.delivered if d.event["contact"] == contact]
        assert theirs == sorted(theirs)


def test_without_its_secret_nothing_is_posted_and_status_says_why(hooked: Hooked,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.delenv(SECRET_ENV)
    with Workspace.open(hooked.root) as ws:
        deliverer = Deliverer(ws.config, ws.engine, "test")
        deliver(ws, deliverer)
        ws.build("promo")
        ws.send("promo")
        deliver(ws, deliverer)
    assert hooked.receiver.attempts == []
    result = invoke("webhooks", "status", ws=hooked.root)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == hooked.receiver.url
    assert lines[1] == "  backlog 4 (0 failing), dead 0, delivered 0"
    assert lines[2] == "  the secret's environment variable is not set here (the worker needs it)"
    assert lines[3].startswith("  last error ") and lines[3].endswith(
        f": ${SECRET_ENV} is not set: nothing is delivered until the worker has it")


@pytest.mark.postgres
def test_on_postgresql_the_api_and_the_webhooks_work_alike(
        tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch, pg_url: str) -> None:  # fmt: skip
    monkeypatch.setenv("OUTREACH_DATABASE_URL", pg_url)
    monkeypatch.setenv("OUTREACH_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    with receiving(SECRET) as receiver:
        root = make_workspace(tmp_path / "ws")
        with (root / "outreach.yaml").open("a", encoding="utf-8") as fh:
            fh.write(hook_yaml(receiver.url))
        assert invoke("contacts", "import", str(root / "small.csv"), ws=root).exit_code == 0
        with Workspace.open(root) as ws:
            deliverer = Deliverer(ws.config, ws.engine, "test")
            deliver(ws, deliverer)
            ws.build("promo")
            assert ws.send("promo").sent == 4
            ws.add_user("boss", "executive", "boss-password-1")
            auth = {"Authorization": f"Bearer {ws.new_api_token('boss')[1]}"}
            with TestClient(create_app(ws), headers=auth) as client:
                posted = client.post("/api/v1/contacts", json=[{"email": "pg@example.com", "city": "Medan"},
                                                               {"email": "bad", "city": "x"}]).json()  # fmt: skip
                assert [i["result"] for i in posted["items"]] == ["created", "rejected"]
                assert client.get("/api/v1/contacts/pg@example.com").json()["city"] == "Medan"
                feed = client.get("/api/v1/events").json()
                assert [e["type"] for e in feed["events"]] == ["sent"] * 4
            deliver(ws, deliverer)
            assert ws.webhook_status()[0].delivered == 4
    assert sorted(receiver.ids()) == sorted(e["id"] for e in feed["events"])
    assert all(d.signature_ok for d in receiver.delivered)
