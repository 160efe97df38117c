"""`outreach content lint`: every content problem with file and line; exit 1 only on errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import CONTACT_HEADER, CONTACT_ROWS, invoke, prospects_workspace, write, write_csv

from outreach.content import rendering
from outreach.settings.workspace import init_workspace
from outreach.studio.lint import all_caps, has_link, spam_hits, url_problem

PROSPECTS = "ani@alpha.example.com, budi@beta.example.com, citra@gamma.example.com"
CLEAN = "Checked 1 campaign: 0 errors, 0 warnings\n"
HINT = " (a phrase-list hint; --spam asks SpamAssassin)"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The example workspace with the six known contacts (four prospects) imported."""
    return prospects_workspace(tmp_path / "ws")


def campaign(root: Path, md: str, name: str = "promo", extra: str = "") -> None:
    write(root / "campaigns" / f"{name}.md", md)
    write(root / "campaigns" / f"{name}.yaml", f"segment: prospects\ncontent: {name}.md\nsender: awang\n{extra}")


def lint(root: Path, *names: str) -> tuple[int, list[str], str]:
    result = invoke("content", "lint", *names, ws=root)
    return result.exit_code, result.stdout.splitlines(), result.stderr


def md(body: str, subject: str = "Halo {{ contact.first_name }}", front: str = "") -> str:
    return f'---\nsubject: "{subject}"\n{front}---\n{body}'


# -- the examples ---------------------------------------------------------------------


def test_the_example_campaigns_lint_clean(root: Path) -> None:
    code, out, err = lint(root)
    assert (code, out, err) == (0, ["Checked 2 campaigns: 0 errors, 0 warnings"], "")


