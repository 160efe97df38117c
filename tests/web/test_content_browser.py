"""The writer's editor in a real browser: Playwright driving Debian's chromium against a real uvicorn.

Typing refreshes the preview (the iframe) and the lint; a finding moves the caret to its line; two writers
saving one file end in a conflict page that loses nothing; a picture is uploaded and inserted at the caret;
the whole edit works by keyboard alone; axe-core finds no serious or critical violation on the editor's
pages, and at 390 px nothing is wider than the screen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from a11y_support import PHONE, checked
from browser_pages import log_in, new_page, tab_to, watch_console
from helpers import png
from playwright.sync_api import Browser, Page, expect
from team_support import Running


def message_text(page: Page) -> str:
    return page.frame_locator("iframe#message").locator("body").inner_text()


def caret_line(page: Page) -> int:
    return int(page.evaluate("() => { const t = document.getElementById('source');"
                             " return t.value.slice(0, t.selectionStart).split('\\n').length; }"))  # fmt: skip


def test_typing_refreshes_the_preview_and_a_finding_moves_the_caret(browser: Browser, server: Running,
                                                                    team: Path) -> None:  # fmt: skip
    md = team / "campaigns" / "promo.md"
    before = md.read_bytes()
    page = new_page(browser, server)
    problems = watch_console(page)
    log_in(page, "wina")
    assert page.url.endswith("/app/content")  # the writer's home
    page.click('li[data-file="campaigns/promo.md"] a >> nth=0')
    page.wait_for_selector("textarea#source")
    assert "Yth. Ani Lestari" in message_text(page)
    source = page.locator("textarea#source")
    source.click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nTerima kasih atas perhatiannya.\n")
    expect(page.frame_locator("iframe#message").locator("body")).to_contain_text("Terima kasih atas perhatiannya.")
    assert md.read_bytes() == before  # the preview wrote nothing

    page.keyboard.type("{{ contact.nickname }}\n")
    expect(page.locator("#lint-summary")).to_have_text(re.compile(r"^1 error"))
    expect(page.locator("#pv-error")).to_contain_text("contact.nickname")
    button = page.locator("#findings button.goto").first
    line = int(button.get_attribute("data-line") or 0)
    assert line == 16
    page.locator("#f-subject").focus()  # the caret elsewhere first
    button.click()
    assert page.evaluate("document.activeElement.id") == "source"
    assert caret_line(page) == line
    expect(page.locator("#test-send-button")).to_be_disabled()

    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(before.decode().replace("Kami menawarkan", "Kami dengan senang hati menawarkan"))
    expect(page.frame_locator("iframe#message").locator("body")).to_contain_text("dengan senang hati")
    expect(page.locator("#lint-summary")).to_have_text(re.compile(r"^0 errors"))
    with page.expect_navigation():
        page.keyboard.press("Control+s")
    expect(page.locator(".flash")).to_contain_text("Saved campaigns/promo.md")
    assert "dengan senang hati" in md.read_text(encoding="utf-8")
    assert problems == []


def test_the_subject_field_edits_the_front_matter_live(browser: Browser, server: Running, team: Path) -> None:
    page = new_page(browser, server)
    log_in(page, "wina", "/app/content/promo/edit")
    page.fill("#f-subject", "Undangan khusus untuk {{ contact.company }}")
    expect(page.locator("#pv-subject")).to_have_text("Undangan khusus untuk PT Alpha Teknik")
    expect(page.locator("textarea#source")).to_have_value(
        re.compile(r'^---\nsubject: "Undangan khusus untuk \{\{ contact\.company \}\}"\n'))
    page.select_option("#contact", "budi@beta.example.com")
    expect(page.locator("#pv-subject")).to_have_text("Undangan khusus untuk PT Beta Niaga")
    with page.expect_navigation():
        page.click("#save")
    assert (team / "campaigns" / "promo.md").read_text(encoding="utf-8").startswith(
        '---\nsubject: "Undangan khusus untuk {{ contact.company }}"\npreheader: "Diskon akhir tahun')


def test_two_writers_save_one_file_and_the_second_merges_by_hand(browser: Browser, server: Running,
                                                                 team: Path) -> None:  # fmt: skip
    md = team / "campaigns" / "promo.md"
    first, second = new_page(browser, server), new_page(browser, server)
    log_in(first, "wina", "/app/content/promo/edit")
    log_in(second, "boss", "/app/content/promo/edit")
    original = first.locator("textarea#source").input_value()
    hers = original.replace("Kami menawarkan", "Kami (Wina) menawarkan")
    first.fill("textarea#source", hers)
    with first.expect_navigation():
        first.click("#save")
    his = original + "\nP.S. dari Boss.\n"
    second.fill("textarea#source", his)
    with second.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/edit")) as posted:
        second.click("#save")
    assert posted.value.status == 409
    expect(second.locator("#problem")).to_contain_text("was changed by someone else")
    assert second.locator("textarea#theirs").input_value() == hers
    assert second.locator("textarea#source").input_value() == his  # nothing lost
    assert md.read_text(encoding="utf-8") == hers
    second.fill("textarea#source", hers + "\nP.S. dari Boss.\n")
    with second.expect_navigation():
        second.click("#save")
    expect(second.locator(".flash")).to_contain_text("Saved campaigns/promo.md")
    assert md.read_text(encoding="utf-8") == hers + "\nP.S. dari Boss.\n"


def test_a_picture_is_uploaded_and_inserted_at_the_caret(browser: Browser, server: Running, team: Path,
                                                         tmp_path: Path) -> None:  # fmt: skip
    picture, fake, huge = tmp_path / "Banner Akhir Tahun.png", tmp_path / "foto.png", tmp_path / "besar.png"
    picture.write_bytes(png(240, 80))
    fake.write_text("<html><script>alert(1)</script></html>", encoding="utf-8")
    huge.write_bytes(png(10, 10) + b"\0" * (6 * 1024 * 1024))
    page = new_page(browser, server)
    log_in(page, "wina", "/app/content/promo/edit")
    page.evaluate("() => { const t = document.getElementById('source'); const at = t.value.indexOf('Salam,');"
                  " t.focus(); t.setSelectionRange(at, at); }")  # fmt: skip
    page.set_input_files("#picture", str(fake))
    page.click("#upload")
    expect(page.locator("#picture-status")).to_contain_text("this file is not a picture: it is HTML")
    page.set_input_files("#picture", str(huge))
    page.click("#upload")
    expect(page.locator("#picture-status")).to_contain_text("Not uploaded: besar.png is 6.0 MB; at most 5 MB")
    page.set_input_files("#picture", str(picture))
    page.click("#upload")
    inserted = "Inserted ![Banner akhir tahun](images/banner-akhir-tahun.png)"
    expect(page.locator("#picture-status")).to_contain_text(inserted)
    text = page.locator("textarea#source").input_value()
    assert "\n\n![Banner akhir tahun](images/banner-akhir-tahun.png)\nSalam," in text
    image = page.frame_locator("iframe#message").locator("img[alt='Banner akhir tahun']")
    expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,"))
    assert (team / "images" / "banner-akhir-tahun.png").read_bytes() == png(240, 80)
    assert sorted(p.name for p in (team / "images").iterdir()) == ["banner-akhir-tahun.png"]


def test_the_whole_edit_by_keyboard_alone(browser: Browser, server: Running, team: Path) -> None:
    page = new_page(browser, server)
    log_in(page, "wina", "/app/content/promo/edit")
    page.evaluate("document.activeElement.blur()")

    tab_to(page, "#f-preheader")
    page.keyboard.press("Control+a")
    page.keyboard.type("Hanya minggu ini")
    tab_to(page, "#source")
    page.keyboard.press("Control+End")
    page.keyboard.type("\n{{ contact.nickname }}\n")
    expect(page.locator("#lint-summary")).to_have_text(re.compile(r"^1 error"))
    tab_to(page, "#findings button.goto")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "source" and caret_line(page) == 15
    page.keyboard.press("Shift+End")
    page.keyboard.press("Delete")
    expect(page.locator("#lint-summary")).to_have_text(re.compile(r"^0 errors"))
    tab_to(page, "#save")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator(".flash")).to_contain_text("Saved campaigns/promo.md")
    saved = (team / "campaigns" / "promo.md").read_text(encoding="utf-8")
    assert 'preheader: "Hanya minggu ini"' in saved and "nickname" not in saved


@pytest.mark.parametrize("width", [1280, PHONE])
def test_the_editors_pages_are_accessible_and_fit_a_phone(browser: Browser, server: Running, team: Path,
                                                          width: int) -> None:  # fmt: skip
    page = new_page(browser, server, width)
    log_in(page, "wina", "/app/content")
    with page.expect_navigation():  # a version to show in the history, a 409 page to check
        page.goto("/app/content/promo/edit")
        page.fill("textarea#source", page.locator("textarea#source").input_value() + "\nTambahan.\n")
        page.click("#save")
    (team / "blocks" / "penutup.md").write_text("Salam,\n", encoding="utf-8")
    pages = ["/app/content", "/app/content/promo/edit", "/app/content/promo/history", "/app/blocks/salam/edit",
             "/app/content/promo/edit?lang=en"]  # fmt: skip
    for path in pages:
        page.goto(path)
        page.wait_for_load_state("load")
        checked(page)
    page.goto("/app/content/promo/edit")
    (team / "campaigns" / "promo.md").write_text("---\nsubject: dari disk\n---\nIsi\n", encoding="utf-8")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("#save")
    assert posted.value.status == 409
    page.wait_for_load_state("load")
    checked(page)  # the conflict page
