"""Accessibility checks in the browser tests: axe-core (axe-playwright-python ships it), the phone's width.

``problems(page)`` runs axe-core on the page as it is (after its scripts ran)
and returns its serious and critical violations, one line each with the
elements at fault, so a failing assertion says what to fix. The page's CSP
allows no injected script: axe is evaluated through the DevTools protocol
(``page.evaluate``), which a page's CSP does not govern. ``overflow(page)``
is how far the page is wider than its window; ``checked(page)`` asserts both.
"""

from __future__ import annotations

from collections.abc import Sequence

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

PHONE = 390  # px: the narrowest phone the team works on
_AXE = Axe()
SERIOUS = ("serious", "critical")
MESSAGE_FRAMES = ("iframe#message", "iframe.sample")  # the email as sent, in a sandbox: the writer's tools check it


def problems(page: Page, exclude: Sequence[str] = ()) -> list[str]:
    """The serious and critical axe-core violations of the page, as readable lines.

    ``exclude``: CSS selectors of parts left out, e.g. MESSAGE_FRAMES (the message is not the app)."""
    context = {"exclude": [[selector] for selector in exclude]} if exclude else None
    results = _AXE.run(page, context=context, options={"resultTypes": ["violations"]})
    out = []
    for v in results.response["violations"]:
        if v.get("impact") in SERIOUS:
            where = "; ".join(", ".join(map(str, n["target"])) for n in v["nodes"][:5])
            out.append(f"{v['id']} ({v['impact']}): {v['help']} at {where}")
    return out


def overflow(page: Page) -> int:
    """How far the page is wider than its viewport (0: no horizontal scroll)."""
    width = page.evaluate("document.scrollingElement.scrollWidth")
    return max(int(width) - int(page.viewport_size["width"] if page.viewport_size else PHONE), 0)


def checked(page: Page, exclude: Sequence[str] = ()) -> None:
    """No serious or critical axe-core violation, nothing wider than the window: else an AssertionError that
    names the page and what is wrong."""
    found = problems(page, exclude)
    assert found == [], f"{page.url}:\n" + "\n".join(found)
    wider = overflow(page)
    assert wider == 0, f"{page.url}: {wider} px wider than the {page.viewport_size} window"
