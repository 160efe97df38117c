"""The executive's journey in a real browser (Playwright on Debian's chromium, a real uvicorn, a real worker).

A segment made in the form, a campaign whose first try has a field error then is fixed, build, the review
(count, held out, the sample message, the doctor), send now while no worker runs (the page says so and what
to run), then ``outreach worker`` started as its own process delivers to the aiosmtpd sink while the page
follows by itself. Each page passes axe-core with no serious or critical violation, fits a 390 px phone, and
the forms work by keyboard alone.
"""

from __future__ import annotations

from pathlib import Path

from a11y_support import MESSAGE_FRAMES, PHONE, overflow, problems
from browser_pages import log_in, new_page
from helpers import SmtpServer, Spawned, wait_for
from playwright.sync_api import Browser, expect
from team_support import Running


def fits_a_phone(browser: Browser, server: Running, path: str) -> None:
    phone = new_page(browser, server, PHONE)
    log_in(phone, "boss")
    phone.goto(path)
    assert overflow(phone) == 0, (path, overflow(phone))
    phone.context.close()


def test_the_executive_makes_a_segment_and_a_campaign_and_launches_it(browser: Browser, server: Running, team: Path,
                                                                       smtp_server: SmtpServer) -> None:  # fmt: skip
    page = new_page(browser, server)
    log_in(page, "boss")
    expect(page.locator("#worker-state")).to_have_attribute("data-alive", "no")
    assert problems(page, exclude=MESSAGE_FRAMES) == []

    # a segment, in the form, by keyboard
    page.click("nav.bar >> text=Segments")
    assert problems(page, exclude=MESSAGE_FRAMES) == []
    page.click("text=New segment")
    page.focus("#f-name")
    page.keyboard.type("surabaya-customers")
    page.select_option("#f-status", "existing")
    page.fill("#f-city", "Surabaya")
    page.focus("#f-city")
    page.keyboard.press("Enter")  # submits the form: the conditions
    expect(page.locator("#count")).to_have_text("1")
    assert "eka@epsilon.example.com" in page.inner_text("#sample")
    assert (team / "segments" / "surabaya-customers.yaml").read_text() == \
        "where:\n  status: existing\n  city: Surabaya\n"  # fmt: skip
    assert problems(page, exclude=MESSAGE_FRAMES) == []

    # the campaign: a field error first, then fixed
    page.click("text=New campaign to this segment")
    assert page.input_value("#f-segment") == "surabaya-customers"
    page.fill("#f-name", "surabaya-promo")
    page.select_option("#f-content", "promo.md")
    page.fill("#f-rate", "fast")
    page.click("text=Create campaign")
    expect(page.locator("#err-rate")).to_have_text("'fast' is not a rate; write e.g. 20/s, 300/m or 1000/h")
    assert page.get_attribute("#f-rate", "aria-invalid") == "true"
    assert problems(page, exclude=MESSAGE_FRAMES) == []
    assert not (team / "campaigns" / "surabaya-promo.yaml").exists()
    page.fill("#f-rate", "50/s")
    page.click("text=Create campaign")
    expect(page.locator(".flash")).to_contain_text("Campaign surabaya-promo created")

    # build, then the review
    page.click("text=Build…")
    page.click("text=Yes, build it")
    page.wait_for_url("**/app/campaigns/surabaya-promo/review")
    expect(page.locator(".flash")).to_contain_text("Campaign surabaya-promo: 1 added to the outbox")
    assert page.inner_text("#queued") == "1"
    expect(page.locator("#doctor-verdict")).to_have_attribute("data-verdict", "skipped")  # a reserved example domain
    frame = page.frame_locator("iframe.sample")
    expect(frame.locator("body")).to_contain_text("Eka")  # the sample, rendered for a contact of the segment
    expect(page.locator("#no-worker")).to_contain_text(f"outreach worker -w {team}")
    assert problems(page, exclude=MESSAGE_FRAMES) == []
    for path in ("/app/campaigns", "/app/segments/surabaya-customers", "/app/campaigns/new",
                 "/app/campaigns/surabaya-promo/review"):  # fmt: skip
        fits_a_phone(browser, server, path)

    # send now with no worker: handed over, and the page says what to run
    page.click("#send-now")
    expect(page.locator(".flash")).to_contain_text("No worker is running, so nothing happens until one runs")
    assert page.inner_text("#state") == "scheduled" and smtp_server.received == []

    # the worker, as its own process, delivers; the page follows by itself
    worker = Spawned(["-w", str(team), "worker"], {"OUTREACH_SMTP_PORT": str(smtp_server.port)})
    try:
        expect(page.locator("#state")).to_have_text("done", timeout=120_000)
        assert smtp_server.recipients() == ["eka@epsilon.example.com"]
        expect(page.locator("[data-count=sent] .value")).to_have_text("1")
        expect(page.locator("#worker-state")).to_have_attribute("data-alive", "yes", timeout=60_000)
    finally:
        worker.signal()
        wait_for(lambda: worker.proc.poll() is not None, what="the worker to stop", context=worker.output)
