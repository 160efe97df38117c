"""Text colours against their background (WCAG AA), in the message as rendered; lint says where to fix them."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import invoke, prospects_workspace, write

from outreach.studio.contrast import colour, failing, ratio, text_pairs


def test_wcag_ratios() -> None:
    assert ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert ratio("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the lightest grey that passes on white
    assert ratio("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert ratio("#ffffff", "#0b5cab") == ratio("#0b5cab", "#ffffff")


def test_colours_as_css_writes_them() -> None:
    assert [colour(c) for c in ("#FFF", "#0b5cab", "white", "rgb(11, 92, 171)", "transparent", "rgba(0,0,0,.5)")] == [
        "#ffffff", "#0b5cab", "#ffffff", "#0b5cab", None, None]


def test_the_cascade_hidden_text_and_large_text() -> None:
    html = (
        '<body style="background-color:#f2f4f7"><div style="display:none;color:#fff">preheader</div>'
        '<table bgcolor="#ffffff"><tr><td style="color:#999999">grey on white'
        '<h1 style="font-size:24px">large grey</h1></td></tr></table>'
        '<p style="color:#333">on the page</p></body>'
    )
    pairs = {(p.sample, p.foreground, p.background, p.large) for p in text_pairs(html)}
    assert pairs == {("grey on white", "#999999", "#ffffff", False), ("large grey", "#999999", "#ffffff", True),
                     ("on the page", "#333333", "#f2f4f7", False)}  # fmt: skip
    assert [p.sample for p in failing(html)] == ["grey on white", "large grey"]  # 2.8:1, under 3:1 too


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = prospects_workspace(tmp_path / "ws")
    write(root / "campaigns" / "promo.yaml", "segment: prospects\ncontent: promo.md\nsender: awang\n")
    return root


def test_the_default_theme_passes(root: Path) -> None:
    write(root / "campaigns" / "promo.md", '---\nsubject: Halo\n---\nHalo [x](https://contoh-solusi.example).\n\n'
          '[Daftar](https://contoh-solusi.example/d){.button}\n\n!!! note "Catatan"\n    Isi.\n')  # fmt: skip
    assert invoke("content", "lint", "promo", ws=root).stdout == "Checked 1 campaign: 0 errors, 0 warnings\n"


def test_a_theme_colour_is_reported_at_its_line_of_outreach_yaml(root: Path) -> None:
    settings = root / "outreach.yaml"
    settings.write_text(settings.read_text() + 'theme:\n  primary_color: "#0b5cab"\n  footer_color: "#b0b8c0"\n')
    line = settings.read_text().splitlines().index('  footer_color: "#b0b8c0"') + 1
    write(root / "campaigns" / "promo.md", "---\nsubject: Halo\n---\nHalo.\n")
    result = invoke("content", "lint", "promo", ws=root)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"outreach.yaml:{line}: warning: text colour #b0b8c0 (theme.footer_color) on #ffffff (theme.card_color) has "
        'a contrast of 2.01:1, under WCAG AA\'s 4.5:1 for normal text ("PT Contoh Solusi Teknologi · Jl. Jend. …")',
        "Checked 1 campaign: 0 errors, 1 warning",
    ]


def test_a_colour_written_in_the_content_is_reported_there(root: Path) -> None:
    write(root / "campaigns" / "promo.md", '---\nsubject: Halo\n---\nHalo.\n\n<p style="color:#cccccc">Syarat dan '
          "ketentuan berlaku.</p>\n")  # fmt: skip
    result = invoke("content", "lint", "promo", ws=root)
    assert result.stdout.splitlines()[0] == (
        "campaigns/promo.md:6: warning: text colour #cccccc on #ffffff has a contrast of 1.61:1, under WCAG AA's "
        '4.5:1 for normal text ("Syarat dan ketentuan berlaku.")')
