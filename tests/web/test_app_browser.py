"""The team app in a real browser: Playwright driving Debian's chromium against a real uvicorn on 127.0.0.1.

Each role logs in through the form and does its main flow; a forged CSRF
token and another role's page are refused; two callers saving one item end in
a conflict that loses nothing. No browser is downloaded: Playwright launches
/usr/bin/chromium. With ``OUTREACH_SCREENSHOTS=DIR`` set, the three main pages
are saved as PNGs there (``make screenshots`` writes docs/screenshots/).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from a11y_support import PHONE, overflow
from browser_pages import TIMEOUT, log_in, new_page, watch_console
from helpers import SmtpServer
from playwright.sync_api import Browser, Page, expect
from team_support import PASSWORDS, WRITER_EMAIL, Running

from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine, transaction
from outreach.storage.models import Campaign


def screenshot(page: Page, name: str, full_page: bool = True) -> None:
    """Only with OUTREACH_SCREENSHOTS set. A full-page capture leaves a sandboxed iframe blank: not for the preview."""
    folder = os.environ.get("OUTREACH_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / name), full_page=full_page)


def campaign_state(root: Path, name: str) -> str | None:
    engine = open_engine(load_workspace(root).database_url)
    try:
        with transaction(engine) as session:
            return session.scalar(Campaign.__table__.select().with_only_columns(Campaign.state)
                                  .where(Campaign.name == name))  # fmt: skip
    finally:
        engine.dispose()


def test_executive_builds_sends_and_watches_progress_live(browser: Browser, server: Running, team: Path,
                                                          smtp_server: SmtpServer) -> None:  # fmt: skip
    page = new_page(browser, server)
    log_in(page, "boss")
    assert page.url.endswith("/app/campaigns")
    assert page.locator("tr[data-campaign=promo] .state").inner_text() == "done"
    page.click("tr[data-campaign=launch] a")
    page.click("text=Build…")
    assert page.inner_text("#audience") == "2"
    page.click("text=Yes, build it")
    assert "Campaign launch: 2 added to the outbox" in page.inner_text(".flash")
    page.wait_for_url("**/app/campaigns/launch/review")  # launching: build, the review, then send
    assert page.inner_text("#queued") == "2"
    page.click("#send-now")
    assert page.inner_text("#state") == "scheduled"
    assert smtp_server.received == []  # the web process sends nothing itself
    page.evaluate("window.stillTheSamePage = true")

    env = {**os.environ, "OUTREACH_SMTP_PORT": str(smtp_server.port)}
    worker = subprocess.run([sys.executable, "-m", "outreach", "-w", str(team), "worker", "--once"],
                            capture_output=True, text=True, env=env, timeout=120, check=False)  # fmt: skip
    assert worker.returncode == 0, worker.stderr
    assert "launch: 2 sent" in worker.stdout

    expect(page.locator("#state")).to_have_text("done", timeout=TIMEOUT)  # the fragment htmx polls
    assert page.evaluate("window.stillTheSamePage") is True  # htmx, no reload
    sent = page.locator("[data-count=sent] .value").inner_text()
    assert sent == "2" and len(smtp_server.received) == 2
    page.click("main a.button:has-text('Report')")
    assert page.locator("svg.chart.funnel").count() == 1
    page.click("nav.bar >> text=Campaigns")
    page.wait_for_selector("tr[data-campaign=launch]")
    screenshot(page, "executive-dashboard.png")
    page.goto("/app/campaigns/launch")
    screenshot(page, "executive-campaign.png")


def test_caller_records_an_outcome_on_a_phone(browser: Browser, server: Running) -> None:
    page = new_page(browser, server, PHONE)
    log_in(page, "cali")
    assert page.url.endswith("/app/followups")
    cards = page.locator("article.item")
    assert cards.count() == 2
    first = cards.nth(0)
    assert "Ani Lestari" in first.inner_text() and "Tolong telepon saya minggu depan." in first.inner_text()
    for target in (first.locator("a.call"), first.locator(".outcomes label").nth(0), first.locator("button.primary")):
        box = target.bounding_box()
        assert box and box["height"] >= 44, box  # a finger-sized tap target
    assert overflow(page) == 0  # nothing wider than the phone
    first.locator("summary").click()
    assert "sent" in first.locator("details.history").inner_text()
    screenshot(page, "caller-queue.png")
    first.locator(".outcomes").get_by_text("Call back", exact=True).click()
    first.locator("input[name=callback_date]").fill("2026-12-08")
    first.locator("textarea").fill("minta ditelepon Selasa pagi")
    first.locator("button.primary").click()
    assert page.inner_text(".flash") == "Saved: Ani Lestari, Call back"
    ani = page.locator("article.item", has_text="Ani Lestari")
    assert "due 2026-12-08" in ani.inner_text()
    assert ani.locator("textarea").input_value() == "minta ditelepon Selasa pagi"


def test_two_callers_save_one_item_and_the_second_loses_nothing(browser: Browser, server: Running) -> None:
    first, second = new_page(browser, server), new_page(browser, server)
    log_in(first, "cali")
    log_in(second, "cala")
    mine = "sudah bicara, minta penawaran"
    for page, outcome, notes in ((first, "No answer", "tidak diangkat"), (second, "Reached", mine)):
        card = page.locator("article.item", has_text="Budi Santoso")
        card.locator(".outcomes").get_by_text(outcome, exact=True).click()
        card.locator("textarea").fill(notes)
    first.locator("article.item", has_text="Budi Santoso").locator("button.primary").click()
    assert first.inner_text(".flash").startswith("Saved: Budi Santoso")
    second.locator("article.item", has_text="Budi Santoso").locator("button.primary").click()
    conflict = second.locator("article.item.conflict")
    assert "saved by someone else while you were editing it" in conflict.inner_text()
    assert "tidak diangkat" in conflict.locator(".theirs").inner_text()
    assert conflict.locator("textarea").input_value() == mine  # what the second caller typed is still there
    assert conflict.locator("input[value=reached]").is_checked()
    conflict.locator("textarea").fill("tidak diangkat; " + mine)
    conflict.locator("button.primary").click()
    assert second.inner_text(".flash") == "Saved: Budi Santoso, Reached"
    assert second.locator("article.item", has_text="Budi Santoso").count() == 0  # done


def test_writer_previews_live_reads_lint_and_sends_a_test_copy(browser: Browser, server: Running, team: Path,
                                                               smtp_server: SmtpServer) -> None:  # fmt: skip
    page = new_page(browser, server)
    log_in(page, "wina", "/app/preview")  # the writer's home is the editor's list (/app/content)
    page.click("tr[data-campaign=promo] a")
    page.wait_for_selector("#lint-summary")  # loaded by the page's script
    assert "Checked 1 campaign" in page.inner_text("#lint-summary")
    frame = page.frame_locator("iframe#message")
    assert "Yth. Ani Lestari" in frame.locator("body").inner_text()
    with page.expect_navigation():
        page.select_option("select[name=contact]", "budi@beta.example.com")
    assert "Yth. Budi Santoso" in page.frame_locator("iframe#message").locator("body").inner_text()
    screenshot(page, "writer-preview.png", full_page=False)

    md, saved = team / "campaigns" / "promo.md", team / "campaigns" / ".promo.md.saving"
    saved.write_text(md.read_text(encoding="utf-8").replace("Kami menawarkan", "Dengan bangga kami menawarkan"),
                     encoding="utf-8")  # fmt: skip
    with page.expect_navigation():  # the page reloads by itself after the save
        saved.replace(md)  # saved at once, as editors do
    body = page.frame_locator("iframe#message").locator("body").inner_text()
    assert "Dengan bangga kami menawarkan" in body and "Yth. Budi Santoso" in body  # same contact after reload

    button = page.locator("text=Send me a test copy")
    button.scroll_into_view_if_needed()  # first: after a reload the browser restores the scroll position late
    with page.expect_navigation():
        button.click()
    assert page.inner_text(".flash").startswith(f"Sent a test copy to {WRITER_EMAIL}")
    (received,) = smtp_server.received
    assert received.rcpt_tos == (WRITER_EMAIL,)


def test_a_forged_csrf_token_is_refused_in_the_browser(browser: Browser, server: Running, team: Path) -> None:
    page = new_page(browser, server)
    log_in(page, "boss")
    page.goto("/app/campaigns/launch/build")
    page.evaluate("document.querySelector('main input[name=csrf_token]').value = 'forged'")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("text=Yes, build it")
    assert posted.value.status == 403
    assert "did not come from this site" in page.inner_text("main")
    assert campaign_state(team, "launch") is None  # nothing was built


def test_a_role_is_refused_another_roles_page_in_the_browser(browser: Browser, server: Running) -> None:
    page = new_page(browser, server)
    log_in(page, "cali")
    response = page.goto("/app/campaigns")
    assert response.status == 403
    assert "This page is for sales executives" in page.inner_text("main")
    assert page.locator("nav.bar a.tab").all_inner_texts() == ["Calls", "Visits", "Verify", "Calendar"]


def test_a_wrong_password_keeps_the_login_page(browser: Browser, server: Running) -> None:
    page = new_page(browser, server)
    page.goto("/app/campaigns")
    assert re.search(r"/app/login\?next=", page.url)
    page.fill("#username", "boss")
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    assert page.inner_text("[role=alert]") == "Wrong user name or password."
    page.fill("#password", PASSWORDS["boss"])
    page.click("button[type=submit]")
    page.wait_for_selector("#campaigns")  # back where it was going


# elements of a caller's card that reach outside its content box (into its padding, or beyond): how far
OVERFLOW = """() => [...document.querySelectorAll('article.item')].flatMap(card => {
    const box = card.getBoundingClientRect(), cs = getComputedStyle(card);
    const left = box.left + parseFloat(cs.borderLeftWidth) + parseFloat(cs.paddingLeft);
    const right = box.right - parseFloat(cs.borderRightWidth) - parseFloat(cs.paddingRight);
    return [...card.querySelectorAll('*')].filter(e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && getComputedStyle(e).opacity !== '0' && (r.right > right + 0.5 || r.left < left - 0.5);
    }).map(e => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} by ${Math.round(e.getBoundingClientRect().right
                                                                                      - right)} px`);
})"""


def test_on_a_phone_nothing_is_wider_than_its_card_and_the_console_stays_clean(browser: Browser,
                                                                               server: Running) -> None:  # fmt: skip
    """At 390 px the "Visit on" input overflowed its card by 6 px, and every page logged the missing favicon."""
    page = new_page(browser, server, PHONE)
    problems = watch_console(page, failed_loads=True)  # a missing favicon too
    log_in(page, "cali")
    page.wait_for_load_state("load")
    for card in page.locator("article.item").all():
        card.locator("summary").click()  # the history open too
    assert page.locator("article.item input[name=visit_date]").count() == 2
    assert page.evaluate(OVERFLOW) == []
    assert overflow(page) == 0
    page.goto("/app/followups?queue=visit")
    page.goto("/app/followups/calendar")
    page.wait_for_load_state("load")
    assert problems == []


def test_the_flash_is_text_as_wide_as_the_content(browser: Browser, server: Running, team: Path) -> None:
    from outreach.workspace import Workspace

    with Workspace.open(team) as ws:
        ws.build("launch")
    page = new_page(browser, server)
    problems = watch_console(page, failed_loads=True)  # a missing favicon too
    log_in(page, "boss")
    page.goto("/app/campaigns/launch/send")
    page.click("text=Yes, send launch")
    flash = page.locator(".flash")
    assert flash.inner_text() == ("launch is handed to the worker, which sends it now (outreach worker must be "
                                  "running). No worker is running, so nothing happens until one runs: "
                                  f"outreach worker -w {team} (as a service: docs/deploy.md).")  # fmt: skip
    assert flash.locator("code").all_inner_texts() == ["outreach worker", f"outreach worker -w {team}"]
    shown, main = flash.bounding_box(), page.locator("main.wrap").bounding_box()
    assert shown and main
    padding = float(page.evaluate("parseFloat(getComputedStyle(document.querySelector('main.wrap')).paddingLeft)"))
    assert shown["x"] >= main["x"] + padding - 0.5  # lined up with the content, not the page's padding box
    assert shown["x"] + shown["width"] <= main["x"] + main["width"] - padding + 0.5
    page.wait_for_load_state("load")
    assert problems == []


def test_no_test_copy_button_while_the_content_has_errors(browser: Browser, server: Running, team: Path) -> None:
    md = team / "campaigns" / "promo.md"
    md.write_text(md.read_text(encoding="utf-8").replace("(https://www.example.com/promo?c={{ campaign.name }})",
                                                         "(katalog.html)"), encoding="utf-8")  # a relative link
    page = new_page(browser, server)
    log_in(page, "wina", "/app/preview")  # the writer's home is the editor's list (/app/content)
    page.click("tr[data-campaign=promo] a")
    page.wait_for_selector("#lint-summary")
    assert page.inner_text("#lint-summary") == "Checked 1 campaign: 1 error, 0 warnings"
    button = page.locator("#test-send button[type=submit]")
    expect(button).to_be_disabled()
    assert page.locator("#test-send-blocked").is_visible()
