"""The unsubscribe endpoint over real HTTP (a server on a free port), and the mailto path via ingest.

Tokens come from the ``List-Unsubscribe`` header of the message the campaign
would really send (``content preview --out FILE.eml``), not from test code.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pytest
from helpers import PROSPECTS, SendWorkspace, Spawned, wait_for, write
from sqlalchemy import select

from outreach.storage import open_engine, transaction
from outreach.storage.models import Contact, Event, Outbox, Suppression
from outreach.web.public import make_server

ANI, BUDI = PROSPECTS[0], PROSPECTS[1]
ONE_CLICK = b"List-Unsubscribe=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass
class Links:
    """The two unsubscribe links of one recipient's message."""

    path: str  # /u/TOKEN
    token: str
    mailto: str  # mailto:...?subject=unsubscribe%20TOKEN


def links(sw: SendWorkspace, address: str) -> Links:
    out = sw.root / f"{address}.eml"
    result = sw.run("content", "preview", "promo", "--contact", address, "--out", str(out))
    assert result.exit_code == 0, result.output
    msg = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
    header = str(msg["List-Unsubscribe"])
    url = re.search(r"<(https?://[^>]+)>", header).group(1)  # type: ignore[union-attr]
    mailto = re.search(r"<(mailto:[^>]+)>", header).group(1)  # type: ignore[union-attr]
    path = "/" + url.split("/", 3)[3]
    return Links(path, unquote(path.rsplit("/", 1)[1]), mailto)


