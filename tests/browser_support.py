"""Debian's chromium for the browser tests: found the same way everywhere, launched with the same flags.

Playwright drives the system's chromium through its executable path (no browser
download); the CLI tests run the same binary themselves. Missing, it skips the
test — except under CI=true, where it must be there (.ci/run installs it).
The ``browser`` fixture (tests/conftest.py hands it to every test) is one
chromium per test module; each test opens its own contexts in it. The team
app's pages (a context, the login form, the console) are tests/web/browser_pages.py;
their checks (axe-core, the window's width) a11y_support.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed; CI must install it (.ci/run)")
    pytest.skip("chromium is not installed")


@contextlib.contextmanager
def launched_browser() -> Iterator[Browser]:
    """A headless chromium under Playwright, closed afterwards."""
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One chromium for a test module: launching takes a moment, a context is cheap."""
    with launched_browser() as launched:
        yield launched
