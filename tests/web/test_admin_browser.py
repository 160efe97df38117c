"""The sales admin in a real browser: Playwright driving Debian's chromium against a real uvicorn on 127.0.0.1.

The admin loads a list (reviewing how its columns are read), finds a contact,
corrects it, suppresses and lifts it, and manages the accounts; every page is
checked with axe-core (no serious or critical violation) and on a 390 px
phone (no horizontal scroll).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from a11y_support import PHONE, checked
from browser_pages import log_in, new_page
from helpers import invoke
from playwright.sync_api import Browser, expect
from team_support import Running


def test_the_admin_loads_a_list_fixes_a_contact_and_manages_accounts(browser: Browser, server: Running, team: Path,
                                                                      tmp_path: Path) -> None:  # fmt: skip
    page = new_page(browser, server)
    log_in(page, "sari")
    expect(page).to_have_url(re.compile(r"/app/contacts$"))
    assert page.inner_text("#total") == "(6)"
    checked(page)

    sheet = tmp_path / "pameran.csv"
    sheet.write_text("E-mail Address,Nama Depan,Perusahaan,Nomor Kantor,Catatan\r\n"
                     "rina@omega.example.com,Rina,PT Omega,0812-3456-7890,<b>tebal</b>\r\n"
                     "yudi@omega.example.com,=HYPERLINK(\"http://evil.example\"),PT Omega,,@SUM(A1)\r\n"
                     "bukan-email,Tono,PT Nol,,\r\n", encoding="utf-8")  # fmt: skip
    page.click("nav.bar >> text=Import")
    checked(page)
    page.set_input_files("#file", str(sheet))
    page.click("text=Check the columns")
    review = page.locator("table.mapping")
    expect(review).to_be_visible()
    checked(page)
    assert "<b>tebal</b>" in review.locator("tr[data-column=Catatan] .samples").inner_text()  # text, not markup
    assert page.locator("tr[data-column='Nomor Kantor'] select").input_value() == "custom.nomor_kantor"
    page.select_option("tr[data-column='Nomor Kantor'] select", "phone")
    page.select_option("tr[data-column=Catatan] select", "ignore")
    page.click("text=Import pameran.csv")
    expect(page.locator("#summary-line")).to_have_text("Contacts: 2 imported, 0 updated, 1 rejected")
    checked(page)
    assert "row 4: invalid email" in page.inner_text("#rejects")
    with page.expect_download() as download:
        page.click("text=Download the rejected rows (CSV)")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    assert rows[0][:3] == ["row", "reason", "E-mail Address"] and rows[1][2] == "bukan-email"
    shown = invoke("contacts", "show", "rina@omega.example.com", ws=team).stdout
    assert re.search(r"phone\s+\+6281234567890\n", shown) and "catatan" not in shown

    page.click("nav.bar >> text=Contacts")
    page.fill("#q", "omega yudi")
    page.click("form[role=search] button[type=submit]")
    page.click("#contacts tr[data-email='yudi@omega.example.com'] a")
    expect(page.locator("h1")).to_contain_text("yudi@omega.example.com")
    checked(page)
    assert page.locator("[data-field=first_name] dd").inner_text() == '=HYPERLINK("http://evil.example")'
    page.click("main >> text=Edit")
    checked(page)
    page.fill("[data-field=phone] input", "12")
    page.fill("[data-field=first_name] input", "Yudi")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("[data-field=phone] .field-error")).to_be_visible()
    assert page.locator("[data-field=first_name] input").input_value() == "Yudi"  # what was typed stays
    checked(page)
    page.fill("[data-field=phone] input", "0813 1111 2222")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash")).to_have_text("Saved: first_name, phone.")
    assert "+6281311112222" in page.inner_text("#fields")
    assert "sari, via app" in page.inner_text("#changes")

    page.click("text=Suppress…")
    page.fill("#suppress-reason", "minta tidak dikirimi lewat telepon")
    page.click("text=Suppress yudi@omega.example.com")
    expect(page.locator("#suppressed")).to_contain_text("manual (minta tidak dikirimi lewat telepon (by sari))")
    checked(page)
    page.click("text=Lift the suppression…")
    page.fill("#unsuppress-reason", "salah orang")
    page.click("button:has-text('Lift the suppression')")
    expect(page.locator(".flash")).to_contain_text("may be mailed again")

    page.click("nav.bar >> text=Users")
    checked(page)
    page.fill("#new-name", "dewi")
    page.select_option("#new-role", "caller")
    page.fill("#new-password", "dewi-password-1")
    page.click("text=Add the user")
    expect(page.locator(".flash")).to_contain_text("User dewi added (caller)")
    card = page.locator("article[data-user=dewi]")
    card.locator("select[name=role]").select_option("writer")
    card.locator("text=Change role").click()
    expect(page.locator(".flash")).to_have_text("dewi is now writer.")
    page.locator("article[data-user=dewi] >> text=Disable dewi").click()
    expect(page.locator("article[data-user=dewi] h2 .state")).to_have_text("disabled")
    checked(page)

    other = new_page(browser, server)
    log_in(other, "dewi", password="dewi-password-1", wait=False)  # refused: no one is logged in
    expect(other.locator(".problem, .error, [role=alert]").first).to_contain_text("disabled")


def test_a_file_over_the_limit_is_stopped_before_it_is_sent(browser: Browser, server: Running,
                                                             tmp_path: Path) -> None:  # fmt: skip
    page = new_page(browser, server)
    log_in(page, "sari")
    page.goto("/app/contacts/import")
    big = tmp_path / "besar.csv"
    big.write_bytes(b"email\r\n" + b"a@example.com\r\n" * (11 * 1024 * 1024 // 15))
    page.set_input_files("#file", str(big))
    expect(page.locator("#file-too-big")).to_be_visible()
    page.click("text=Check the columns")
    assert page.url.endswith("/app/contacts/import")  # the form was not sent
    assert page.evaluate("document.getElementById('file').validity.valid") is False


@pytest.mark.parametrize("path", ["/app/contacts", "/app/contacts?q=alpha", "/app/contacts/ani@alpha.example.com",
                                  "/app/contacts/ani@alpha.example.com/edit", "/app/contacts/import", "/app/users"])
def test_each_admin_page_fits_a_phone_and_passes_axe(browser: Browser, server: Running, path: str) -> None:
    page = new_page(browser, server, PHONE)
    log_in(page, "sari")
    page.goto(path)
    checked(page)
    for target in page.locator("main button, main a.button, main select, main input:not([type=hidden])").all():
        box = target.bounding_box()
        assert box is None or box["x"] + box["width"] <= PHONE + 1, (path, target.evaluate("e => e.outerHTML"))


def test_the_contact_list_works_by_keyboard(browser: Browser, server: Running) -> None:
    page = new_page(browser, server)
    log_in(page, "sari")
    page.focus("#q")
    page.keyboard.type("beta")
    page.keyboard.press("Enter")
    expect(page.locator("#total")).to_have_text("(1 found)")
    link = page.locator("#contacts a").first
    link.focus()
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Budi Santoso")
