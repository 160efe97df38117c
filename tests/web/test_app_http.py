"""The team app over HTTP (Starlette's TestClient on the whole app, lifespan included): access, safety, flows.

The workspace is a real one (a campaign sent through aiosmtpd, replies
ingested, accounts made by the face); the browser-level flows are in
test_app_browser.py.
"""

from __future__ import annotations

import asyncio
import re
import shutil
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from helpers import SmtpServer, png, write, write_csv
from sqlalchemy import select
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from team_support import PASSWORDS, WRITER_EMAIL, app_client, csrf_of, log_in

from outreach.followups.outcomes import import_outcomes
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine, transaction
from outreach.storage.models import Campaign, Contact, FollowUp, Outbox
from outreach.web.app import create_app
from outreach.worker import run_worker
from outreach.workspace import Workspace

PARAMS = {"name": "promo", "action": "build", "item": "1", "key": "ani@alpha.example.com",
          "token": "t" * 32, "report": "rejects.csv"}  # fmt: skip
PAGES = {  # one GET page per role
    "executive": ["/app/campaigns", "/app/campaigns/promo", "/app/campaigns/promo/report", "/app/reports/monthly",
                  "/app/reports/monthly.xlsx",
                  "/app/campaigns/launch/build", "/app/fragments/campaigns", "/app/campaigns/promo/progress",
                  "/app/webhooks", "/app/campaigns/new", "/app/campaigns/promo/edit", "/app/campaigns/promo/review",
                  "/app/campaigns/promo/doctor", "/app/segments", "/app/segments/new", "/app/segments/prospects"],
    "writer": ["/app/preview", "/app/preview/promo", "/app/preview/promo/lint", "/app/preview/promo/version",
               "/app/preview/promo/message.html"],
    "caller": ["/app/followups", "/app/followups?queue=visit", "/app/followups?queue=verify",
               "/app/followups/calendar"],
    "admin": ["/app/hygiene", "/app/contacts/import", "/app/users", "/app/contacts/ani@alpha.example.com/edit"],
}  # fmt: skip
SHARED = {  # pages of more than one role: each role's own, and not another's 403
    "/app/reports/monthly": ("executive", "admin"),
    "/app/reports/monthly.xlsx": ("executive", "admin"),
    "/app/contacts": ("executive", "admin"),
    "/app/contacts/ani@alpha.example.com": ("executive", "admin"),
    "/app/segments": ("executive", "admin"),
    "/app/segments/new": ("executive", "admin"),
    "/app/segments/prospects": ("executive", "admin"),
}
USERS = {"executive": "boss", "writer": "wina", "caller": "cali", "admin": "sari"}


def team_routes(root: Path) -> list[tuple[str, str, Any]]:
    """(method, path, endpoint) of every route under /app, parameters filled in."""
    with Workspace.open(root) as ws:
        app = create_app(ws)
    (mount,) = [r for r in app.routes if isinstance(r, Mount) and r.path == "/app"]
    out = []
    for route in mount.routes:
        assert isinstance(route, Route)
        path = "/app" + re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: PARAMS[m.group(1)], route.path)
        for method in sorted((route.methods or {"GET"}) - {"HEAD"}):
            out.append((method, path, route.endpoint))
    return out


def state_of(root: Path, name: str) -> str | None:
    engine = open_engine(load_workspace(root).database_url)
    try:
        with transaction(engine) as session:
            return session.scalar(select(Campaign.state).where(Campaign.name == name))
    finally:
        engine.dispose()


def items(root: Path) -> dict[str, FollowUp]:
    engine = open_engine(load_workspace(root).database_url)
    try:
        with transaction(engine) as session:
            return {f"{f.contact.email}:{f.queue}": f for f in session.scalars(select(FollowUp))}
    finally:
        engine.dispose()


# -- who may open what ----------------------------------------------------------------------


def test_every_app_route_sends_to_the_login_page_without_a_session(team: Path) -> None:
    routes = team_routes(team)
    assert len(routes) >= 20
    open_routes = {("GET", "/app/login"), ("POST", "/app/login"), ("POST", "/app/logout")}
    with app_client(team) as client:
        for method, path, endpoint in routes:
            if (method, path) in open_routes:
                continue
            response = client.request(method, path)
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/app/login?next="), (method, path)
            if path not in ("/app/", "/app/logout"):
                assert hasattr(endpoint, "roles"), f"{path} is not guarded by requires()"
        assert client.get("/app/no/such/page").headers["location"].startswith("/app/login")
        assert client.get("/app").headers["location"] == "/app/"


