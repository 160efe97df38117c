"""The sales admin's month in the team app: the hygiene page (merge from its duplicates list, a group to the
verify queue), the callers' Verify tab, the monthly page with its bars and workbook, the dashboard's glance.

Over HTTP (TestClient on the whole app): who may open what, CSRF, hostile input. In a real browser (Playwright on
Debian's chromium against uvicorn, at 390 px): hygiene list -> merge, a verify outcome saved, the monthly bars;
axe-core finds no serious or critical violation on these pages.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from a11y_support import PHONE, checked
from browser_pages import log_in, new_page
from helpers import write_csv
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from sqlalchemy.orm import Session
from team_support import app_client, csrf_of, running_server

from outreach.audience.history import contact_changes
from outreach.storage.models import Contact, ContactAlias, FollowUp
from outreach.workspace import Workspace

ADMIN = "ada"  # the team's sales admin (team_support.py)
DUP = "ani.l@gmail.example.com"  # Ani Lestari again, at "Alpha Teknik, PT"
XSS = "<script>alert(1)</script>"


@pytest.fixture
def admin_team(team: Path, tmp_path: Path) -> Path:
    """The team's workspace with a duplicate of Ani, a contact whose name is markup, a verify queue."""
    header = ["email", "first_name", "last_name", "company", "status", "owner"]
    rows = [[DUP, "Ani", "Lestari", "Alpha Teknik, PT", "prospect", "awang"],
            ["info@omega.example.com", XSS, "", "PT Omega", "prospect", "awang"]]  # fmt: skip
    with Workspace.open(team) as ws:
        ws.import_contacts(write_csv(tmp_path / "more.csv", header, rows))
        ws.verify_contacts(hygiene="missing")
    return team


def contact_ids(root: Path) -> dict[str, int]:
    with Workspace.open(root) as ws, Session(ws.engine) as s:
        return dict(s.execute(select(Contact.email, Contact.id)).all())


# -- over HTTP -----------------------------------------------------------------------------------


def test_only_the_admin_opens_the_hygiene_page(admin_team: Path) -> None:
    with app_client(admin_team, ADMIN) as client:
        page = client.get("/app/hygiene")
        assert page.status_code == 200
        assert XSS not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # shown as text
        assert f"Merge {DUP} into ani@alpha.example.com" in page.text
        assert client.get("/app/reports/monthly").status_code == 200
        assert client.get("/app/followups?queue=verify").status_code == 403
    for user in ("boss", "cali", "wina"):
        with app_client(admin_team, user) as client:
            assert client.get("/app/hygiene").status_code == 403, user
            assert client.post("/app/hygiene/merge", data={"keep": "a", "other": "b"}).status_code == 403
    with app_client(admin_team) as client:
        assert client.get("/app/hygiene").headers["location"].startswith("/app/login")


