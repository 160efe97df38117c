"""The team app's rough edges a new user hit (issue 20), over HTTP: the browser-level ones are in
test_app_browser.py (a phone's width, the console, the flash's width, the test-copy button)."""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from helpers import SmtpServer, write, write_csv
from sqlalchemy import select
from team_support import WRITER_EMAIL, app_client, csrf_of

from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine, transaction
from outreach.storage.models import FollowUp, Outbox
from outreach.web.app import create_preview_app
from outreach.workspace import Workspace

ANI = "ani@alpha.example.com"


def flash_of(page: str) -> str:
    match = re.search(r'<div class="flash (?:ok|error)" role="status">(.*?)</div>', page, re.S)
    assert match, page[:3000]
    return match.group(1)


def test_favicon_is_served_without_a_login(team: Path) -> None:
    with app_client(team) as client:
        icon = client.get("/favicon.ico")
        assert (icon.status_code, icon.headers["content-type"]) == (200, "image/x-icon")
        assert icon.content[:4] == b"\x00\x00\x01\x00" and b"\x89PNG" in icon.content  # an ICO holding a PNG
        assert "max-age" in icon.headers["cache-control"]
        svg = client.get("/static/favicon.svg")
        assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/app/login").text
    with Workspace.open(team) as ws:
        from starlette.testclient import TestClient

        with TestClient(create_preview_app(ws, "promo", None, None)) as preview:  # content preview --serve
            assert preview.get("/favicon.ico").status_code == 200


def test_the_send_flash_shows_code_not_backticks(team: Path) -> None:
    with Workspace.open(team) as ws:
        ws.build("launch")
    with app_client(team, "boss") as client:
        confirm = client.get("/app/campaigns/launch/send")
        client.post("/app/campaigns/launch/send", data={"csrf_token": csrf_of(confirm.text)})
        shown = flash_of(client.get("/app/campaigns/launch").text)
    assert shown == ("launch is handed to the worker, which sends it now (<code>outreach worker</code> must be "
                     "running). No worker is running, so nothing happens until one runs: "
                     f"<code>outreach worker -w {team}</code> (as a service: docs/deploy.md).")  # fmt: skip
    assert "`" not in shown


def test_a_flash_never_carries_markup_from_its_text(team: Path) -> None:
    """Backtick spans become <code>; everything else is still escaped (an error may quote a file's content)."""
    from outreach.web.render import code_spans

    assert code_spans("run `a<b>` & <i>x</i>") == "run <code>a&lt;b&gt;</code> &amp; &lt;i&gt;x&lt;/i&gt;"


def test_a_callers_history_is_in_the_workspace_timezone(team: Path) -> None:
    engine = open_engine(load_workspace(team).database_url)
    with transaction(engine) as session:
        row = session.scalar(select(Outbox).where(Outbox.email == ANI))
        assert row is not None and row.sent_at is not None
        row.sent_at = datetime(2026, 12, 1, 2, 5)  # naive UTC, as stored: 09:05 in Jakarta
    engine.dispose()
    with app_client(team, "cali") as client:
        page = client.get("/app/followups").text
    card = page[page.index("Ani Lestari"):]
    card = card[: card.index("</article>")]
    assert "2026-12-01 09:05 WIB" in card
    assert " UTC" not in page


def test_an_imported_callback_date_shows_in_its_input(team: Path, tmp_path: Path) -> None:
    engine = open_engine(load_workspace(team).database_url)
    with transaction(engine) as session:
        item = session.scalar(select(FollowUp).join(FollowUp.contact).where(FollowUp.queue == "call")
                              .order_by(FollowUp.id))  # fmt: skip
        assert item is not None
        item_id = item.id
    engine.dispose()
    sheet = write_csv(tmp_path / "outcomes.csv", ["id", "outcome", "notes", "visit_at"],
                      [[item_id, "callback", "telepon lagi Rabu", "2026-12-09 09:00"]])  # fmt: skip
    with Workspace.open(team) as ws:
        assert ws.import_outcomes(sheet) == {"applied": 1, "unchanged": 0}
    with app_client(team, "cali") as client:
        page = client.get("/app/followups").text
    card = page[page.index(f'id="item-{item_id}"'):]
    card = card[: card.index("</article>")]
    assert f'<input type="date" id="cb-{item_id}" name="callback_date" value="2026-12-09">' in card
    assert 'value="callback" checked' in card