def test_without_contacts_the_examples_are_checked_with_a_placeholder(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    init_workspace(root)
    code, out, _ = lint(root)
    assert code == 0
    assert out == [
        "campaigns/solusi-jaringan.yaml: warning: segment jakarta-prospects has no contacts; personalisation "
        "was checked with a placeholder contact only (import contacts to check real data)",
        "campaigns/year-end-licensing.yaml: warning: segment existing-customers has no contacts; personalisation "
        "was checked with a placeholder contact only (import contacts to check real data)",
        "Checked 2 campaigns: 0 errors, 2 warnings",
    ]


def test_a_clean_campaign(root: Path) -> None:
    campaign(root, md("Yth. {{ contact.full_name }}, lihat [katalog](https://example.com/k?c={{ campaign.name }})."))
    assert lint(root, "promo") == (0, [CLEAN.strip()], "")


# -- errors ---------------------------------------------------------------------------------


def test_template_syntax_error_names_file_and_line(root: Path) -> None:
    campaign(root, md("Line one\n\nHalo {{ contact.first_name }\n"))
    code, out, err = lint(root, "promo")
    assert code == 1
    assert out == [
        "campaigns/promo.md:6: error: template syntax error in body: unexpected '}'",
        "Checked 1 campaign: 1 error, 0 warnings",
    ]
    assert err == "Error: content lint found 1 error(s), the first at campaigns/promo.md, line 6\n"


def test_undefined_variable_is_tried_against_every_contact(root: Path, tmp_path: Path) -> None:
    """Only the contacts without the custom column fail; the first few are named."""
    rows = [[*r, "120" if r[0].startswith(("ani", "dedi")) else ""] for r in CONTACT_ROWS]
    csv = write_csv(tmp_path / "emp.csv", [*CONTACT_HEADER, "employees"], rows)
    assert invoke("contacts", "import", str(csv), ws=root).exit_code == 0
    campaign(root, md("Halo {{ contact.first_name }},\n\n{{ contact.custom.employees }} karyawan.\n"
                      "{{ contact.nickname }}\n"))  # fmt: skip
    code, out, _ = lint(root, "promo")
    assert code == 1
    assert out == [
        "campaigns/promo.md:6: error: undefined variable `contact.custom.employees` (no `employees` value for this "
        'contact; write `{{ contact.custom.employees | default("...") }}` where some have none) — 3 of 4 contacts: '
        "budi@beta.example.com, citra@gamma.example.com, fajar@zeta.example.com",
        # rendering stops at a contact's first problem: the others were reported for employees
        "campaigns/promo.md:7: error: undefined variable `contact.nickname` (contact has no field `nickname`) "
        "— 1 of 4 contacts: ani@alpha.example.com",
        "Checked 1 campaign: 2 errors, 0 warnings",
    ]


def test_undefined_variable_in_a_subject_variant(root: Path) -> None:
    front = 'variants:\n  - "Hai {{ contact.frist_name }}"\n'
    campaign(root, md("Halo.\n", front=front))
    code, out, _ = lint(root, "promo")
    assert code == 1
    assert out[0] == (
        "campaigns/promo.md:4: error: undefined variable `contact.frist_name` (contact has no field `frist_name`); "
        f"did you mean `contact.first_name`? — 4 of 4 contacts: {PROSPECTS} and 1 more"
    )


def test_broken_links(root: Path) -> None:
    body = (
        "[empty]() and [relative](/harga) and [var]({{ contact.custom.region }}) and "
        "[ok](mailto:sales@example.com) [tel](tel:+62215550100)\n"
        "\n"
        "See [the page][nowhere], [the catalogue][cat] and [Cat][].\n"
        "\n"
        "[cat]: https://example.com/catalogue\n"
        "[bad]: www.example.com\n"
        "\n"
        '<a href="">raw</a> <a href="https://example.com/{{ campaign.name }}">raw ok</a>\n'
        "\n"
        "`[not](a-link)`\n"
        "\n"
        "```\n[nor](this)\n```\n"
        "[no host](https://)\n"
    )
    campaign(root, md(body))
    code, out, _ = lint(root, "promo")
    assert code == 1
    assert out == [
        "campaigns/promo.md:4: error: link [empty]: empty URL",
        "campaigns/promo.md:4: error: link [relative]: not an http(s), mailto or tel URL (relative links do "
        "not work in email) (/harga)",
        "campaigns/promo.md:6: error: reference link [the page][nowhere]: no definition [nowhere]: URL in the file",
        "campaigns/promo.md:9: error: link definition [bad]: not an http(s), mailto or tel URL (relative links "
        "do not work in email) (www.example.com)",
        "campaigns/promo.md:11: error: <a> link: empty URL",
        "campaigns/promo.md:18: error: link [no host]: no host name (https://)",
        "Checked 1 campaign: 6 errors, 0 warnings",
    ]


def test_missing_unsubscribe_link_is_an_error(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout adds it; lint checks the finished HTML really links the recipient's own URL."""
    original = rendering._package_text

    def layout(name: str) -> str:
        text = original(name)
        return text.replace('href="{{ unsubscribe_url }}"', 'href="https://example.com/"') if name == "layout.html" \
            else text  # fmt: skip

    monkeypatch.setattr(rendering, "_package_text", layout)
    campaign(root, md("Halo.\n"))
    code, out, _ = lint(root, "promo")
    assert code == 1
    assert out[0].startswith(
        "campaigns/promo.md: error: the HTML for ani@alpha.example.com has no link to its unsubscribe URL "
        "http://127.0.0.1:8025/u/"
    )


def test_has_link_compares_the_unescaped_href() -> None:
    html = '<p><a href="https://x.example/u/1-2-a&amp;b">Unsubscribe</a></p>'
    assert has_link(html, "https://x.example/u/1-2-a&b")
    assert not has_link(html, "https://x.example/u/1-2-a")
    assert not has_link("<p>https://x.example/u/1-2-a&amp;b</p>", "https://x.example/u/1-2-a&b")


def test_broken_campaign_file_and_missing_step_content(root: Path) -> None:
    write(root / "campaigns" / "a.yaml", "segment: prospects\ncontent: a.md\nsender: nobody\n")
    campaign(root, md("Halo.\n"), name="b", extra="steps:\n  - after: 3 business days\n    content: b-2.md\n")
    code, out, _ = lint(root)
    assert code == 1
    assert out == [
        "campaigns/a.yaml:3: error: unknown sender 'nobody' (senders: awang, sari)",
        "campaigns/b.yaml:6: error: step 1: content file b-2.md not found",
        "Checked 4 campaigns: 2 errors, 0 warnings",
    ]


def test_follow_up_step_content_is_linted_too(root: Path) -> None:
    campaign(root, md("Halo.\n"), extra="steps:\n  - after: 3 business days\n    content: promo-2.md\n")
    write(root / "campaigns" / "promo-2.md", md("Lagi: {{ contact.foo }}\n"))
    code, out, _ = lint(root, "promo")
    assert code == 1
    assert out[0].startswith("campaigns/promo-2.md:4: error: undefined variable `contact.foo` ")


def test_unknown_campaign_is_a_user_error(root: Path) -> None:
    code, out, err = lint(root, "nope")
    assert code == 1
    assert out == []
    assert err.startswith("Error: campaign 'nope' not found")


def test_missing_segment_points_at_the_campaign_file(root: Path) -> None:
    write(root / "campaigns" / "promo.md", md("Halo.\n"))
    write(root / "campaigns" / "promo.yaml", "content: promo.md\nsender: awang\nsegment: gone\n")
    code, out, _ = lint(root, "promo")
    assert code == 1
    assert out[0].startswith("campaigns/promo.yaml: error: segment 'gone' not found")


# -- warnings only: exit 0 -------------------------------------------------------------------


def test_warnings_alone_exit_zero(root: Path) -> None:
    subject = "{{ contact.company }}: penawaran jaringan, firewall, Wi-Fi 6 dan dukungan tiga tahun penuh"
    front = ('variants:\n  - "PENAWARAN TERBAIK UNTUK ANDA"\n  - "Hadiah untuk {{ contact.first_name }}!!!"\n'
             'preheader: "Act now"\n')  # fmt: skip
    body = "Klik di sini untuk penawaran gratis 100%, dijamin tanpa risiko.\n\n![](https://example.com/a.png)\n"
    campaign(root, md(body, subject=subject, front=front))
    code, out, err = lint(root, "promo")
    assert (code, err) == (0, "")
    assert out == [
        'campaigns/promo.md:2: warning: subject is 84 characters for ani@alpha.example.com (inboxes cut it off '
        "after about 78): 'PT Alpha Teknik: penawaran jaringan, firewall, Wi-Fi 6 dan dukungan tiga tahun penuh'",
        "campaigns/promo.md:4: warning: subject variant 2 is in capitals, which reads as shouting and spam "
        "filters score",
        f'campaigns/promo.md:5: warning: subject variant 3: spam-trigger phrase "hadiah"{HINT}',
        "campaigns/promo.md:5: warning: subject variant 3: many exclamation marks ('!!!') look like spam",
        f'campaigns/promo.md:6: warning: preheader: spam-trigger phrase "act now"{HINT}',
        f'campaigns/promo.md:8: warning: body: spam-trigger phrase "gratis 100%"{HINT}',
        f'campaigns/promo.md:8: warning: body: spam-trigger phrase "klik di sini"{HINT}',
        f'campaigns/promo.md:8: warning: body: spam-trigger phrase "dijamin"{HINT}',
        f'campaigns/promo.md:8: warning: body: spam-trigger phrase "tanpa risiko"{HINT}',
        "campaigns/promo.md:10: warning: image https://example.com/a.png has no alt text (most mail apps block "
        "images at first)",
        "campaigns/promo.md:10: warning: image https://example.com/a.png has no width; Outlook shows it at its "
        "full size: add {width=600} (pixels) right after it",
        "Checked 1 campaign: 0 errors, 11 warnings",
    ]


def test_heavy_message_is_a_warning(root: Path) -> None:
    paragraph = "Jaringan kantor yang cepat dan aman untuk {{ contact.company }}. " * 20
    campaign(root, md("\n\n".join([paragraph] * 90)))
    code, out, _ = lint(root, "promo")
    assert code == 0
    assert len(out) == 2
    assert out[0].startswith("campaigns/promo.md: warning: the message is ")
    assert out[0].endswith(" KB for ani@alpha.example.com; over 100 KB Gmail clips it and hides the footer")


# -- the building blocks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://example.com/x", None),
        ("HTTP://EXAMPLE.COM", None),
        ("mailto:a@example.com", None),
        ("tel:+62215550100", None),
        ("\x1a\x1a\x1a", None),
        ("", "empty URL"),
        ("https:///path", "no host name"),
        ("/relative", "not an http(s), mailto or tel URL (relative links do not work in email)"),
        ("javascript:alert(1)", "not an http(s), mailto or tel URL (relative links do not work in email)"),
    ],
)
def test_url_problem(url: str, problem: str | None) -> None:
    assert url_problem(url) == problem


def test_spam_phrases_match_whole_words_in_both_languages() -> None:
    assert spam_hits("We have a WINNER, act now!!!") == ["act now", "winner", "!!!"]
    assert spam_hits("Mohon segera dibalas; hadiah menanti") == ["segera", "hadiah"]
    assert spam_hits("winners of the reactor act nowhere, clicker here") == []


def test_all_caps_subjects() -> None:
    assert all_caps("DISKON BESAR AKHIR TAHUN")
    assert all_caps("{{ contact.first_name }}, DISKON BESAR AKHIR TAHUN")
    assert not all_caps("Diskon PT ABC untuk Anda")
    assert not all_caps("IT OK")
