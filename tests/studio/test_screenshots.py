"""How the message looks, in a real browser: Debian's chromium, driven by Playwright (no download) and by
`content preview --screenshot` (chromium's own command line).

At a phone's 375 px no block may scroll sideways (every element's
scrollWidth against its clientWidth, measured by the browser) and the HTML
part stays under Gmail's 102 KB clipping size. With ``OUTREACH_SCREENSHOTS=DIR``
the press release's two screenshots are kept there (``make screenshots``
writes docs/screenshots/).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from browser_support import chromium_path
from helpers import invoke, png, prospects_workspace, write
from playwright.sync_api import Browser

from outreach.settings.workspace import init_workspace
from outreach.studio.live import GMAIL_CLIP
from outreach.workspace import Workspace

REPOSITORY = Path(__file__).resolve().parents[2]
EVERY_BLOCK = """\
---
subject: "Paket jaringan untuk {{ contact.company }}"
preheader: "Harga, masa berlaku dan survei lokasi gratis."
lang: id
---
![Paket Jaringan Aman Terkelola](images/banner.png){.banner}

# Paket Jaringan Aman Terkelola untuk Perusahaan Menengah di Seluruh Indonesia

Yth. {{ contact.full_name }}, katalog lengkap ada di https://contoh-solusi.example/katalog/paket-jaringan-aman-terkelola-2027-edisi-lengkap-dengan-harga.

| Paket | Isi paket | Garansi | Harga |
| --- | --- | --- | ---: |
| Kantor Kecil | 2 titik akses Wi-Fi 6, firewall generasi terbaru, pemasangan | 3 tahun | Rp 18.500.000 |
| Kantor Menengah | 6 titik akses Wi-Fi 6, firewall, switch 24 port PoE+, pemasangan | 3 tahun | Rp 46.000.000 |
| Kode | FIREWALL-NGFW-ENTERPRISE-24PORT-POE-PLUS-REDUNDANT-PSU | 5 tahun | Rp 120.000.000 |

!!! note "Masa berlaku"
    Harga berlaku untuk pemesanan sampai 31 Desember. Survei lokasi tidak dikenakan biaya.

> "Jaringan yang andal adalah fondasi operasional kami," kata pelanggan kami.