@pytest.mark.parametrize("role", ["executive", "writer", "caller", "admin"])
def test_a_role_gets_403_on_the_other_roles_pages(team: Path, role: str) -> None:
    with app_client(team, USERS[role]) as client:
        for own in [*PAGES[role], *(p for p, roles in SHARED.items() if role in roles)]:
            assert client.get(own).status_code == 200, own
        for other, pages in PAGES.items():
            if other == role:
                continue
            for path in [*pages, *(p for p, roles in SHARED.items() if role not in roles)]:
                if role in SHARED.get(path, ()):
                    continue
                response = client.get(path)
                assert response.status_code == 403, path
                assert "This page is for" in response.text and f"you are logged in as {USERS[role]}" in response.text


def test_a_caller_cannot_send_or_cancel_a_campaign(team: Path) -> None:
    with app_client(team, "cali") as client:
        token = csrf_of(client.get("/app/followups").text)
        for action in ("send", "cancel", "pause", "build"):
            response = client.post(f"/app/campaigns/promo/{action}", data={"csrf_token": token})
            assert response.status_code == 403, action
    assert state_of(team, "promo") == "done"


def test_every_post_without_the_right_csrf_token_is_refused(team: Path) -> None:
    posts = [(path, endpoint) for method, path, endpoint in team_routes(team) if method == "POST"]
    for role, user in USERS.items():
        with app_client(team, user) as client:
            for path, endpoint in posts:
                if role not in getattr(endpoint, "roles", (role,)):
                    continue  # refused for the role first (above)
                for data in ({}, {"csrf_token": "forged-token-forged-token-forged-token"}):
                    response = client.post(path, data=data)
                    assert response.status_code == 403, (user, path, data)
                    assert "did not come from this site" in response.text
    assert state_of(team, "promo") == "done" and state_of(team, "launch") is None


def test_login_form_and_cookie(team: Path) -> None:
    with app_client(team) as client:
        form = client.get("/app/login")
        assert re.search(r'<input type="hidden" name="csrf_token" value="[^"]{32,}">', form.text)
        assert 'name="username"' in form.text and 'name="password"' in form.text
        response = log_in(client, "boss")
        assert response.status_code == 303 and response.headers["location"] == "/app/campaigns"
        cookie = response.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/app" in cookie
        assert "Secure" not in cookie  # plain http on 127.0.0.1 (https: test_public_routes.py)
        assert client.get("/app/").headers["location"] == "/app/campaigns"


def test_wrong_password_and_unknown_user_get_the_same_answer(team: Path) -> None:
    with app_client(team) as client:
        wrong = log_in(client, "boss", "not-the-password")
        unknown = log_in(client, "nobody", "not-the-password")
        assert wrong.status_code == unknown.status_code == 401
        assert "Wrong user name or password." in wrong.text and "Wrong user name or password." in unknown.text
        assert client.get("/app/campaigns").status_code == 303


def test_logins_are_throttled_per_user_with_backoff(team: Path) -> None:
    now = [1000.0]
    with app_client(team) as client:
        throttle = client.app.state.web.throttle  # type: ignore[attr-defined]
        throttle.clock = lambda: now[0]
        for _ in range(5):
            assert log_in(client, "boss", "guess-guess").status_code == 401
        refused = log_in(client, "boss")  # even the right password waits
        assert refused.status_code == 429 and "Too many failed logins" in refused.text
        assert int(refused.headers["retry-after"]) == 30
        assert log_in(client, "wina").status_code == 303  # another user from the same address
        client.cookies.clear()
        now[0] += 31
        assert log_in(client, "boss", "guess-guess").status_code == 401
        assert int(log_in(client, "boss").headers["retry-after"]) == 60  # twice as long after one more failure
        now[0] += 61
        assert log_in(client, "boss").status_code == 303


def test_logins_are_throttled_per_address(team: Path) -> None:
    now = [1000.0]
    with app_client(team) as client:
        client.app.state.web.throttle.clock = lambda: now[0]  # type: ignore[attr-defined]
        for n in range(20):
            assert log_in(client, f"guess{n}", "guess-guess").status_code == 401
        assert log_in(client, "wina").status_code == 429


