"""Every page of every role, in a real browser: no serious or critical axe-core violation, nothing wider than a
390 px phone, and the caller's card worked by keyboard alone.

The pages are not listed by hand: each role's test logs in and follows every
link of the app it can reach from its home page (GET only: in this app a
GET never changes anything, every action is a POST behind a confirmation
page), two clicks deep, on the team's workspace with its data (a campaign sent
and answered, a campaign to launch, follow-ups, accounts). A page added later
is checked without touching this file. Downloads, calendar feeds and the
message itself (the email's own HTML in the preview's sandboxed frame, not the
app) are left out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from a11y_support import PHONE, overflow, problems
from browser_support import launched_browser
from playwright.sync_api import Browser, Page, expect
from team_support import PASSWORDS, Running, running_server

TIMEOUT = 30_000
USERS = {"executive": "boss", "writer": "wina", "caller": "cali", "admin": "sari"}
SKIP = re.compile(r"\.(csv|xlsx|ics|png|jpe?g|gif|webp|svg|eml)$|/message\.html$|/logout$|^/static/|/calendar/")
MAX_PAGES = 60


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_browser() as launched:
        yield launched


@pytest.fixture
def server(team: Path) -> Iterator[Running]:
    with running_server(team) as srv:
        yield srv


def logged_in(browser: Browser, server: Running, name: str, width: int) -> Page:
    context = browser.new_context(base_url=server.base, viewport={"width": width, "height": 860},
                                  is_mobile=width <= PHONE, has_touch=width <= PHONE)  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    page.goto("/app/")
    page.fill("#username", name)
    page.fill("#password", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_selector("nav.bar .who")
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


def crawl(page: Page, depth: int = 2) -> Iterator[str]:
    """Visit the home page and every page reachable from it in ``depth`` clicks; yields each path once loaded."""
    seen: set[str] = set()
    frontier = [urlsplit(page.url).path]
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
    for path in crawl(page):
        visited.append(path)
        failures += [f"{path}: {p}" for p in problems(page)]
        if overflow(page):
            failures.append(f"{path}: {overflow(page)} px wider than the {width} px window")
    assert len(visited) >= 2, visited
    assert failures == [], "\n".join(failures)


def test_the_callers_card_works_by_keyboard_alone(browser: Browser, server: Running) -> None:
    """Tab to the first card's outcomes, arrows to choose, type the notes, Enter on Save: no pointer."""
    page = logged_in(browser, server, "cali", PHONE)
    card = page.locator("article.item").first
    who = card.locator(".who").inner_text()

    def tab_to(selector: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.matches({selector!r})"):
                return
        raise AssertionError(f"Tab never reached {selector}")

    tab_to("article.item:first-of-type input[name=outcome]")
    focused = page.evaluate("getComputedStyle(document.activeElement.nextElementSibling).outlineStyle")
    assert focused != "none"  # the focus is visible on the button-like label
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")  # reached -> no answer
    assert page.evaluate("document.activeElement.value") == "no_answer"
    tab_to("article.item:first-of-type textarea")
    page.keyboard.type("tidak diangkat, coba lagi sore")
    tab_to("article.item:first-of-type button.primary")
    page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_have_text(f"Saved: {who}, No answer", timeout=TIMEOUT)