def test_merge_and_verify_posts_check_csrf_and_refuse_hostile_input(admin_team: Path) -> None:
    before = contact_ids(admin_team)
    with app_client(admin_team, ADMIN) as client:
        token = csrf_of(client.get("/app/hygiene").text)
        for data in ({}, {"csrf_token": "forged" * 8}):
            assert client.post("/app/hygiene/merge", data={**data, "keep": "ani@alpha.example.com",
                                                           "other": DUP}).status_code == 403  # fmt: skip
        for keep, other, problem in (("ani@alpha.example.com", "ani@alpha.example.com", "the same contact"),
                                     ("x" * 5_000, DUP, "no contact"), (XSS, DUP, "no contact"),
                                     ("../../etc/passwd", "/etc/passwd", "no contact")):  # fmt: skip
            answer = client.post("/app/hygiene/merge", data={"csrf_token": token, "keep": keep, "other": other})
            assert answer.status_code == 303
            shown = client.get("/app/hygiene").text
            assert problem in shown and "<script>alert" not in shown
        for group in ("../../etc", "duplicates'; DROP TABLE contacts;--", ""):
            client.post("/app/hygiene/verify", data={"csrf_token": token, "group": group})
            assert "no hygiene group" in client.get("/app/hygiene").text
        too_long = client.post("/app/hygiene/merge", data={"csrf_token": token, "keep": "x" * 100_000, "other": DUP})
        assert too_long.status_code == 400  # a field over the form's part size: refused before anything is read
        huge = client.post("/app/hygiene/merge", content=b"csrf_token=" + b"a" * 3_000_000,
                           headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
        assert huge.status_code in (400, 403, 413)
    assert contact_ids(admin_team) == before  # nothing merged, nothing lost


def test_merge_from_the_duplicates_list(admin_team: Path) -> None:
    with app_client(admin_team, ADMIN) as client:
        token = csrf_of(client.get("/app/hygiene").text)
        done = client.post("/app/hygiene/merge", data={"csrf_token": token, "keep": "ani@alpha.example.com",
                                                       "other": DUP})  # fmt: skip
        assert done.status_code == 303 and done.headers["location"] == "/app/hygiene#duplicates"
        assert f"Merged {DUP} into ani@alpha.example.com" in client.get("/app/hygiene").text
    with Workspace.open(admin_team) as ws, Session(ws.engine) as s:
        alias = s.get(ContactAlias, DUP)
        assert alias is not None and alias.who == ADMIN


def test_the_verify_tab_saves_corrections_through_the_core(admin_team: Path) -> None:
    with Workspace.open(admin_team) as ws:
        item = next(i for i in ws.followups("verify") if i.email == DUP)
    with app_client(admin_team, "cali") as client:
        page = client.get("/app/followups?queue=verify")
        assert page.status_code == 200 and 'name="new_email"' in page.text and "Details corrected" in page.text
        token = csrf_of(page.text)
        form = {"csrf_token": token, "version": str(item.version), "outcome": "updated", "notes": "",
                "new_title": "IT Director", "new_email": "ani@@gmail"}  # fmt: skip
        refused = client.post(f"/app/followups/{item.id}", data=form)
        assert refused.status_code == 400
        assert "email" in refused.text and "invalid email" in refused.text
        assert 'value="IT Director"' in refused.text  # what the caller typed is kept
        with Workspace.open(admin_team) as ws, Session(ws.engine) as s:
            contact = s.scalar(select(Contact).where(Contact.email == DUP))
            assert contact is not None and contact.title == ""  # nothing of the row was applied
        form["new_email"] = ""
        assert client.post(f"/app/followups/{item.id}", data=form).status_code == 303
    with Workspace.open(admin_team) as ws, Session(ws.engine) as s:
        contact = s.scalar(select(Contact).where(Contact.email == DUP))
        assert contact is not None and contact.title == "IT Director"
        change = next(c for c in contact_changes(s, contact.id) if c.field == "title")
        assert (change.old, change.new, change.who, change.via) == ("", "IT Director", "cali", "verify")
        assert s.get(FollowUp, item.id).state == "done"  # type: ignore[union-attr]


def test_the_monthly_page_workbook_and_glance(admin_team: Path) -> None:
    with app_client(admin_team, ADMIN) as client:
        page = client.get("/app/reports/monthly?month=2026-12")
        assert page.status_code == 200 and 'role="progressbar"' in page.text and "@media print" in page.text
        book = client.get("/app/reports/monthly.xlsx?month=2026-12")
        assert book.status_code == 200 and book.content.startswith(b"PK")
        assert book.headers["content-disposition"] == 'attachment; filename="monthly-2026-12.xlsx"'
        assert client.get("/app/reports/monthly.xlsx?month=2026-13").status_code == 400
        assert client.get("/app/reports/monthly.xlsx?month=../../x").status_code == 400
    with app_client(admin_team, "boss") as client:
        dashboard = client.get("/app/campaigns").text
        assert "so far" in dashboard and "new prospects" in dashboard and 'role="progressbar"' in dashboard
    with app_client(admin_team, "cali") as client:
        assert client.get("/app/reports/monthly.xlsx").status_code == 403


# -- in a real browser ------------------------------------------------------------------------------


def test_hygiene_merge_verify_and_the_month_in_a_browser(admin_team: Path, browser: Browser) -> None:
    with running_server(admin_team) as server:
        admin = new_page(browser, server, PHONE)
        log_in(admin, ADMIN, "/app/hygiene")
        expect(admin.locator("h1")).to_contain_text("Contact hygiene")
        expect(admin.locator("#duplicates")).to_contain_text(DUP)
        checked(admin)
        admin.get_by_role("button", name=f"Merge {DUP} into ani@alpha.example.com").click()
        expect(admin.locator(".flash")).to_contain_text(f"Merged {DUP} into ani@alpha.example.com")
        expect(admin.locator("#duplicates")).not_to_contain_text(DUP)

        admin.goto("/app/reports/monthly")
        expect(admin.locator('[role="progressbar"]').first).to_be_visible()
        expect(admin.locator("svg.chart.monthly")).to_be_visible()
        checked(admin)
        admin.emulate_media(media="print")
        expect(admin.locator("nav.bar")).to_be_hidden()  # the printable page: no navigation
        admin.emulate_media(media="screen")

        caller = new_page(browser, server, PHONE)
        log_in(caller, "cali", "/app/followups?queue=verify")
        card = caller.locator("article.item", has_text="info@omega.example.com")
        expect(card).to_be_visible()
        checked(caller)
        card.get_by_text("Details corrected").click()
        card.get_by_label("First name").fill("Omar")
        card.get_by_role("button", name="Save").click()
        expect(caller.locator(".flash")).to_contain_text("Saved")
    with Workspace.open(admin_team) as ws, Session(ws.engine) as s:
        fixed = s.scalar(select(Contact).where(Contact.email == "info@omega.example.com"))
        assert fixed is not None and fixed.first_name == "Omar"