def test_logout_ends_the_session_even_for_a_copied_cookie(team: Path) -> None:
    with app_client(team, "boss") as client:
        page = client.get("/app/campaigns")
        stolen = dict(client.cookies)
        assert client.post("/app/logout", data={"csrf_token": csrf_of(page.text)}).status_code == 303
        assert client.get("/app/campaigns").status_code == 303
        client.cookies.clear()
        client.cookies.update(stolen)
        assert client.get("/app/campaigns").status_code == 303  # the old cookie no longer opens anything


def test_removing_a_user_or_changing_the_password_ends_their_sessions(team: Path) -> None:
    with app_client(team, "boss") as client:
        assert client.get("/app/campaigns").status_code == 200
        with Workspace.open(team) as ws:
            ws.set_password("boss", "another-password")
        assert client.get("/app/campaigns").status_code == 303
        assert log_in(client, "boss", "another-password").status_code == 303
        with Workspace.open(team) as ws:
            ws.remove_user("boss")
        assert client.get("/app/campaigns").status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/app/x", "/app//evil.example",
                                    "/elsewhere", "javascript:alert(1)", "/app/\\evil.example"])  # fmt: skip
def test_after_login_next_never_leaves_the_app(team: Path, target: str) -> None:
    with app_client(team) as client:
        token = csrf_of(client.get("/app/login").text)
        response = client.post("/app/login", data={"username": "cali", "password": PASSWORDS["cali"],
                                                   "csrf_token": token, "next": target})  # fmt: skip
        assert response.headers["location"] == "/app/followups"
    with app_client(team) as client:
        token = csrf_of(client.get("/app/login?next=/app/followups/calendar").text)
        response = client.post("/app/login", data={"username": "cali", "password": PASSWORDS["cali"],
                                                   "csrf_token": token, "next": "/app/followups/calendar"})  # fmt: skip
        assert response.headers["location"] == "/app/followups/calendar"


def test_every_page_carries_the_security_headers_and_only_nonced_scripts(team: Path) -> None:
    for role, user in USERS.items():
        with app_client(team, user) as client:
            for path in [*PAGES[role], "/app/login", "/static/app.css", "/nowhere"]:
                response = client.get(path)
                csp = response.headers["content-security-policy"]
                assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, path
                scripts = csp.split("script-src")[1].split(";")[0] if "script-src" in csp else ""
                assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts, path
                assert response.headers["x-content-type-options"] == "nosniff"
                assert response.headers["referrer-policy"] == "no-referrer"
                nonce = re.search(r"'nonce-([^']+)'", csp)
                for script in re.findall(r"<script\b[^>]*>", response.text):
                    assert nonce and f'nonce="{nonce.group(1)}"' in script and " src=" in script, (path, script)
                assert "<script>" not in response.text and " on" + "click=" not in response.text


# -- the executive ----------------------------------------------------------------------------------


def test_executive_builds_then_the_worker_sends_what_the_app_handed_over(team: Path,
                                                                         smtp_server: SmtpServer) -> None:  # fmt: skip
    with app_client(team, "boss") as client:
        confirm = client.get("/app/campaigns/launch/build")
        assert re.search(r'id="audience">2<', confirm.text)  # the two existing customers
        assert client.post("/app/campaigns/launch/build", data={"csrf_token": csrf_of(confirm.text)}).status_code == 303
        page = client.get("/app/campaigns/launch")
        assert "Campaign launch: 2 added to the outbox" in page.text

        confirm = client.get("/app/campaigns/launch/send")
        assert re.search(r'id="audience">2<', confirm.text) and "Awang" in confirm.text
        done = client.post("/app/campaigns/launch/send", data={"csrf_token": csrf_of(confirm.text)})
        assert done.status_code == 303
        assert "handed to the worker" in client.get("/app/campaigns/launch").text
        assert state_of(team, "launch") == "scheduled"
        assert smtp_server.received == []  # the web process sent nothing itself

        ws = load_workspace(team)
        engine = open_engine(ws.database_url)
        try:
            stats = asyncio.run(run_worker(ws, engine, once=True))
        finally:
            engine.dispose()
        assert stats.sent == 2 and sorted(smtp_server.recipients()) == ["dedi@delta.example.com",
                                                                        "eka@epsilon.example.com"]  # fmt: skip
        fragment = client.get("/app/campaigns/launch/progress")
        assert 'id="state">done<' in fragment.text
        assert re.search(r'data-count="sent"><div class="label">Sent</div><div class="value">2<', fragment.text)
        rows = client.get("/app/fragments/campaigns").text
        assert re.search(r'data-campaign="launch">.*?2 / 2', rows, re.S)


