"""``GET /metrics`` scraped from a real ``outreach serve`` process: the numbers, and who may read them.

The workspace's campaign was really sent (6 messages to a sink); bounce and complaint events, the
sent times and a mailbox poll are then set to known values, and a real ``outreach worker`` provides
the heartbeat. The scrape is parsed with prometheus_client's own parser, so the format is checked
by the library Prometheus' Python ecosystem trusts.

Access: loopback and ``web.trusted_proxies`` only (forwarding headers included), or a bearer token
from the environment; hostile requests get 401 or 403, never a 500.
"""

from __future__ import annotations

import contextlib
import re
import socket
from datetime import UTC, timedelta
from pathlib import Path

import httpx2
import pytest
from helpers import Spawned, served_port, wait_for
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update
from starlette.testclient import TestClient

from outreach import Workspace
from outreach.operations.heartbeat import record_mailbox_poll
from outreach.operations.metrics import registry
from outreach.storage import open_engine, transaction, utcnow
from outreach.storage.models import Campaign, Event, Outbox

TOKEN = "s3cret-metrics-token-0123456789"


class Serve:
    """``outreach serve`` as a process on a free port."""

    def __init__(self, root: Path, env: dict[str, str] | None = None) -> None:
        self.proc = Spawned(["-w", str(root), "serve", "--port", "0"], env)  # any free port, read from the banner
        self.port = served_port(self.proc)
        wait_for(self._answers, what="the server answering", context=self.proc.output)

    def _answers(self) -> bool:
        with contextlib.suppress(httpx2.HTTPError):
            self.get("/static/app.css")
            return True
        return False

    def get(self, path: str = "/metrics", **headers: str) -> httpx2.Response:
        return httpx2.get(f"http://127.0.0.1:{self.port}{path}", headers=headers, timeout=60)

    def raw(self, request: bytes) -> int:
        """Send raw bytes (headers no HTTP library would send); the answer's status."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=60) as sock:
            sock.sendall(request)
            data = b""
            while b"\r\n" not in data and (chunk := sock.recv(4096)):
                data += chunk
        match = re.match(rb"HTTP/1\.[01] (\d{3})", data)
        assert match, data
        return int(match.group(1))

    def stop(self) -> None:
        self.proc.signal()
        assert self.proc.finish() == 0, self.proc.output()
        assert "Traceback" not in self.proc.output()


def scrape(response: httpx2.Response) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape: (name, sorted labels) -> value; asserts the Prometheus text format."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        assert family.name.startswith("outreach_"), family.name
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


@pytest.fixture
def known(sent, tmp_path: Path):  # type: ignore[no-untyped-def]
    """The sent campaign (6 messages), with two of them sent two hours ago, 3 bounces (one unmatched), a
    complaint, and a mailbox poll at a known time."""
    ws, engine, rows, _signer = sent
    now = utcnow()
    with transaction(engine) as session:
        campaign_id = session.scalar(select(Campaign.id).where(Campaign.name == "blast"))
        first, second, third, *rest = sorted(rows.values(), key=lambda r: r.id)
        session.execute(update(Outbox).where(Outbox.id.in_([first.id, second.id])).values(
            sent_at=now - timedelta(hours=2)))  # fmt: skip
        session.execute(update(Outbox).where(Outbox.id.in_([r.id for r in (third, *rest)])).values(
            sent_at=now + timedelta(hours=1)))  # within "the last minute" whenever the scrape comes  # fmt: skip
        for kind, row in (("bounced", first), ("bounced", second), ("complained", third)):
            session.add(Event(kind=kind, at=now, campaign_id=campaign_id, outbox_id=row.id, contact_id=row.contact_id,
                              detail={}))  # fmt: skip
        session.add(Event(kind="bounced", at=now, detail={}))  # matched to no message
    polled = now.replace(microsecond=0) - timedelta(minutes=3)
    record_mailbox_poll(engine, polled, ok=True, new=2)
    engine.dispose()
    return ws.root, polled


def test_a_scrape_of_a_real_server_reports_what_the_database_holds(known, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root, polled = known
    server = Serve(root)
    first = scrape(server.get())
    assert first[("outreach_messages", (("campaign", "blast"), ("state", "sent")))] == 6
    assert first[("outreach_queue_depth", ())] == 0
    assert first[("outreach_messages_sent_total", ())] == 6
    assert first[("outreach_sent_last_minute", ())] == 4
    assert first[("outreach_send_rate", ())] == pytest.approx(4 / 60)
    assert first[("outreach_bounces_total", (("campaign", "blast"),))] == 2
    assert first[("outreach_bounces_total", (("campaign", ""),))] == 1
    assert first[("outreach_complaints_total", (("campaign", "blast"),))] == 1
    assert first[("outreach_campaigns", (("state", "done"),))] == 1
    assert first[("outreach_imap_last_poll_timestamp_seconds", ())] == polled.replace(tzinfo=UTC).timestamp()
    assert first[("outreach_imap_last_poll_success", ())] == 1
    assert first[("outreach_webhook_backlog", ())] == 0
    assert first[("outreach_worker_up", ())] == 0 and ("outreach_worker_heartbeat_age_seconds", ()) not in first
    assert first[("outreach_scrape_duration_seconds", ())] > 0

    worker = Spawned(["-w", str(root), "worker", "--interval", "1"])
    worker.wait_line(r"^Worker started")
    # alive from its first beat; its first pass ends a moment later
    alive = wait_for(lambda: (s := scrape(server.get()))[("outreach_worker_up", ())] == 1
                     and ("outreach_worker_last_pass_timestamp_seconds", ()) in s and s,
                     what="the worker's heartbeat and first pass in the scrape", context=worker.output)  # fmt: skip
    assert alive[("outreach_workers_alive", ())] == 1
    assert 0 <= alive[("outreach_worker_heartbeat_age_seconds", ())] < 60
    worker.signal()
    assert worker.finish() == 0, worker.output()
    stopped = scrape(server.get())  # a clean stop is not a live worker
    assert stopped[("outreach_worker_up", ())] == 0 and stopped[("outreach_workers_alive", ())] == 0
    server.stop()


def test_only_loopback_and_trusted_proxies_may_scrape(known) -> None:  # type: ignore[no-untyped-def]
    root, _polled = known
    server = Serve(root)
    assert server.get().status_code == 200
    assert server.get(**{"X-Forwarded-For": "127.0.0.1"}).status_code == 200
    assert server.get(**{"Forwarded": 'for="[::1]:8080"'}).status_code == 200
    refused = server.get(**{"X-Forwarded-For": "203.0.113.7"})  # a proxy on this host, forwarding the internet
    assert refused.status_code == 403
    assert refused.text == ("metrics are served to loopback and web.trusted_proxies only, or with the bearer token "
                            "of web.metrics_token_env\n")  # fmt: skip
    for hostile in ({"X-Forwarded-For": "127.0.0.1, 203.0.113.7"}, {"X-Forwarded-For": "unknown"},
                    {"X-Forwarded-For": "127.0.0.1:x:y"}, {"X-Real-IP": "10.0.0.8"}, {"Forwarded": "for=203.0.113.7"},
                    {"Forwarded": "proto=https"}, {"X-Forwarded-For": "1" * 6000},
                    {"Authorization": "Bearer anything"}):  # fmt: skip
        assert server.get(**{"X-Forwarded-For": "198.51.100.1", **hostile}).status_code == 403, hostile
        assert server.get(**hostile).status_code in (200, 403), hostile  # never a 500
    assert server.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: \xff\xfe\r\n\r\n") == 403
    assert server.get("/metrics/../metrics").status_code in (200, 403, 404)
    assert httpx2.post(f"http://127.0.0.1:{server.port}/metrics", timeout=60).status_code == 404  # not a route
    assert httpx2.put(f"http://127.0.0.1:{server.port}/metrics", timeout=60).status_code == 405
    server.stop()

    with (root / "outreach.yaml").open("a") as fh:
        fh.write("web:\n  trusted_proxies: [127.0.0.1, 10.9.0.0/16]\n")
    behind = Serve(root)  # its peer 127.0.0.1 is a trusted proxy: the client is who it forwards for
    assert behind.get(**{"X-Forwarded-For": "10.9.4.2"}).status_code == 200  # the proxy's network
    assert behind.get(**{"X-Forwarded-For": "203.0.113.7"}).status_code == 403
    assert behind.get(**{"X-Forwarded-For": "203.0.113.7, 10.9.4.2"}).status_code == 403
    behind.stop()


def test_with_a_token_every_scrape_needs_it_and_it_is_enough(known) -> None:  # type: ignore[no-untyped-def]
    root, _polled = known
    server = Serve(root, {"OUTREACH_METRICS_TOKEN": TOKEN})
    missing = server.get()  # loopback too: one rule
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == 'Bearer realm="outreach metrics"'
    assert missing.text == "a valid bearer token is required\n"
    for wrong in ("Bearer wrong", f"Basic {TOKEN}", "Bearer", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", TOKEN):
        assert server.get(Authorization=wrong).status_code == 401, wrong
    assert server.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xe9\xff\r\n\r\n") == 401
    assert server.get(Authorization=f"Bearer {TOKEN}").status_code == 200
    assert server.get(Authorization=f"bearer  {TOKEN}").status_code == 200
    from_outside = server.get(Authorization=f"Bearer {TOKEN}", **{"X-Forwarded-For": "203.0.113.7"})
    assert scrape(from_outside)[("outreach_messages_sent_total", ())] == 6  # from anywhere, with the token
    server.stop()


def test_a_database_that_does_not_answer_is_a_503(known, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    root, _polled = known
    monkeypatch.setenv("OUTREACH_METRICS_TOKEN", TOKEN)  # the test client is not loopback
    from outreach.web.app import create_app

    gone = open_engine(f"sqlite:///{tmp_path / 'missing' / 'x.db'}", migrate=False)  # its folder does not exist
    with Workspace.open(root) as ws, TestClient(create_app(ws)) as client:
        client.app.state.metrics = registry(gone)  # type: ignore[attr-defined]
        answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (answer.status_code, answer.text, answer.headers["retry-after"]) == (
        503, "the database does not answer; try again\n", "10")  # fmt: skip


def test_metric_names_and_help_are_stable(known) -> None:  # type: ignore[no-untyped-def]
    """The names dashboards and alerts are written against (docs/deploy.md lists them)."""
    root, _polled = known
    engine = open_engine(Workspace.open(root).config.database_url)
    from prometheus_client import generate_latest

    families = {f.name: f.type for f in text_string_to_metric_families(generate_latest(registry(engine)).decode())}
    engine.dispose()
    assert families == {
        "outreach_build_info": "gauge", "outreach_messages": "gauge", "outreach_queue_depth": "gauge",
        "outreach_messages_sent": "counter", "outreach_sent_last_minute": "gauge", "outreach_send_rate": "gauge",
        "outreach_bounces": "counter", "outreach_complaints": "counter", "outreach_campaigns": "gauge",
        "outreach_worker_up": "gauge", "outreach_workers_alive": "gauge",
        "outreach_imap_last_poll_timestamp_seconds": "gauge", "outreach_imap_last_poll_success": "gauge",
        "outreach_imap_last_success_timestamp_seconds": "gauge", "outreach_webhook_backlog": "gauge",
        "outreach_scrape_duration_seconds": "gauge",
    }  # fmt: skip