def test_the_preview_error_names_the_file_from_the_workspace(team: Path) -> None:
    md = team / "campaigns" / "promo.md"
    md.write_text(md.read_text(encoding="utf-8").replace("Salam,", "Salam, {% if %}"), encoding="utf-8")
    with app_client(team, "wina") as client:
        page = html.unescape(client.get("/app/preview/promo").text)
        alone = html.unescape(client.get("/app/preview/promo/message.html").text)
    assert "campaigns/promo.md, line 12: template syntax error in body" in page
    assert str(team) not in page and str(team) not in alone and "campaigns/promo.md, line 12" in alone
    assert re.search(r'<button class="primary" type="submit" disabled>Send me a test copy</button>', page)


def test_no_test_copy_of_content_with_lint_errors(team: Path, smtp_server: SmtpServer) -> None:
    """A relative link renders fine (so the page's button is enabled until the lint arrives: the script then
    disables it), but lint calls it an error: the server refuses the test copy too."""
    md = team / "campaigns" / "promo.md"
    md.write_text(md.read_text(encoding="utf-8").replace("(https://www.example.com/promo?c={{ campaign.name }})",
                                                         "(promo.html)"), encoding="utf-8")  # fmt: skip
    with app_client(team, "wina") as client:
        page = client.get("/app/preview/promo").text
        assert re.search(r'<button class="primary" type="submit">Send me a test copy</button>', page)
        lint = client.get("/app/preview/promo/lint").text
        assert 'data-errors="1"' in lint
        client.post("/app/preview/promo/test-send", data={"csrf_token": csrf_of(page), "contact": ANI})
        shown = html.unescape(flash_of(client.get("/app/preview/promo").text))
    assert shown == ("The test copy was not sent: the content has 1 error(s), the first: campaigns/promo.md:10: "
                     "error: link [katalog kami]: not an http(s), mailto or tel URL (relative links do not work in "
                     "email) (promo.html); fix the content first.")  # fmt: skip
    assert smtp_server.received == []
    md.write_text(md.read_text(encoding="utf-8").replace("(promo.html)", "(https://www.example.com/promo)"),
                  encoding="utf-8")  # fmt: skip
    with app_client(team, "wina") as client:
        page = client.get("/app/preview/promo").text
        client.post("/app/preview/promo/test-send", data={"csrf_token": csrf_of(page), "contact": ANI})
    assert [r.rcpt_tos for r in smtp_server.received] == [(WRITER_EMAIL,)]


def test_the_writers_list_names_the_content_files(team: Path) -> None:
    write(team / "campaigns" / "bilingual.yaml", "segment: prospects\ncontent: bilingual.md\nsender: awang\n")
    write(team / "campaigns" / "bilingual.id.md", "---\nsubject: Halo\n---\nHalo.\n")
    write(team / "campaigns" / "bilingual.en.md", "---\nsubject: Hello\n---\nHello.\n")
    write(team / "campaigns" / "draft.yaml", "segment: prospects\ncontent: draft.md\nsender: awang\n")
    with app_client(team, "wina") as client:
        page = client.get("/app/preview").text
    assert "<th>Content (what you write)</th>" in page and ">Content</th>" not in page
    rows = dict(re.findall(r'<tr data-campaign="([^"]+)">(.*?)</tr>', page, re.S))
    assert '<code>campaigns/promo.md</code>' in rows["promo"] and "<code>campaigns/promo.yaml</code>" in rows["promo"]
    assert "<code>campaigns/bilingual.id.md</code><br><code>campaigns/bilingual.en.md</code>" in rows["bilingual"]
    assert re.search(r'<span class="muted">campaigns/draft\.yaml[^<]*draft\.md', rows["draft"])  # why there is none
    assert str(team) not in page


def test_times_are_shown_in_the_workspace_timezone_not_the_machines() -> None:
    from outreach.web.render import local_time

    jakarta = ZoneInfo("Asia/Jakarta")
    assert local_time(datetime(2026, 12, 1, 17, 30), jakarta) == "2026-12-02 00:30 WIB"
    assert local_time(None, jakarta) == ""
