"""The public side of ``outreach serve`` on a real uvicorn: clicks, proxies, failures, shutdown.

The unsubscribe contract itself is tested in test_unsubscribe.py and the click
rules in tests/tracking/test_clicks.py; here are the server's own promises: no
redirect ever leaves for a link whose MAC did not verify, whatever the input
or the database does; every click is written, even when the server stops
right after the burst; a proxy's headers count only when it is trusted.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest
from helpers import write
from sqlalchemy import func, select
from team_support import csrf_of, log_in, running_server

from outreach.settings.tokens import Signer
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine, transaction
from outreach.storage.models import Event, Outbox
from outreach.tracking.clicks import Click
from outreach.web.batching import ClickRecorder
from outreach.workspace import Workspace

TARGET = "https://www.example.com/promo?c=promo"


def signer_and_rows(root: Path) -> tuple[Signer, list[Outbox]]:
    with Workspace.open(root) as ws:
        signer = Signer(ws.secret())
        with transaction(ws.engine) as session:
            rows = list(session.scalars(select(Outbox).order_by(Outbox.id)))
    return signer, rows


def click_path(signer: Signer, row: Outbox, url: str = TARGET) -> str:
    token = signer.sign(row.contact_id, row.campaign_id)
    return f"/c/{quote(token)}?u={quote(url, safe='')}&s={signer.link_mac(token, url)}"


def clicked_events(root: Path) -> int:
    engine = open_engine(load_workspace(root).database_url)
    try:
        with transaction(engine) as session:
            return session.scalar(select(func.count()).select_from(Event).where(Event.kind == "clicked")) or 0
    finally:
        engine.dispose()


def test_no_redirect_ever_leaves_unless_the_links_mac_verifies(team: Path) -> None:
    signer, rows = signer_and_rows(team)
    row = rows[0]
    token = signer.sign(row.contact_id, row.campaign_id)
    mac = signer.link_mac(token, TARGET)
    altered = mac[:-1] + ("B" if mac.endswith("A") else "A")  # never the MAC itself (one in 64 ends in A)
    evil = "https://evil.example/phish"
    cases = [
        f"/c/{token}?u={quote(evil, safe='')}&s={mac}",  # another target, the genuine MAC
        f"/c/{token}?u={quote(TARGET, safe='')}&s={altered}",  # an altered MAC
        f"/c/{token}?u={quote(TARGET, safe='')}",  # no MAC
        f"/c/{token}?u={quote(TARGET, safe='')}&s=%C3%A9%C3%A9%C3%A9",  # a non-ASCII MAC
        f"/c/{token}?u={quote(TARGET, safe='')}&s={'A' * 5000}",  # an oversized MAC
        f"/c/{quote(token + 'é')}?u={quote(TARGET, safe='')}&s={mac}",  # a non-ASCII token
        f"/c/{'1' * 190}-1-{mac}?u={quote(TARGET, safe='')}&s={mac}",  # an oversized token
        f"/c/%FF%FE-1-x?u={quote(TARGET, safe='')}&s={mac}",  # bytes that are no UTF-8
        f"/c/{token}?u={quote(TARGET, safe='')}&u={quote(evil, safe='')}&s={mac}",  # a second u
        f"/c/{token}?u=javascript%3Aalert(1)&s={signer.link_mac(token, 'javascript:alert(1)')}",  # signed, not http
        f"/c/{token}?u={quote(TARGET + chr(13) + chr(10) + 'X: y', safe='')}"
        f"&s={signer.link_mac(token, TARGET + chr(13) + chr(10) + 'X: y')}",  # signed, with a header break
        "/c/", "/c/?u=https://evil.example", f"/c/{token}",
    ]
    with running_server(team) as srv, httpx2.Client(base_url=srv.base, follow_redirects=False) as client:
        for path in cases:
            response = client.get(path)
            assert response.status_code == 404, (path, response.status_code)
            assert "location" not in response.headers and "Tautan tidak valid" in response.text
        genuine = client.get(f"/c/{token}?u={quote(TARGET, safe='')}&s={mac}")
        assert genuine.status_code == 302 and genuine.headers["location"] == TARGET


def test_a_signed_click_redirects_even_when_its_event_cannot_be_written(
        team: Path, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    signer, rows = signer_and_rows(team)
    with running_server(team) as srv, httpx2.Client(base_url=srv.base, follow_redirects=False) as client:
        db = sqlite3.connect(team / "outreach.db")
        db.execute("ALTER TABLE events RENAME TO events_away")  # the database breaks under the server
        db.commit()
        with caplog.at_level(logging.ERROR, logger="outreach.web.clicks"):
            assert client.get(click_path(signer, rows[0])).status_code == 302
            link = "/u/" + signer.sign(rows[0].contact_id, rows[0].campaign_id)
            assert client.post(link, content=b"List-Unsubscribe=One-Click").status_code == 503
            assert client.get("/c/1-1-AAAA?u=https%3A%2F%2Fevil.example&s=x").status_code == 404
        db.execute("ALTER TABLE events_away RENAME TO events")  # back before the server stops
        db.commit()
        db.close()
    assert clicked_events(team) == 1  # retried until the table was back: not lost
    assert any("writing 1 click(s) failed" in r.getMessage() for r in caplog.records)


def test_every_click_of_a_burst_is_written_when_the_server_stops_at_once(team: Path) -> None:
    signer, rows = signer_and_rows(team)
    paths = [click_path(signer, rows[n % len(rows)], f"{TARGET}&n={n}") for n in range(300)]

    async def burst(base: str) -> list[int]:
        async with httpx2.AsyncClient(base_url=base, follow_redirects=False) as client:
            limit = asyncio.Semaphore(20)

            async def one(path: str) -> int:
                async with limit:
                    return (await client.get(path)).status_code

            return await asyncio.gather(*(one(p) for p in paths))

    with running_server(team) as srv:
        codes = asyncio.run(burst(srv.base))
    assert codes == [302] * len(paths)
    assert clicked_events(team) == len(paths)  # the recorder flushed during shutdown


def test_the_recorder_logs_what_it_could_not_write_at_shutdown(caplog: pytest.LogCaptureFixture) -> None:
    attempts: list[int] = []

    def broken(_engine: object, batch: Sequence[Click]) -> int:
        attempts.append(len(batch))
        raise OSError("disk gone")

    async def run() -> ClickRecorder:
        recorder = ClickRecorder(None, writer=broken, shutdown_attempts=2)  # type: ignore[arg-type]
        recorder.start()
        for n in range(3):
            recorder.add(Click(n + 1, 7, f"https://example.com/{n}", datetime(2026, 12, 1, 9, n)))
        await recorder.stop()
        return recorder

    with caplog.at_level(logging.ERROR, logger="outreach.web.clicks"):
        recorder = asyncio.run(run())
    assert recorder.lost == 3 and recorder.written == 0 and attempts[-1] == 3
    lost = [r.getMessage() for r in caplog.records if r.getMessage().startswith("click not recorded")]
    assert lost == [f"click not recorded: contact {n + 1} campaign 7 at 2026-12-01T09:0{n}:00 url https://example.com/{n}"
                    for n in range(3)]  # fmt: skip


# -- behind a reverse proxy ----------------------------------------------------------------------------


def with_web(root: Path, text: str) -> None:
    settings = root / "outreach.yaml"
    write(settings, settings.read_text(encoding="utf-8") + text)


def test_forwarded_headers_count_only_from_a_trusted_proxy(team: Path) -> None:
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    with running_server(team) as srv, httpx2.Client(base_url=srv.base, headers=https) as client:
        cookie = log_in(client, "boss").headers["set-cookie"]
        assert "Secure" not in cookie  # nobody's forwarded headers are believed by default
    with_web(team, "web:\n  trusted_proxies: [127.0.0.1]\n")
    with running_server(team) as srv:
        with httpx2.Client(base_url=srv.base, headers=https) as client:
            response = log_in(client, "boss")
            assert "Secure" in response.headers["set-cookie"]
            assert response.headers["strict-transport-security"] == "max-age=31536000"
        with httpx2.Client(base_url=srv.base) as client:
            assert "Secure" not in log_in(client, "boss").headers["set-cookie"]


def test_the_throttle_counts_the_forwarded_client_address(team: Path) -> None:
    with_web(team, "web:\n  trusted_proxies: [127.0.0.0/8]\n")
    with running_server(team) as srv:
        for n in range(20):
            with httpx2.Client(base_url=srv.base, headers={"X-Forwarded-For": "203.0.113.7"}) as client:
                assert log_in(client, f"guess{n}", "wrong-password").status_code == 401
        with httpx2.Client(base_url=srv.base, headers={"X-Forwarded-For": "203.0.113.7"}) as client:
            assert log_in(client, "boss").status_code == 429
        with httpx2.Client(base_url=srv.base, headers={"X-Forwarded-For": "198.51.100.9"}) as client:
            assert log_in(client, "boss").status_code == 303


def test_a_public_url_with_a_path_prefixes_links_redirects_and_the_cookie(team: Path) -> None:
    with_web(team, "web:\n  public_url: https://team.example.com/outreach/\n")
    with running_server(team) as srv, httpx2.Client(base_url=srv.base) as client:  # the proxy strips /outreach
        assert client.get("/app/campaigns").headers["location"] == "/outreach/app/login?next=%2Fapp%2Fcampaigns"
        form = client.get("/app/login")
        assert 'action="/outreach/app/login"' in form.text and 'href="/outreach/static/app.css"' in form.text
        cookie = form.headers["set-cookie"]
        assert "Path=/outreach/app" in cookie and "Secure" in cookie  # an https public address: always Secure
        session = {"Cookie": cookie.split(";")[0]}  # as the browser sends it to /outreach/app/..., via the proxy
        response = client.post("/app/login", headers=session, data={
            "username": "cali", "password": "cali-password-1", "csrf_token": csrf_of(form.text)})  # fmt: skip
        assert response.headers["location"] == "/outreach/app/followups"
        session = {"Cookie": response.headers["set-cookie"].split(";")[0]}
        calendar = client.get("/app/followups/calendar", headers=session)
        assert "https://team.example.com/outreach/calendar/" in calendar.text


def test_outreach_serve_as_a_process_stops_on_sigterm_with_every_click_written(team: Path) -> None:
    signer, rows = signer_and_rows(team)
    proc = subprocess.Popen([sys.executable, "-m", "outreach", "-w", str(team), "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        port = int(banner.split("http://127.0.0.1:", 1)[1].split("/", 1)[0])  # port 0: any free one, said here
        assert banner.startswith(f"Serving on http://127.0.0.1:{port}/: team app at http://127.0.0.1:{port}/app/")
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False) as client:
            codes = [client.get(click_path(signer, rows[n % len(rows)], f"{TARGET}&n={n}")).status_code
                     for n in range(50)]  # fmt: skip
        assert codes == [302] * 50
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert clicked_events(team) == 50


def test_a_client_that_half_closes_after_its_request_still_gets_the_answer(team: Path) -> None:
    """Some scripts and scanners shut their side down once the request is sent; the page needs the database."""
    signer, rows = signer_and_rows(team)
    path = "/u/" + signer.sign(rows[0].contact_id, rows[0].campaign_id)
    with running_server(team) as srv, socket.create_connection(srv.server.server_address, timeout=30) as sock:
        sock.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ") and b"Berhenti berlangganan?" in answer


@pytest.mark.parametrize("request_bytes", [
    b"POST /u/1-1-x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000000000\r\n\r\nList-Unsubscribe=One-Click",
    b"POST /u/1-1-x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 36\r\n\r\nList-Unsubscribe=One",
    b"POST /app/login HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    b"POST /../app\r\nHost: 127.0.0.1\r\n",
], ids=["huge length", "short body", "unfinished chunks", "partial request"])  # fmt: skip
def test_a_request_that_can_never_complete_is_closed_at_once_not_held(
        team: Path, request_bytes: bytes, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    """Half-closed with its body (or its head) unfinished: held open, each such request kept a connection and a
    handler until the client gave up (the fuzz found them as 30 s stalls)."""
    with caplog.at_level(logging.INFO), running_server(team) as srv:
        with socket.create_connection(srv.server.server_address, timeout=60) as sock:
            sock.sendall(request_bytes)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):  # a socket timeout here is the failure: the server held on
                pass
        assert httpx2.get(srv.base + "/no/such/page").status_code == 404  # and it still serves
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


def test_no_log_holds_a_token_even_when_uvicorns_access_log_is_switched_on(
        team: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    signer, rows = signer_and_rows(team)
    token = signer.sign(rows[0].contact_id, rows[0].campaign_id)
    with caplog.at_level(logging.INFO), running_server(team) as srv, httpx2.Client(base_url=srv.base) as client:
        monkeypatch.setattr(logging.getLogger("uvicorn.access"), "propagate", True)  # as a logging setup might
        assert client.get(f"/u/{token}").status_code == 200
        assert client.get(click_path(signer, rows[0]), follow_redirects=False).status_code == 302
    server = [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]  # not the client
    assert any("/…" in line for line in server)  # our own access log, with the tokens cut out
    assert not [line for line in server if token in line]
