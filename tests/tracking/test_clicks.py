"""Click tracking: links rewritten once per campaign, a signed redirect, clicks ranked below replies."""

from __future__ import annotations

import asyncio
import email
import email.policy
import http.client
import re
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from engine_support import TODAY, FaultySink, bulk_workspace, contact, prepare, reply, running
from sqlalchemy import func, select

from outreach.campaigns.status import campaign_status
from outreach.followups.promotion import promote
from outreach.followups.queue import list_items
from outreach.sending.engine import send_campaign
from outreach.settings.tokens import Signer, workspace_secret
from outreach.storage import transaction
from outreach.storage.models import Event, Outbox
from outreach.tracking.ingest import ingest
from outreach.web.public import make_server

PRODUCT = "https://www.example.com/promo/lisensi-2027?utm_source=outreach&utm_campaign=blast"


@pytest.fixture
def clicked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    root = bulk_workspace(tmp_path / "ws", 3, "throttle: {rate: 2000/s}\n", settings_extra="tracking: {clicks: true}\n")
    md = root / "campaigns" / "year-end-licensing.md"
    md.write_text(md.read_text() + "\nSee [the offer](https://www.example.com/promo/lisensi-2027?"
                  "utm_source=outreach&utm_campaign={{ campaign.name }}) or write to "
                  "[us](mailto:sari@contoh-solusi.co.id).\n")  # fmt: skip
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        asyncio.run(send_campaign(ws, engine, "blast"))
    server = make_server(ws, engine, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ws, engine, sink, server
    server.shutdown()
    server.server_close()


def parts(raw: bytes) -> tuple[str, str]:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    text, html = (p.get_content() for p in msg.iter_parts())
    return text, html


def get(server, url: str) -> http.client.HTTPResponse:  # type: ignore[no-untyped-def]
    split = urlsplit(url)
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=30)
    conn.request("GET", split.path + ("?" + split.query if split.query else ""))
    return conn.getresponse()


def tracked_links(raw: bytes) -> list[str]:
    _text, html = parts(raw)
    return [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+/c/[^"]+)"', html)]


def product_link(raw: bytes) -> str:
    (link,) = (x for x in tracked_links(raw) if parse_qs(urlsplit(x).query)["u"] == [PRODUCT])
    return link


def test_links_are_rewritten_in_both_parts_but_not_mailto_or_unsubscribe(clicked) -> None:  # type: ignore[no-untyped-def]
    _ws, _engine, sink, _server = clicked
    text, html = parts(sink.raw[0])
    assert len(tracked_links(sink.raw[0])) == 2  # the content's own link and the one added here
    product_link(sink.raw[0])
    assert f'href="{PRODUCT.replace("&", "&amp;")}"' not in html
    assert 'href="mailto:sari@contoh-solusi.co.id"' in html
    assert re.search(r'href="http://127\.0\.0\.1:8025/u/[^"]+"', html)
    assert "/c/" in text and PRODUCT not in text


def clicks_recorded(engine, expected: int, timeout: float = 15.0) -> int:  # type: ignore[no-untyped-def]
    """The redirect answers before the click is written (a writer task batches them): wait for the events."""
    deadline = time.monotonic() + timeout
    while True:
        with transaction(engine) as session:
            n = session.scalar(select(func.count()).select_from(Event).where(Event.kind == "clicked")) or 0
        if n >= expected or time.monotonic() > deadline:
            return n
        time.sleep(0.02)


def test_a_click_is_recorded_and_redirected(clicked) -> None:  # type: ignore[no-untyped-def]
    _ws, engine, sink, server = clicked
    link = product_link(sink.raw[0])
    response = get(server, link)
    assert response.status == 302 and response.getheader("Location") == PRODUCT
    assert clicks_recorded(engine, 1) == 1
    assert campaign_status(engine, "blast").counts["clicked"] == 1


def test_tampered_links_are_refused(clicked) -> None:  # type: ignore[no-untyped-def]
    _ws, engine, sink, server = clicked
    link = product_link(sink.raw[0])
    evil = link.replace(quote(PRODUCT, safe=""), quote("https://evil.example/phish", safe=""))
    assert get(server, evil).status == 404
    other = re.sub(r"/c/(\d+)-", lambda m: f"/c/{int(m.group(1)) + 1}-", link)
    assert get(server, other).status == 404
    assert get(server, link.split("&s=")[0]).status == 404
    assert campaign_status(engine, "blast").counts["clicked"] == 0


def test_clicks_rank_below_replies_and_promote_once(clicked) -> None:  # type: ignore[no-untyped-def]
    ws, engine, sink, server = clicked
    links = {str(email.message_from_bytes(raw)["To"]).strip("<>"): product_link(raw) for raw in sink.raw}
    links = {k.split("<")[-1].rstrip(">"): v for k, v in links.items()}
    for who, times in ((contact(0), 2), (contact(1), 1), (contact(2), 1)):
        for _ in range(times):
            assert get(server, links[who]).status == 302
    assert clicks_recorded(engine, 4) == 4
    with transaction(engine) as session:
        rows = {r.email: r for r in session.scalars(select(Outbox))}
    signer = Signer(workspace_secret(engine, ws.settings.unsubscribe.secret_env))
    ingest(engine, [reply(rows[contact(2)], "Thanks, please call me.", 1)], signer)
    assert promote(engine, ws, TODAY) == 3
    items = list_items(engine)
    assert [(i.email, i.priority, i.reason) for i in items] == [
        (contact(2), 50, "replied (interested)"), (contact(0), 35, "clicked 2 link(s)"),
        (contact(1), 25, "clicked 1 link(s)"),
    ]  # fmt: skip
    assert promote(engine, ws, TODAY) == 0
    ingest(engine, [reply(rows[contact(1)], "Could you send a quotation?", 2)], signer)
    promote(engine, ws, TODAY)
    upgraded = {i.email: i for i in list_items(engine)}[contact(1)]
    assert (upgraded.queue, upgraded.priority) == ("visit", 65)
    assert upgraded.reason == "replied (interested): asks for a meeting or a price"