def test_pause_resume_and_cancel_from_the_app(team: Path) -> None:
    with Workspace.open(team) as ws:
        ws.build("launch")
    with app_client(team, "boss") as client:
        def act(action: str) -> str:
            confirm = client.get(f"/app/campaigns/launch/{action}")
            assert confirm.status_code == 200 and re.search(r'id="audience">2<', confirm.text), action
            client.post(f"/app/campaigns/launch/{action}", data={"csrf_token": csrf_of(confirm.text)})
            return str(state_of(team, "launch"))

        confirm = client.get("/app/campaigns/launch/send")
        client.post("/app/campaigns/launch/send", data={"csrf_token": csrf_of(confirm.text)})
        assert act("pause") == "paused"
        assert act("resume") == "scheduled"  # back to the worker
        assert act("cancel") == "cancelled"
        page = client.get("/app/campaigns/launch")
        assert "Cancel…" not in page.text and "Send…" not in page.text
        token = csrf_of(page.text)
        client.post("/app/campaigns/launch/send", data={"csrf_token": token})
        assert "is cancelled; nothing more will be sent" in client.get("/app/campaigns/launch").text


def test_reports_are_pages_with_their_charts(team: Path) -> None:
    with app_client(team, "boss") as client:
        report = client.get("/app/campaigns/promo/report").text
        assert '<svg class="chart funnel"' in report and '<svg class="chart outcomes"' in report
        assert "Reply rate" in report
        month = datetime.now().strftime("%Y-%m")
        monthly = client.get(f"/app/reports/monthly?month={month}").text
        assert '<svg class="chart monthly"' in monthly and "Awang" in monthly
        assert client.get("/app/reports/monthly?month=2026-13").status_code == 400
        assert client.get("/app/campaigns/nope").status_code == 404
        assert client.get("/app/campaigns/promo/explode").status_code == 404


# -- the callers -------------------------------------------------------------------------------------


def test_the_queue_shows_contact_company_reply_and_history(team: Path) -> None:
    with app_client(team, "cali") as client:
        page = client.get("/app/followups").text
    cards = re.findall(r'<article class="item" id="item-(\d+)">(.*?)</article>', page, re.S)
    assert len(cards) == 2  # the call queue; the reply asking for a visit went to the visit queue
    first = cards[0][1]
    assert "Ani Lestari" in first and "PT Alpha Teknik" in first
    assert 'href="tel:+622155500001"' in first
    assert "Tolong telepon saya minggu depan." in first
    assert re.search(r"<strong>replied</strong>.*<strong>sent</strong>", first, re.S)  # history, newest first
    for outcome in ("reached", "no_answer", "callback", "visit_scheduled", "not_interested", "wrong_contact"):
        assert f'value="{outcome}"' in first
    assert 'type="date"' in first and 'type="time"' in first


def test_the_card_shows_the_reply_intent_and_quotes_the_question_and_an_opt_out_makes_no_card(
        team: Path, tmp_path: Path) -> None:  # fmt: skip
    from team_support import REPLIERS, reply_file

    with Workspace.open(team) as ws:
        with transaction(ws.engine) as session:
            quiet = [r for r in session.scalars(select(Outbox)) if r.email not in REPLIERS]
        asker, *_ = quiet
        ws.ingest([reply_file(tmp_path, asker, 7, "Selamat siang. Apakah unit ini tersedia di gudang Surabaya?\n\n"
                                                  "Salam,\nDewi")])  # fmt: skip
    with app_client(team, "cali") as client:
        page = client.get("/app/followups").text
    cards = dict(re.findall(r'<article class="item" id="item-(\d+)">(.*?)</article>', page, re.S))
    (card,) = [c for c in cards.values() if asker.email in c or "Surabaya" in c]
    assert "Reply: <strong>question</strong>" in card
    assert "Question: \u201cApakah unit ini tersedia di gudang Surabaya?\u201d" in card
    with Workspace.open(team) as ws:  # the same contact says no: the card goes, and so does the mail
        ws.ingest([reply_file(tmp_path, asker, 8, "Tolong hapus email saya dari daftar Anda. Terima kasih.")])
    with app_client(team, "cali") as client:
        page = client.get("/app/followups").text
    assert "Surabaya" not in page and asker.email not in page
    assert invoke_suppressed(team, asker.email)