@dataclass
class Endpoint:
    sw: SendWorkspace
    base: str

    def get(self, path: str, method: str = "GET") -> tuple[int, str]:
        return self.request(path, None, method)

    def post(self, path: str, body: bytes = ONE_CLICK) -> tuple[int, str]:
        return self.request(path, body, "POST", FORM)

    def request(self, path: str, body: bytes | None, method: str, headers: dict[str, str] | None = None,
                ) -> tuple[int, str]:  # fmt: skip
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def suppressed(self) -> dict[str, str]:
        engine = self.sw.engine()
        try:
            with transaction(engine) as session:
                return {s.email: s.reason for s in session.scalars(select(Suppression))}
        finally:
            engine.dispose()

    def unsubscribe_events(self) -> list[tuple[int | None, int | None, int | None]]:
        engine = self.sw.engine()
        try:
            with transaction(engine) as session:
                rows = session.scalars(select(Event).where(Event.kind == "unsubscribed"))
                return [(e.contact_id, e.campaign_id, e.outbox_id) for e in rows]
        finally:
            engine.dispose()

    def row_of(self, address: str) -> tuple[int, int, int]:
        """(contact_id, campaign_id, outbox_id) of the address's message."""
        engine = self.sw.engine()
        try:
            with transaction(engine) as session:
                row = session.scalar(select(Outbox).where(Outbox.email == address))
                assert row is not None
                return row.contact_id, row.campaign_id, row.id
        finally:
            engine.dispose()

    def status(self) -> dict[str, object]:
        result = self.sw.run("campaign", "status", "promo", "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def built(send_ws: SendWorkspace) -> SendWorkspace:
    result = send_ws.run("campaign", "build", "promo")
    assert result.exit_code == 0, result.output
    return send_ws


@pytest.fixture
def endpoint(built: SendWorkspace) -> Iterator[Endpoint]:
    ws = built.ws
    engine = open_engine(ws.database_url)
    server = make_server(ws, engine, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield Endpoint(built, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        engine.dispose()


def test_get_shows_a_confirmation_page_and_unsubscribes_nobody(endpoint: Endpoint) -> None:
    link = links(endpoint.sw, ANI)

    code, page = endpoint.get(link.path)

    assert code == 200
    assert '<form method="post">' in page and 'name="viewport"' in page
    assert "Berhenti berlangganan?" in page and "Ya, berhenti berlangganan" in page  # the message's language
    assert '<p class="en" lang="en">Unsubscribe? You will receive no more emails' in page  # and a line in the other
    assert "a••@alpha.example.com" in page and ANI not in page
    assert endpoint.get(link.path, "HEAD")[0] == 200
    assert endpoint.suppressed() == {} and endpoint.unsubscribe_events() == []


def test_one_click_post_unsubscribes_at_once(endpoint: Endpoint) -> None:
    link = links(endpoint.sw, ANI)

    code, page = endpoint.post(link.path)

    assert code == 200 and "Anda telah berhenti berlangganan" in page and "You have been unsubscribed" in page
    assert endpoint.suppressed() == {ANI: "unsubscribe"}
    assert endpoint.unsubscribe_events() == [endpoint.row_of(ANI)]
    assert endpoint.status()["unsubscribed"] == 1


def test_a_second_post_changes_nothing(endpoint: Endpoint) -> None:
    link = links(endpoint.sw, ANI)
    assert endpoint.post(link.path)[0] == 200

    code, _ = endpoint.post(link.path)
    code_form, _ = endpoint.post(link.path, b"")  # the page's own button, or a client sending no body

    assert (code, code_form) == (200, 200)
    assert endpoint.suppressed() == {ANI: "unsubscribe"}
    assert len(endpoint.unsubscribe_events()) == 1


def test_forged_and_altered_tokens_are_refused_alike(endpoint: Endpoint) -> None:
    link = links(endpoint.sw, ANI)
    contact, campaign, mac = link.token.split("-", 2)
    budi_contact = endpoint.row_of(BUDI)[0]
    forged = f"/u/{contact}-{campaign}-AAAAAAAAAAAAAAAAAAAAAA"
    altered = f"/u/{budi_contact}-{campaign}-{mac}"  # someone else's contact id, ani's mac
    other_campaign = f"/u/{contact}-{int(campaign) + 1}-{mac}"

    pages = {endpoint.get(p) for p in (forged, altered, other_campaign, "/u/not-a-token", "/elsewhere")}
    posts = {endpoint.post(p) for p in (forged, altered, other_campaign)}

    assert len(pages) == 1 and len(posts) == 1 and pages == posts  # one answer: nothing is revealed
    code, page = pages.pop()
    assert code == 404 and "Tautan tidak valid" in page and "not valid" in page
    assert "@" not in page.split("<footer>")[0]
    assert endpoint.suppressed() == {} and endpoint.unsubscribe_events() == []


def test_other_methods_are_not_allowed(endpoint: Endpoint) -> None:
    link = links(endpoint.sw, ANI)
    assert endpoint.request(link.path, None, "DELETE")[0] == 405
    req = urllib.request.Request(endpoint.base + link.path)
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["Cache-Control"] == "no-store"


def test_suppression_stops_messages_already_queued(endpoint: Endpoint) -> None:
    assert endpoint.post(links(endpoint.sw, ANI).path)[0] == 200

    result = endpoint.sw.run("campaign", "send", "promo", "--yes")

    assert result.exit_code == 0, result.output
    assert ANI not in endpoint.sw.server.recipients()
    assert len(endpoint.sw.server.received) == len(PROSPECTS) - 1
    assert endpoint.status()["suppressed"] == 1


def test_mailto_unsubscribe_through_ingest(built: SendWorkspace) -> None:
    """The reply to the mailto link can come from another address (a forward): the token decides."""
    link = links(built, ANI)
    to, _, query = link.mailto.removeprefix("mailto:").partition("?")
    subject = unquote(query.removeprefix("subject="))
    unsub = write(built.root / "in" / "unsub.eml", (
        f"From: Ani Pribadi <ani.personal@gmail.example>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "Date: Thu, 26 Nov 2026 12:00:00 +0700\r\nMessage-ID: <unsub-ani@gmail.example>\r\n\r\n\r\n"))  # fmt: skip
    forged = write(built.root / "in" / "forged.eml", (
        f"From: mallory@evil.example\r\nTo: {to}\r\nSubject: unsubscribe 1-1-AAAAAAAAAAAAAAAAAAAAAA\r\n"
        "Date: Thu, 26 Nov 2026 12:00:00 +0700\r\nMessage-ID: <forged@evil.example>\r\n\r\n\r\n"))  # fmt: skip

    result = built.run("track", "ingest", str(unsub), str(forged))

    assert result.exit_code == 0, result.output
    assert "2 unsubscribe; 1 unmatched" in result.stdout
    engine = built.engine()
    with transaction(engine) as session:
        assert {s.email: s.reason for s in session.scalars(select(Suppression))} == {ANI: "unsubscribe"}
        ani = session.scalar(select(Contact.id).where(Contact.email == ANI))
        row = session.scalar(select(Outbox.id).where(Outbox.email == ANI))
        unsubscribed = session.scalars(select(Event).where(Event.kind == "unsubscribed"))
        events = [(e.contact_id, e.outbox_id) for e in unsubscribed]
    engine.dispose()
    assert events == [(ani, row)]
    again = built.run("track", "ingest", str(unsub))
    assert "1 already recorded" in again.stdout


def test_serve_command(built: SendWorkspace) -> None:
    proc = Spawned(["serve", "--port", "0", "-w", str(built.root)])  # any free port, read back from the banner
    port = int(re.match(r"Serving on http://127\.0\.0\.1:(\d+)/", proc.wait_line(r"^Serving on "))[1])  # type: ignore[index]
    endpoint = Endpoint(built, f"http://127.0.0.1:{port}")
    assert endpoint.get(links(built, ANI).path)[0] == 200  # bound before the banner: it answers at once
    assert endpoint.post(links(built, ANI).path)[0] == 200
    assert endpoint.suppressed() == {ANI: "unsubscribe"}
    proc.signal()
    assert proc.finish() == 0


def test_serve_on_a_busy_port_is_a_clear_error(built: SendWorkspace) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = built.run("serve", "--port", str(busy.getsockname()[1]))
    assert result.exit_code == 1 and result.stderr.startswith("Error: cannot listen on 127.0.0.1:")


def test_tokens_never_reach_the_log(endpoint: Endpoint, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    link = links(endpoint.sw, ANI)
    with caplog.at_level(logging.INFO, logger="outreach.unsubscribe"):
        endpoint.get(link.path)
        wait_for(lambda: bool(caplog.records), what="the request logged")
    assert caplog.records and link.token not in caplog.text


def test_paths_behind_a_proxy_prefix(endpoint: Endpoint) -> None:
    link = links(endpoint.sw, ANI)
    assert endpoint.get("/outreach" + link.path)[0] == 200
    assert Path(link.path).parent.name == "u"