[Jadwalkan survei lokasi gratis untuk kantor Anda minggu ini](https://contoh-solusi.example/s?c=1){.button}

- Pemantauan 24 jam
- Laporan bulanan

```
show running-config | include interface GigabitEthernet0/0/1 description uplink-ke-kantor-pusat-jakarta
```

{% include "blocks/signature.md" %}
"""


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("looks")
    root = prospects_workspace(tmp / "ws")
    (root / "images").mkdir()
    (root / "images" / "banner.png").write_bytes(png(1200, 400))
    (root / "images" / "logo.png").write_bytes(png(320, 80))
    settings = root / "outreach.yaml"
    settings.write_text(settings.read_text() + "theme:\n  logo: images/logo.png\n  logo_width: 160\n"
                        "  footer_lines: [\"Distributor resmi perangkat jaringan sejak 2009\"]\n")  # fmt: skip
    write(root / "blocks" / "signature.md", "Salam,  \n{{ sender.name }}  \n{{ sender.title }}\n")
    write(root / "campaigns" / "blocks.md", EVERY_BLOCK)
    write(root / "campaigns" / "blocks.yaml", "segment: prospects\ncontent: blocks.md\nsender: awang\n")
    made = invoke("content", "new", "launch", "--kind", "press-release", "--segment", "prospects", ws=root)
    assert made.exit_code == 0
    return root


OVERFLOWING = """() => {
  const wide = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      wide.push(`${el.tagName.toLowerCase()}.${el.className}: ${el.scrollWidth} > ${el.clientWidth}`);
    }
  }
  const page = document.documentElement;
  if (page.scrollWidth > page.clientWidth) wide.push(`page: ${page.scrollWidth} > ${page.clientWidth}`);
  return wide;
}"""


@pytest.mark.parametrize("name", ["blocks", "launch"])
def test_no_block_scrolls_sideways_on_a_phone(browser: Browser, root: Path, name: str) -> None:
    with Workspace.open(root) as ws:
        prepared = ws.preview(name, "ani@alpha.example.com")
    html = prepared.rendered.html
    assert len(html.encode()) < GMAIL_CLIP  # Gmail clips an HTML part over 102 KB, hiding the unsubscribe link
    context = browser.new_context(viewport={"width": 375, "height": 812}, is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    try:
        page.set_content(prepared.html_for_browser(), wait_until="load")
        assert page.evaluate(OVERFLOWING) == []
        assert page.evaluate("document.documentElement.clientWidth") == 375
        if name == "blocks":  # every block is there, and as designed
            cell = page.locator("td.button-cell")
            assert cell.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(11, 92, 171)"
            assert page.locator("a.button-link").evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
            banner = page.locator("img.banner")
            assert banner.evaluate("e => e.naturalWidth") == 1200  # the embedded picture loaded
            assert banner.evaluate("e => e.getBoundingClientRect().width") <= 375 - 64
            assert page.locator("td.brand img").evaluate("e => e.naturalWidth") == 320  # the logo
            assert page.locator("table.callout td.callout-cell").count() == 1
            assert page.locator("table.data tr").count() == 4
            assert "Distributor resmi perangkat jaringan sejak 2009" in page.inner_text("td.footer")
    finally:
        context.close()


def test_desktop_shows_the_600px_column(browser: Browser, root: Path) -> None:
    with Workspace.open(root) as ws:
        html = ws.preview("blocks", "ani@alpha.example.com").html_for_browser()
    context = browser.new_context(viewport={"width": 1024, "height": 900})
    page = context.new_page()
    try:
        page.set_content(html, wait_until="load")
        assert page.locator("table.card").evaluate("e => e.getBoundingClientRect().width") == 600
        assert page.evaluate(OVERFLOWING) == []
    finally:
        context.close()


def test_preview_screenshot_writes_a_phone_and_a_desktop_png(tmp_path: Path) -> None:
    """A press release as `content new` writes it, in the example workspace as `outreach init` makes it."""
    chromium_path()
    root = tmp_path / "ws"
    init_workspace(root)
    assert invoke("content", "new", "launch", "--kind", "press-release", ws=root).exit_code == 0
    early = invoke("content", "preview", "launch", "--screenshot", str(tmp_path / "early"), ws=root)
    assert early.exit_code == 0 and early.stderr == ("Warning: the campaign's segment has no contacts; the "
                                                     "screenshots show a sample contact\n")  # fmt: skip
    assert png_size(tmp_path / "early" / "launch-phone.png")[0] == 375
    assert invoke("contacts", "import", str(root / "contacts.csv"), ws=root).exit_code == 0
    keep = os.environ.get("OUTREACH_SCREENSHOTS")
    folder = REPOSITORY / keep if keep else tmp_path / "shots"  # relative to the repository: tests run elsewhere
    result = invoke("content", "preview", "launch", "--screenshot", str(folder), ws=root)
    assert (result.exit_code, result.stderr) == (0, ""), result.output
    phone, desktop = folder / "launch-phone.png", folder / "launch-desktop.png"
    assert result.stdout.splitlines() == [
        f"Wrote {phone} (phone: 375 px wide)",
        f"Wrote {desktop} (desktop: 600 px wide, the message column at its full width)",
    ]
    (pw, ph), (dw, dh) = png_size(phone), png_size(desktop)
    assert (pw, dw) == (375, 600)
    assert ph > dh > 800  # the whole message, taller where the column is narrower
    if keep:  # under the names the README uses
        phone.replace(folder / "press-release-phone.png")
        desktop.replace(folder / "press-release-desktop.png")