def invoke_suppressed(root: Path, email: str) -> bool:
    from outreach.storage.models import Suppression

    with Workspace.open(root) as ws, transaction(ws.engine) as session:
        return session.scalar(select(Suppression).where(Suppression.email == email)) is not None


def test_outcome_buttons_apply_the_same_rules_as_the_spreadsheet_import(team: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    shutil.copytree(team, twin)
    ani, budi = items(team)["ani@alpha.example.com:call"], items(team)["budi@beta.example.com:call"]
    visit = (date.today() + timedelta(days=3)).isoformat()
    with app_client(team, "cali") as client:
        token = csrf_of(client.get("/app/followups").text)
        for item, data in ((ani, {"outcome": "visit_scheduled", "visit_date": visit, "visit_time": "14:30",
                                  "notes": "bawa brosur"}),
                           (budi, {"outcome": "not_interested", "notes": "sudah punya vendor"})):  # fmt: skip
            response = client.post(f"/app/followups/{item.id}", data={"csrf_token": token, "version": str(item.version),
                                                                      **data})  # fmt: skip
            assert response.status_code == 303, response.text
    sheet = write_csv(tmp_path / "outcomes.csv", ["id", "outcome", "notes", "visit_at"], [
        [ani.id, "visit_scheduled", "bawa brosur", f"{visit} 14:30"], [budi.id, "not_interested", "sudah punya vendor"],
    ])  # fmt: skip
    ws = load_workspace(twin)
    engine = open_engine(ws.database_url)
    import_outcomes(engine, ws, sheet)
    engine.dispose()

    def shape(root: Path) -> list[tuple[Any, ...]]:
        engine = open_engine(load_workspace(root).database_url)
        with transaction(engine) as session:
            ordered = select(FollowUp).order_by(FollowUp.contact_id, FollowUp.queue)
            rows = [(f.contact.email, f.queue, f.state, f.outcome, f.notes, f.visit_at, f.due_date, f.priority)
                    for f in session.scalars(ordered)]  # fmt: skip
            cooling = {c.email: c.cooling_until for c in session.scalars(select(Contact))}
        engine.dispose()
        return [*rows, cooling]  # type: ignore[list-item]

    assert shape(team) == shape(twin)
    ani_visit = items(team)["ani@alpha.example.com:visit"]
    assert ani_visit.visit_at == datetime.fromisoformat(f"{visit} 14:30") and ani_visit.state == "open"


def test_a_bad_date_keeps_what_the_caller_typed(team: Path) -> None:
    ani = items(team)["ani@alpha.example.com:call"]
    with app_client(team, "cali") as client:
        token = csrf_of(client.get("/app/followups").text)
        response = client.post(f"/app/followups/{ani.id}", data={
            "csrf_token": token, "version": str(ani.version), "outcome": "visit_scheduled", "notes": "catatan panjang",
        })  # fmt: skip
    assert response.status_code == 400
    assert "visit_scheduled needs the visit&#x27;s date and time" in response.text
    assert "catatan panjang</textarea>" in response.text
    assert items(team)["ani@alpha.example.com:call"].version == ani.version


def test_two_callers_saving_one_item_the_second_sees_a_conflict_and_loses_nothing(team: Path) -> None:
    budi = items(team)["budi@beta.example.com:call"]
    with app_client(team, "cali") as first, app_client(team, "cala") as second:
        first_page, second_page = first.get("/app/followups").text, second.get("/app/followups").text
        assert f'id="item-{budi.id}"' in second_page  # Budi is awang's: both callers see him
        saved = first.post(f"/app/followups/{budi.id}", data={
            "csrf_token": csrf_of(first_page), "version": str(budi.version), "outcome": "no_answer",
            "notes": "tidak diangkat jam 10",
        })  # fmt: skip
        assert saved.status_code == 303
        late = second.post(f"/app/followups/{budi.id}", data={
            "csrf_token": csrf_of(second_page), "version": str(budi.version), "outcome": "reached",
            "notes": "sudah bicara, minta penawaran",
        })  # fmt: skip
        assert late.status_code == 409
        card = re.search(rf'<article class="item conflict" id="item-{budi.id}">(.*?)</article>', late.text, re.S)
        assert card, late.text
        assert "was saved by someone else while you were editing it" in card.group(1)
        assert "tidak diangkat jam 10" in card.group(1)  # theirs, shown
        assert "sudah bicara, minta penawaran</textarea>" in card.group(1)  # mine, kept
        assert re.search(r'value="reached" checked', card.group(1))
        now = items(team)["budi@beta.example.com:call"]
        assert (now.outcome, now.notes) == ("no_answer", "tidak diangkat jam 10")  # nothing overwritten
        version = re.search(r'name="version" value="(\d+)"', card.group(1))
        assert version and int(version.group(1)) == now.version
        again = second.post(f"/app/followups/{budi.id}", data={
            "csrf_token": csrf_of(late.text), "version": version.group(1), "outcome": "reached",
            "notes": "tidak diangkat jam 10; sudah bicara jam 11, minta penawaran",
        })  # fmt: skip
        assert again.status_code == 303
    final = items(team)["budi@beta.example.com:call"]
    assert (final.outcome, final.state) == ("reached", "done")
    assert final.notes == "tidak diangkat jam 10; sudah bicara jam 11, minta penawaran"


def test_a_caller_with_a_sender_works_that_executives_queue(team: Path) -> None:
    owners = {f.contact.email: f.owner for f in items(team).values()}
    with app_client(team, "cala") as client:  # cala works for awang
        page = client.get("/app/followups").text
        shown = set(re.findall(r'href="mailto:([^"]+)"', page))
        assert shown == {e for e, o in owners.items() if o in ("awang", "") and f"{e}:call" in items(team)}
        others = [f for f in items(team).values() if f.owner not in ("awang", "")]
        for f in others:
            response = client.post(f"/app/followups/{f.id}", data={
                "csrf_token": csrf_of(page), "version": str(f.version), "outcome": "reached"})  # fmt: skip
            assert response.status_code == 404


def test_visits_feed_at_a_secret_address_that_can_be_rotated(team: Path) -> None:
    ani = items(team)["ani@alpha.example.com:call"]
    with app_client(team, "cali") as client:
        page = client.get("/app/followups").text
        client.post(f"/app/followups/{ani.id}", data={"csrf_token": csrf_of(page), "version": str(ani.version),
                                                       "outcome": "visit_scheduled", "visit_date": "2026-12-07",
                                                       "visit_time": "10:30"})  # fmt: skip
        calendar = client.get("/app/followups/calendar").text
        feed = re.search(r'id="feed">http://testserver(/calendar/[^<]+\.ics)<', calendar)
        assert feed, calendar
        client.cookies.clear()  # a phone's calendar has no session
        ics = client.get(feed.group(1))
        assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
        assert "DTSTART;TZID=Asia/Jakarta:20261207T103000" in ics.text and "Alpha" in ics.text
        assert client.get(feed.group(1).replace(".ics", "x.ics")).status_code == 404
        assert client.get("/calendar/1-%C3%A9%C3%A9.ics").status_code == 404
        assert client.get("/calendar/" + "9" * 40 + "-x.ics").status_code == 404
        assert log_in(client, "cali").status_code == 303
        token = csrf_of(client.get("/app/followups/calendar").text)
        assert client.post("/app/followups/calendar", data={"csrf_token": token}).status_code == 303
        rotated = re.search(r'id="feed">http://testserver(/calendar/[^<]+\.ics)<',
                            client.get("/app/followups/calendar").text)  # fmt: skip
        assert rotated and rotated.group(1) != feed.group(1)
        assert client.get(feed.group(1)).status_code == 404  # the old address stopped working
        assert client.get(rotated.group(1)).status_code == 200


# -- the writer -----------------------------------------------------------------------------------


def test_writer_previews_with_contacts_variants_and_lint(team: Path) -> None:
    md = team / "campaigns" / "promo.md"
    md.write_text(md.read_text(encoding="utf-8").replace(
        'subject: "Penawaran', 'variants: ["Varian kedua untuk {{ contact.company }}"]\nsubject: "Penawaran'),
        encoding="utf-8")  # fmt: skip
    with app_client(team, "wina") as client:
        page = client.get("/app/preview/promo").text
        assert '<header id="toolbar">' in page and '<select name="variant">' in page
        assert len(re.findall(r"<script\b", page)) == 1  # only the page's own poller
        second = client.get("/app/preview/promo?contact=budi@beta.example.com&variant=1").text
        assert re.search(r'<dd id="subject">Varian kedua untuk PT Beta Niaga</dd>', second)
        text = client.get("/app/preview/promo?view=text&contact=budi@beta.example.com").text
        assert re.search(r'<pre id="text">Yth\. Budi Santoso,', text)
        version = client.get("/app/preview/promo/version").text
        lint = client.get("/app/preview/promo/lint").text
        assert 'id="lint-summary"' in lint and "Checked 1 campaign" in lint
        md.write_text(md.read_text(encoding="utf-8") + "\n{{ nickname }}\n", encoding="utf-8")
        assert client.get("/app/preview/promo/version").text != version
        assert 'role="alert" id="error"' in client.get("/app/preview/promo").text
        assert "nickname" in client.get("/app/preview/promo/lint").text


def test_writer_test_copy_goes_to_their_own_address_only(team: Path, smtp_server: SmtpServer) -> None:
    with app_client(team, "wina") as client:
        page = client.get("/app/preview/promo?contact=citra@gamma.example.com").text
        assert WRITER_EMAIL in page
        response = client.post("/app/preview/promo/test-send", data={
            "csrf_token": csrf_of(page), "contact": "citra@gamma.example.com", "to": "victim@example.com"})  # fmt: skip
        assert response.status_code == 303
        assert f"Sent a test copy to {WRITER_EMAIL}" in client.get(response.headers["location"]).text
    (received,) = smtp_server.received
    assert received.rcpt_tos == (WRITER_EMAIL,) and "CV Gamma Ritel" in received.message["Subject"] + str(
        received.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    engine = open_engine(load_workspace(team).database_url)
    with transaction(engine) as session:
        assert session.scalar(select(Outbox.id).where(Outbox.email == WRITER_EMAIL)) is None  # recorded nowhere
    engine.dispose()


def test_writer_switches_language_and_sees_blocks_and_pictures(team: Path, smtp_server: SmtpServer) -> None:
    campaigns = team / "campaigns"
    write(campaigns / "bili.yaml", "segment: prospects\ncontent: bili.md\nsender: awang\n")
    write(campaigns / "bili.id.md", '---\nsubject: "Halo {{ contact.first_name }}"\n---\n![Spanduk](images/b.png)\n\n'
          '{% include "blocks/salam.md" %}\n')  # fmt: skip
    write(campaigns / "bili.en.md", '---\nsubject: "Hello {{ contact.first_name }}"\n---\nHello.\n')
    write(team / "blocks" / "salam.md", "Salam hangat.\n")
    (team / "images").mkdir()
    (team / "images" / "b.png").write_bytes(png(300, 100))
    with app_client(team, "wina") as client:
        page = client.get("/app/preview/bili?contact=ani@alpha.example.com").text
        assert '<select name="lang">' in page and '<option value="en">English</option>' in page
        assert '<dd id="subject">Halo Ani</dd>' in page  # Ani has no language: the workspace's (id)
        assert "data:image/png;base64," in page and "cid:" not in page  # the embedded picture, shown
        english = client.get("/app/preview/bili?contact=ani@alpha.example.com&lang=en").text
        assert '<dd id="subject">Hello Ani</dd>' in english
        assert '<option value="en" selected>English</option>' in english
        assert "Hello Ani" in client.get("/app/preview/bili/message.html?lang=en").text
        version = client.get("/app/preview/bili/version").text
        write(team / "blocks" / "salam.md", "Salam hangat dari Jakarta.\n")  # a block the message includes
        assert client.get("/app/preview/bili/version").text != version
        assert "Salam hangat dari Jakarta." in client.get("/app/preview/bili?view=text").text
        response = client.post("/app/preview/bili/test-send", data={
            "csrf_token": csrf_of(english), "contact": "ani@alpha.example.com", "lang": "en"})  # fmt: skip
        assert response.status_code == 303 and "lang=en" in response.headers["location"]
    (received,) = smtp_server.received
    assert received.message["Subject"] == "Hello Ani"


def test_the_preview_of_a_name_that_is_no_campaign_is_404(team: Path) -> None:
    with app_client(team, "wina") as client:
        assert client.get("/app/preview/..%2Foutreach").status_code == 404
        assert client.get("/app/preview/nope").status_code == 404


def test_app_is_created_without_touching_the_relay(team: Path) -> None:
    """Opening the app reads the workspace secret once; a TestClient without login sees only the login."""
    with Workspace.open(team) as ws, TestClient(create_app(ws)) as client:
        assert client.get("/app/login").status_code == 200
