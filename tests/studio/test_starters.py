"""`outreach content new NAME --kind KIND --lang LANG`: a writer's starting point that passes lint."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import invoke

from outreach.settings.workspace import init_workspace
from outreach.studio import STARTER_KINDS
from outreach.studio.starters import long_date


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example workspace with its contacts and one campaign of every kind in both languages."""
    root = tmp_path_factory.mktemp("starters") / "ws"
    init_workspace(root)
    assert invoke("contacts", "import", str(root / "contacts.csv"), ws=root).exit_code == 0
    for kind in STARTER_KINDS:
        for lang in ("id", "en"):
            result = invoke("content", "new", f"{kind}-{lang}", "--kind", kind, "--lang", lang, ws=root)
            assert result.exit_code == 0, result.output
    return root


def test_what_content_new_says(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    init_workspace(root)
    result = invoke("content", "new", "launch", "--kind", "press-release", ws=root)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "Created campaigns/launch.yaml",
        "Created campaigns/launch.md",
        "  press-release in Bahasa Indonesia, segment existing-customers, sender awang",
        "Next: edit campaigns/launch.md, then `outreach content preview launch` and "
        "`outreach content lint launch --spam`",
    ]
    assert (root / "campaigns" / "launch.yaml").read_text().splitlines()[1:] == [
        "segment: existing-customers", "content: launch.md", "sender: awang"]


def test_every_kind_in_both_languages_passes_lint(made: Path) -> None:
    result = invoke("content", "lint", ws=made)
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == "Checked 10 campaigns: 0 errors, 0 warnings\n"


def dated(text: str, lang: str) -> bool:
    """The dateline's date is today's (or yesterday's, for a test that ran over midnight)."""
    return any(long_date(date.today() - timedelta(days=d), lang) in text for d in (0, 1))


def test_a_press_release_in_bahasa_indonesia(made: Path) -> None:
    md = (made / "campaigns" / "press-release-id.md").read_text()
    assert md.startswith('---\nsubject: "Siaran pers: PT Contoh Solusi Teknologi luncurkan layanan jaringan')
    assert "lang: id\n" in md
    assert re.search(r"^# PT Contoh Solusi Teknologi Luncurkan .+$", md, re.M)  # the headline
    dateline = re.search(r"^\*\*JAKARTA, (.+?)\*\* – PT Contoh Solusi Teknologi, .+ hari ini meluncurkan", md, re.M)
    assert dateline and dated(dateline.group(0), "id")  # the dateline and lead
    assert re.search(r'^> “.+,” ujar Awang Prasetyo, Sales Executive PT Contoh Solusi Teknologi\.$', md, re.M)
    assert "\n## Tentang PT Contoh Solusi Teknologi\n" in md
    assert "berkantor pusat di Jl. Jend. Sudirman Kav. 52-53, Jakarta Selatan 12190, Indonesia." in md
    assert md.endswith("## Kontak media\n\nAwang Prasetyo, Sales Executive  \nEmail: awang@contoh-solusi.example  \n"
                       "Telepon: +62 21 555 0100\n")  # fmt: skip
    preview = invoke("content", "preview", "press-release-id", "--contact", "sri.rahayu@bankartha.example.co.id",
                     ws=made)  # fmt: skip
    assert preview.stdout.startswith("Subject: Siaran pers: PT Contoh Solusi Teknologi luncurkan layanan jaringan "
                                     "terkelola\n\nYth. Sri Rahayu,\n\nBersama ini kami sampaikan siaran pers")
    assert "{#" not in preview.stdout and "Ganti contoh isi" not in preview.stdout  # the guidance is never sent


def test_a_press_release_in_english(made: Path) -> None:
    md = (made / "campaigns" / "press-release-en.md").read_text()
    assert "lang: en\n" in md and re.search(r"^# PT Contoh Solusi Teknologi Launches .+$", md, re.M)
    dateline = re.search(r"^\*\*JAKARTA, (.+?)\*\* – PT Contoh Solusi Teknologi, .+ today launched", md, re.M)
    assert dateline and dated(dateline.group(0), "en")
    assert re.search(r'^> “.+,” said Awang Prasetyo, Sales Executive at PT Contoh Solusi Teknologi\.$', md, re.M)
    assert "\n## About PT Contoh Solusi Teknologi\n" in md and "\n## Media contact\n" in md


def test_the_other_kinds_use_the_blocks(made: Path) -> None:
    offer = (made / "campaigns" / "product-offer-id.md").read_text()
    assert "| Paket | Isi paket | Harga |\n| --- | --- | ---: |\n" in offer and '!!! note "Masa berlaku"' in offer
    assert "[Minta penawaran resmi](mailto:awang@contoh-solusi.example?subject=" in offer and "){.button}" in offer
    invite = (made / "campaigns" / "event-invitation-en.md").read_text()
    assert '!!! note "Date and venue"' in invite and dated(invite, "en") is False  # three weeks ahead, not today
    assert long_date(date.today() + timedelta(days=21), "en") in invite or \
        long_date(date.today() + timedelta(days=20), "en") in invite  # fmt: skip
    follow = (made / "campaigns" / "follow-up-id.md").read_text()
    assert follow.count("{.button}") == 1 and len(follow.split("---\n", 2)[2]) < 1200  # short, one call to action


def test_refuses_to_overwrite(made: Path) -> None:
    before = (made / "campaigns" / "press-release-id.md").read_text()
    again = invoke("content", "new", "press-release-id", "--kind", "follow-up", ws=made)
    assert again.exit_code == 1
    assert again.stderr == (f"Error: {made / 'campaigns' / 'press-release-id.yaml'} already exists; refusing to "
                            "overwrite it (choose another name)\n")  # fmt: skip
    assert (made / "campaigns" / "press-release-id.md").read_text() == before
    (made / "campaigns" / "fresh.en.md").write_text("---\nsubject: x\n---\nx\n")
    assert invoke("content", "new", "fresh", "--kind", "follow-up", ws=made).exit_code == 1  # its language version
    assert not (made / "campaigns" / "fresh.yaml").exists()


def test_bad_usage(made: Path) -> None:
    assert invoke("content", "new", "x", "--kind", "newsletter", ws=made).exit_code == 2
    assert invoke("content", "new", "x", "--kind", "follow-up", "--lang", "fr", ws=made).exit_code == 2
    unknown = invoke("content", "new", "x", "--kind", "follow-up", "--sender", "nobody", ws=made)
    assert unknown.exit_code == 1 and "unknown sender 'nobody'" in unknown.stderr
    assert not (made / "campaigns" / "x.yaml").exists()
