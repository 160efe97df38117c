"""The writer's building blocks in email-safe HTML, the brand theme in the layout, pictures embedded by Content-ID."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import pytest
from helpers import png, write

from outreach.audience.contacts import ContactView
from outreach.campaigns.messages import CampaignInfo
from outreach.content.blocks import CONTENT_WIDTH
from outreach.content.images import dimensions, load_image
from outreach.content.rendering import Organization, Rendered, load_compiled
from outreach.errors import TemplateError
from outreach.settings.config import Sender, Theme

ORG = Organization("PT Contoh Solusi", "Jl. Sudirman No. 1, Jakarta")
SENDER = Sender(name="Awang Prasetyo", email="awang@contoh-solusi.example", title="Sales", phone="+62 21 1")
UNSUB = "https://contoh-solusi.example/u/7-3-AbCdEf"
VIEW = ContactView(
    id=7, email="ani@alpha.example.com", first_name="Ani", last_name="Lestari", title="IT Manager",
    phone="", company="PT Alpha Teknik", industry="", city="Jakarta", timezone="Asia/Jakarta",
    status="prospect", owner="", last_contacted_at=None, transactions=0, tags=(), custom={},
)  # fmt: skip


def render(root: Path, body: str, theme: Theme | None = None, front: str = "lang: id\n") -> tuple[Any, Rendered]:
    text = f'---\nsubject: "Halo {{{{ contact.first_name }}}}"\n{front}---\n{body}'
    path = write(root / "campaigns" / "promo.md", text)
    compiled = load_compiled(path, ORG, theme=theme, root=root)
    context = {"contact": VIEW, "sender": SENDER, "campaign": CampaignInfo("promo"), "unsubscribe_url": UNSUB}
    return compiled, compiled.render(context)


def tag(html: str, name: str, cls: str) -> str:
    """The first opening tag ``<name ... class="... cls ...">``."""
    m = re.search(rf'<{name}\b[^>]*\bclass="[^"]*\b{cls}\b[^"]*"[^>]*>', html)
    assert m, f"no <{name} class={cls}> in the HTML"
    return m.group(0)


# -- the call-to-action button ---------------------------------------------------------------------


def test_button_is_a_padded_table_cell_outlook_paints(tmp_path: Path) -> None:
    button = "[Jadwalkan survei](https://contoh-solusi.example/survei?c={{ campaign.name }}){.button}"
    _, r = render(tmp_path, f"Halo.\n\n{button}\n")
    table = re.search(r'<table\b[^>]*class="button"[^>]*>.*?</table>', r.html, re.S)
    assert table, r.html
    cell = tag(table.group(0), "td", "button-cell")
    assert 'bgcolor="#0b5cab"' in cell and "padding:12px 24px" in cell  # Outlook paints a cell's bgcolor and padding
    link = tag(table.group(0), "a", "button-link")
    assert 'href="https://contoh-solusi.example/survei?c=promo"' in link
    assert "color:#fff" in link and "text-decoration:none" in link
    assert ">Jadwalkan survei</a>" in table.group(0)
    assert 'role="presentation"' in table.group(0)
    assert "Jadwalkan survei (https://contoh-solusi.example/survei?c=promo)" in r.text  # the text part keeps it


def test_button_takes_the_theme_colours(tmp_path: Path) -> None:
    theme = Theme(primary_color="#B3261E", button_text_color="#FFF")
    _, r = render(tmp_path, "[Order](https://contoh-solusi.example/o){.button}\n", theme)
    assert 'bgcolor="#b3261e"' in tag(r.html, "td", "button-cell")
    assert "color:#fff" in tag(r.html, "a", "button-link")


def test_a_button_inside_a_sentence_stays_a_link(tmp_path: Path) -> None:
    _, r = render(tmp_path, "Silakan [daftar](https://contoh-solusi.example/d){.button} hari ini.\n")
    assert 'class="button"' not in re.sub(r"<a\b[^>]*>", "", r.html)  # no button table
    assert re.search(r'<a\b[^>]*href="https://contoh-solusi.example/d"', r.html)


# -- images ------------------------------------------------------------------------------------------


def test_local_banner_is_embedded_with_width_and_alt(tmp_path: Path) -> None:
    write(tmp_path / "outreach.yaml", "")
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "banner.png").write_bytes(png(1200, 300))
    compiled, r = render(tmp_path, "![Promo akhir tahun](images/banner.png){.banner}\n\nIsi.\n")
    (image,) = compiled.images
    assert (image.width, image.height, image.content_type) == (1200, 300, "image/png")
    img = re.search(r"<img\b[^>]*>", r.html).group(0)  # type: ignore[union-attr]
    assert f'src="cid:{image.cid}"' in img
    assert f'width="{CONTENT_WIDTH}"' in img and 'alt="Promo akhir tahun"' in img
    assert "max-width:100%" in img and "height:auto" in img and "display:block" in img
    assert "height=" not in img.replace("max-height", "")  # the width and the picture's proportions decide
    assert "[Promo akhir tahun]" in r.text


def test_small_local_image_keeps_its_own_width(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "icon.png").write_bytes(png(64, 64))
    _, r = render(tmp_path, "![Ikon](images/icon.png) Teks.\n")
    img = re.search(r"<img\b[^>]*>", r.html).group(0)  # type: ignore[union-attr]
    assert 'width="64"' in img and "display:block" not in img  # inline with its text


def test_hosted_image_width_from_the_markdown(tmp_path: Path) -> None:
    _, r = render(tmp_path, "![Logo mitra](https://cdn.example.com/mitra.png){width=180}\n")
    img = re.search(r"<img\b[^>]*>", r.html).group(0)  # type: ignore[union-attr]
    assert 'src="https://cdn.example.com/mitra.png"' in img and 'width="180"' in img


def test_missing_local_image_is_an_error_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        render(tmp_path, "Halo.\n\n![Banner](images/nope.png)\n")
    assert (caught.value.line, Path(str(caught.value.path)).name) == (7, "promo.md")
    assert "images/nope.png: no such file in the workspace" in caught.value.detail


@pytest.mark.parametrize("src", ["../secret.png", "images/../../secret.png"])
def test_local_images_stay_inside_the_workspace(tmp_path: Path, src: str) -> None:
    (tmp_path / "secret.png").write_bytes(png(2, 2))
    root = tmp_path / "ws"
    root.mkdir()
    with pytest.raises(TemplateError, match="inside the workspace"):
        load_image(root, src)


def test_image_link_out_of_the_workspace_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(png(2, 2))
    root = tmp_path / "ws"
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.png").symlink_to(tmp_path / "secret.png")
    with pytest.raises(TemplateError, match="leads outside the workspace"):
        load_image(root, "images/a.png")


def test_dimensions_of_the_common_formats() -> None:
    assert dimensions(png(300, 120)) == (300, 120)
    assert dimensions(b"GIF89a" + struct.pack("<HH", 40, 30) + b"\x00" * 10) == (40, 30)
    sof = b"\xff\xc0" + struct.pack(">HBHH", 17, 8, 250, 640) + b"\x00" * 12
    assert dimensions(b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 16) + b"\x00" * 14 + sof) == (640, 250)
    assert dimensions(b"not an image") == (None, None)


# -- callouts and tables -------------------------------------------------------------------------------


def test_admonition_is_a_one_cell_callout_table(tmp_path: Path) -> None:
    _, r = render(tmp_path, '!!! note "Masa berlaku"\n    Harga berlaku sampai **31 Desember**.\n')
    table = re.search(r'<table\b[^>]*class="callout"[^>]*>.*?</table>', r.html, re.S).group(0)  # type: ignore[union-attr]
    cell = tag(table, "td", "callout-cell")
    assert 'bgcolor="#eef4fb"' in cell and "border-left:4px solid #0b5cab" in cell
    assert re.search(r'<p class="callout-title"[^>]*>Masa berlaku</p>', table)
    assert "Harga berlaku sampai" in table and "admonition" not in r.html
    assert "Masa berlaku\n\nHarga berlaku sampai 31 Desember." in r.text


def test_paragraph_marked_callout(tmp_path: Path) -> None:
    _, r = render(tmp_path, "Catatan penting untuk {{ contact.company }}.\n{.callout}\n")
    table = re.search(r'<table\b[^>]*class="callout"[^>]*>.*?</table>', r.html, re.S).group(0)  # type: ignore[union-attr]
    assert "Catatan penting untuk PT Alpha Teknik." in table


def test_price_table_styled_inline_and_readable_as_text(tmp_path: Path) -> None:
    md = "| Produk | Harga |\n| --- | ---: |\n| Wi-Fi 6 AP | Rp 4.500.000 |\n| Firewall | Rp 12.000.000 |\n"
    _, r = render(tmp_path, md)
    table = tag(r.html, "table", "data")
    assert 'width="100%"' in table and "border-collapse:collapse" in table
    price = re.search(r"<td\b[^>]*>Rp 12.000.000</td>", r.html).group(0)  # type: ignore[union-attr]
    assert 'align="right"' in price and "border:1px solid" in price and "padding:8px 10px" in price
    assert "Produk | Harga\nWi-Fi 6 AP | Rp 4.500.000\nFirewall | Rp 12.000.000\n" in r.text


# -- the theme -------------------------------------------------------------------------------------------


def test_theme_colours_font_and_footer_lines(tmp_path: Path) -> None:
    theme = Theme(primary_color="#7a1f5c", text_color="#222222", font_family="Georgia, 'Times New Roman', serif",
                  footer_lines=("Distributor resmi sejak 2009", "Kantor: Jakarta · Surabaya"))  # fmt: skip
    _, r = render(tmp_path, "Halo [katalog](https://contoh-solusi.example/k).\n", theme)
    content = tag(r.html, "td", "content")
    assert "color:#222" in content and 'font-family:Georgia, "Times New Roman", serif' in content
    assert re.search(r'<a href="https://contoh-solusi.example/k"[^>]*color:#7a1f5c', r.html)
    assert re.search(r'<p class="footer-line"[^>]*>Distributor resmi sejak 2009</p>', r.html)
    assert "\n-- \nDistributor resmi sejak 2009\nKantor: Jakarta · Surabaya\nPT Contoh Solusi, " in r.text


def test_logo_from_a_url_or_embedded_from_the_workspace(tmp_path: Path) -> None:
    _, r = render(tmp_path, "Halo.\n", Theme(logo="https://cdn.example.com/logo.png", logo_width=140))
    logo = re.search(r'<td class="brand"[^>]*><img\b[^>]*>', r.html).group(0)  # type: ignore[union-attr]
    assert 'src="https://cdn.example.com/logo.png"' in logo and 'width="140"' in logo
    assert 'alt="PT Contoh Solusi"' in logo
    (tmp_path / "logo.png").write_bytes(png(400, 100))
    compiled, r = render(tmp_path, "Halo.\n", Theme(logo="logo.png", logo_width=200))
    (image,) = compiled.images
    assert f'src="cid:{image.cid}"' in r.html


def test_settings_text_is_never_a_template(tmp_path: Path) -> None:
    theme = Theme(footer_lines=("{{ 7 * 7 }} {% if true %}x{% endif %}",))
    _, r = render(tmp_path, "Halo.\n", theme)
    assert "{{ 7 * 7 }} {% if true %}x{% endif %}" in r.text and "49" not in r.text


def test_the_layout_is_fluid_with_a_fixed_column_for_outlook(tmp_path: Path) -> None:
    _, r = render(tmp_path, "Halo.\n")
    card = tag(r.html, "table", "card")
    assert 'width="100%"' in card and "max-width:600px" in card
    assert '<!--[if mso]><table role="presentation" width="600"' in r.html
