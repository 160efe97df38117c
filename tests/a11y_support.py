"""Accessibility checks in the browser tests: axe-core (axe-playwright-python ships it), the phone's width.

``problems(page)`` runs axe-core on the page as it is (after its scripts ran)
and returns its serious and critical violations, one line each with the
elements at fault, so a failing assertion says what to fix. The page's CSP
allows no injected script: axe is evaluated through the DevTools protocol
(``page.evaluate``), which a page's CSP does not govern.
"""

from __future__ import annotations

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

PHONE = 390  # px: the narrowest phone the team works on
_AXE = Axe()
SERIOUS = ("serious", "critical")


def problems(page: Page) -> list[str]:
    """The serious and critical axe-core violations of the page, as readable lines."""
    results = _AXE.run(page, options={"resultTypes": ["violations"]})
    out = []
    for v in results.response["violations"]:
        if v.get("impact") in SERIOUS:
            where = "; ".join(", ".join(n["target"]) for n in v["nodes"][:5])
            out.append(f"{v['id']} ({v['impact']}): {v['help']} at {where}")
    return out


def overflow(page: Page) -> int:
    """How far the page is wider than its viewport (0: no horizontal scroll)."""
    width = page.evaluate("document.scrollingElement.scrollWidth")
    return max(int(width) - int(page.viewport_size["width"] if page.viewport_size else PHONE), 0)
