"""Every page of every role, in a real browser: no serious or critical axe-core violation, nothing wider than a
390 px phone, and the caller's card worked by keyboard alone.

The pages are not listed by hand: each role's test logs in and follows every
link of the app it can reach from its home page (GET only: in this app a
GET never changes anything, every action is a POST behind a confirmation
page), two clicks deep, on the team's workspace with its data (a campaign sent
and answered, a campaign built and waiting for its review, follow-ups to call
and contacts to verify, accounts). A page added later is checked without
touching this file. A page no link leads to within two clicks of a role's
home is where its crawl starts too (START), and the pages each role must reach
are named (REACHES): a link that goes missing fails the test rather than
leaving its page unchecked. Downloads, calendar feeds and the message itself
(the email's own HTML in the preview's sandboxed frame, not the app) are left
out. The pages around the roles' (the login form, a refusal, a missing page)
are checked on their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from a11y_support import PHONE, checked, overflow, problems
from browser_pages import TIMEOUT, log_in, new_page, tab_to
from playwright.sync_api import Browser, Page, expect
from team_support import Running

from outreach.workspace import Workspace

USERS = {"executive": "boss", "writer": "wina", "caller": "cali", "admin": "sari"}
SKIP = re.compile(r"\.(csv|xlsx|ics|png|jpe?g|gif|webp|svg|eml)$|/message\.html$|/logout$|^/static/|/calendar/")
MAX_PAGES = 60
# where a role's crawl starts besides its home: pages no link reaches within two clicks of it
START = {"executive": ["/app/campaigns/launch/review"]}
# what each role's crawl must check (the writer's editor and history, the executive's forms and review, the
# admin's contacts, import, users and hygiene, the month, the caller's Verify tab): a lost link fails here
REACHES = {
    "executive": {"/app/campaigns", "/app/campaigns/new", "/app/campaigns/launch", "/app/campaigns/launch/edit",
                  "/app/campaigns/launch/review", "/app/campaigns/launch/send", "/app/campaigns/promo/report",
                  "/app/segments", "/app/segments/new", "/app/segments/customers", "/app/reports/monthly",
                  "/app/content", "/app/content/promo/edit", "/app/contacts", "/app/contacts/1", "/app/webhooks"},
    "writer": {"/app/content", "/app/content/promo/edit", "/app/content/promo/history", "/app/blocks/salam/edit",
               "/app/blocks/salam/history", "/app/content/promo/edit?lang=en", "/app/preview",
               "/app/preview/promo"},
    "caller": {"/app/followups", "/app/followups?queue=call", "/app/followups?queue=visit",
               "/app/followups?queue=verify", "/app/followups/calendar"},
    "admin": {"/app/contacts", "/app/contacts/import", "/app/contacts/1", "/app/contacts/1/edit", "/app/users",
              "/app/hygiene", "/app/reports/monthly", "/app/segments", "/app/segments/customers"},
}  # fmt: skip


@pytest.fixture
def team(team: Path) -> Path:
    """The team's workspace with a campaign built and waiting for its review, and customers to verify."""
    with Workspace.open(team) as ws:
        ws.build("launch")
        ws.verify_contacts(segment="customers")
    return team


def logged_in(browser: Browser, server: Running, name: str, width: int) -> Page:
    page = new_page(browser, server, width)
    log_in(page, name)
    return page


def app_links(page: Page) -> list[str]:
    """The app's own pages this page links to (path and query), in page order."""
    found = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
    out = []
    for href in found:
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or not parts.path.startswith("/app/") or SKIP.search(parts.path):
            continue
        out.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return list(dict.fromkeys(out))


def crawl(page: Page, start: list[str], depth: int = 2) -> Iterator[str]:
    """Visit the home page, then ``start``, and every page reachable from them in ``depth`` clicks; yields each
    path once loaded."""
    seen: set[str] = set()
    frontier = [urlsplit(page.url).path, *start]
    for _ in range(depth + 1):
        following: list[str] = []
        for path in frontier:
            if path in seen or len(seen) >= MAX_PAGES:
                continue
            seen.add(path)
            response = page.goto(path)
            assert response is not None and response.status == 200, (path, response and response.status)
            yield path
            following += app_links(page)
        frontier = following


@pytest.mark.parametrize("width", [1280, PHONE])
@pytest.mark.parametrize("role", list(USERS))
def test_every_page_of_a_role_passes_axe_and_fits_the_window(browser: Browser, server: Running, role: str,
                                                             width: int) -> None:  # fmt: skip
    page = logged_in(browser, server, USERS[role], width)
    failures: list[str] = []
    visited = []
    for path in crawl(page, START.get(role, [])):
        visited.append(path)
        failures += [f"{path}: {p}" for p in problems(page)]
        if overflow(page):
            failures.append(f"{path}: {overflow(page)} px wider than the {width} px window")
    assert REACHES[role] - set(visited) == set(), visited
    assert failures == [], "\n".join(failures)


@pytest.mark.parametrize("width", [1280, PHONE])
def test_the_pages_around_the_roles_pass_axe_and_fit_the_window(browser: Browser, server: Running,
                                                                width: int) -> None:  # fmt: skip
    """The login form (empty, then refusing a wrong password), a page of another role, a page that is not."""
    page = new_page(browser, server, width)
    page.goto("/app/login")
    checked(page)
    log_in(page, "cali", password="not the password", wait=False)
    expect(page.locator("[role=alert]")).to_have_text("Wrong user name or password.")
    checked(page)
    log_in(page, "cali")
    for path, status in (("/app/campaigns", 403), ("/app/no-such-page", 404)):
        response = page.goto(path)
        assert response is not None and response.status == status, path
        checked(page)


def test_the_callers_card_works_by_keyboard_alone(browser: Browser, server: Running) -> None:
    """Tab to the first card's outcomes, arrows to choose, type the notes, Enter on Save: no pointer."""
    page = logged_in(browser, server, "cali", PHONE)
    card = page.locator("article.item").first
    who = card.locator(".who").inner_text()

    tab_to(page, "article.item:first-of-type input[name=outcome]")
    focused = page.evaluate("getComputedStyle(document.activeElement.nextElementSibling).outlineStyle")
    assert focused != "none"  # the focus is visible on the button-like label
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")  # reached -> no answer
    assert page.evaluate("document.activeElement.value") == "no_answer"
    tab_to(page, "article.item:first-of-type textarea")
    page.keyboard.type("tidak diangkat, coba lagi sore")
    tab_to(page, "article.item:first-of-type button.primary")
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_have_text(f"Saved: {who}, No answer", timeout=TIMEOUT)
