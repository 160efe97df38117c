"""The team app in a real browser: the steps every browser test takes, written once.

``new_page`` opens a context of its own (no shared cookies: one person each),
a phone's when narrow; ``log_in`` goes through the form as a person does;
``watch_console`` collects what the browser reports as errors; ``tab_to`` moves
the focus by the keyboard alone. Every wait is
generous (TIMEOUT), for a busy machine; nothing is timed.
"""

from __future__ import annotations

from typing import Protocol
from urllib.parse import urlencode

from playwright.sync_api import Browser, Page, expect
from team_support import PASSWORDS

TIMEOUT = 30_000  # ms: every wait of a page and every expect()
NARROW = 600  # px: below this the page is a phone's (touch, a mobile viewport, 2x pixels)

expect.set_options(timeout=TIMEOUT)


class Served(Protocol):
    """A running app (team_support.Running); a test's own ``outreach serve`` passes its base URL instead."""

    @property
    def base(self) -> str: ...


def new_page(browser: Browser, server: Served | str, width: int = 1280, *, timeout: int = TIMEOUT) -> Page:
    """A page on the app at ``server`` (a running server or its base URL), ``width`` px wide, in a context of
    its own; narrower than NARROW it is a phone's. Downloads are accepted (``page.expect_download``)."""
    base = server if isinstance(server, str) else server.base
    phone = width < NARROW
    context = browser.new_context(base_url=base, viewport={"width": width, "height": 844 if phone else 860},
                                  is_mobile=phone, has_touch=phone, device_scale_factor=2 if phone else 1,
                                  accept_downloads=True)  # fmt: skip
    page = context.new_page()
    page.set_default_timeout(timeout)
    return page


def log_in(page: Page, name: str, path: str = "/app/", password: str | None = None, *, wait: bool = True) -> None:
    """Through the login form, then on to ``path`` (the form's ``next``: its query is kept, where the
    redirect to the login page keeps only the path). ``password``: the team's (team_support) unless given.

    ``wait``: until the page shows who is logged in; ``False`` for a login meant to fail (a wrong password,
    a disabled account), whose answer the test reads itself."""
    page.goto("/app/login?" + urlencode({"next": path}))
    page.fill("#username", name)
    page.fill("#password", password or PASSWORDS[name])
    page.click("button[type=submit]")
    if wait:
        page.wait_for_selector("nav.bar .who")


def watch_console(page: Page, *, failed_loads: bool = False) -> list[str]:
    """Every error the browser reports from now on: console errors and script errors, and with ``failed_loads``
    every answer of 400 or more (a missing favicon, a refused fragment)."""
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(f"script: {exc}"))
    if failed_loads:
        page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    return problems


def tab_to(page: Page, selector: str, limit: int = 80) -> None:
    """Press Tab until the focused element matches ``selector`` (the keyboard alone, no pointer); at most
    ``limit`` presses, then an AssertionError: the element is not in the tab order."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("selector => document.activeElement.matches(selector)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")
