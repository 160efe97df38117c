"""Raw HTML in the Markdown: an unclosed or unbalanced tag is an error at its line, for lint, build and send.

The example of the issue: ``<div style="color:#777"><b>Penting ...`` with no
closing tags turned everything after it into one bold grey block, with raw
``#``, ``**`` and ``>`` showing, while lint said "0 errors".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SendWorkspace, invoke, prospects_workspace, write

from outreach.content.htmlcheck import unbalanced_tags

WRECKED = """\
---
subject: "Halo {{ contact.first_name }}"
---
Yth. {{ contact.full_name }},

<div style="color:#777"><b>Penting: harga berlaku sampai 31 Desember.

## Paket jaringan

**Wi-Fi 6** dan firewall untuk {{ contact.company }}.

> Dukungan 3 tahun.
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = prospects_workspace(tmp_path / "ws")
    write(root / "campaigns" / "promo.yaml", "segment: prospects\ncontent: promo.md\nsender: awang\n")
    return root


def lint(root: Path, body: str) -> tuple[int, list[str], str]:
    write(root / "campaigns" / "promo.md", f'---\nsubject: "Halo"\n---\n{body}')
    result = invoke("content", "lint", "promo", ws=root)
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_the_issues_unclosed_div_and_bold_are_errors_at_their_line(root: Path) -> None:
    write(root / "campaigns" / "promo.md", WRECKED)
    result = invoke("content", "lint", "promo", ws=root)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "campaigns/promo.md:6: error: unbalanced HTML: <div> is never closed; add </div> where it should end "
        "(everything after it is inside it)",
        "campaigns/promo.md:6: error: unbalanced HTML: <b> is never closed; add </b> where it should end "
        "(everything after it is inside it)",
        # the grey of the issue, which is also just under WCAG AA: the real ratio, not a rounded "4.5:1"
        "campaigns/promo.md:6: warning: text colour #777777 on #ffffff has a contrast of 4.48:1, under WCAG AA's "
        '4.5:1 for normal text ("Penting: harga berlaku sampai 31 Desemb…")',
        "Checked 1 campaign: 2 errors, 1 warning",
    ]
    assert result.stderr == "Error: content lint found 2 error(s), the first at campaigns/promo.md, line 6\n"


def test_build_refuses_the_content_and_queues_nothing(root: Path) -> None:
    write(root / "campaigns" / "promo.md", WRECKED)
    result = invoke("campaign", "build", "promo", ws=root)
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (  # the lint's errors, each with its file and line, as the app shows them too
        "Error: campaign promo was not built: its content has 2 lint errors; nothing was written. Fix them and "
        "build again:\n"
        "  campaigns/promo.md:6: error: unbalanced HTML: <div> is never closed; add </div> where it should end "
        "(everything after it is inside it)\n"
        "  campaigns/promo.md:6: error: unbalanced HTML: <b> is never closed; add </b> where it should end "
        "(everything after it is inside it)\n"
    )
    assert "has not been built yet" in invoke("campaign", "status", "promo", ws=root).stderr


def test_send_refuses_content_broken_after_the_build(send_ws: SendWorkspace) -> None:
    """Built while the content was fine, then edited: the send stops before a single message leaves."""
    assert send_ws.run("campaign", "build", "promo").exit_code == 0
    path = send_ws.root / "campaigns" / "promo.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n<span><i>Salam</span>\n", encoding="utf-8")
    result = send_ws.run("campaign", "send", "promo", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (f"Error: {path}, line 15: unbalanced HTML: <i> is not closed before </span> on line "
                             "15; add </i> before it\n")
    assert send_ws.server.received == []
    assert '"queued": 4' in send_ws.run("campaign", "status", "promo", "--json").stdout


@pytest.mark.parametrize(("body", "expected"), [
    ("Teks <b>tebal\n\nlanjut</b> di sini.\n",
     ["campaigns/promo.md:4: error: unbalanced HTML: <b> is not closed in its paragraph (the blank line 5 ends "
      "it); add </b> before it"]),
    ("Satu.\n\n</div>\n",
     ["campaigns/promo.md:6: error: unbalanced HTML: </div> closes nothing: no <div> is open before it; remove it "
      "or add the <div> it should close"]),
    ("Ini <b><i>miring</b></i>.\n",
     ["campaigns/promo.md:4: error: unbalanced HTML: <i> is not closed before </b> on line 4; add </i> before it"]),
])  # fmt: skip
def test_other_unbalanced_tags(root: Path, body: str, expected: list[str]) -> None:
    code, out, _ = lint(root, body)
    assert (code, out[:-1]) == (1, expected)


def test_balanced_html_void_elements_and_what_is_not_html_pass(root: Path) -> None:
    body = (
        '<div style="background:#eef4fb;padding:12px">\n'  # a raw HTML block across Markdown lines and blank lines
        "<b>Penting:</b> harga berlaku<br>sampai 31 Desember.<br/>\n\n"
        '<img src="https://contoh-solusi.example/logo.png" alt="Logo" width="120">\n'
        "</div>\n\n"
        "<table><tr>\n<td>Paket A<td>Rp 10 jt\n</tr></table>\n\n"  # <td> and <tr> close as browsers close them
        "Teks <span style=\"color:#0b5cab\">biru\nmelintasi baris</span> dalam satu paragraf.<hr>\n\n"
        "Bukan HTML: `<div>` dalam kode, \\<b> yang di-escape, <https://contoh-solusi.example/a?b=1>, "
        "<sales@contoh-solusi.example>, 3 < 4, {{ '<b>' }}.\n\n"
        "```\n<div>\n```\n"
    )
    assert lint(root, body) == (0, ["Checked 1 campaign: 0 errors, 0 warnings"], "")


def test_an_unclosed_tag_in_an_included_block_is_reported_at_the_blocks_line(root: Path) -> None:
    write(root / "blocks" / "ttd.md", "Salam,\n\n<p><strong>{{ sender.name }}\n")
    code, out, _ = lint(root, 'Isi.\n\n{% include "blocks/ttd.md" %}\n')
    assert (code, out) == (1, [
        "blocks/ttd.md:3: error: unbalanced HTML: <strong> is never closed; add </strong> where it should end "
        "(everything after it is inside it)",
        "Checked 1 campaign: 1 error, 0 warnings",
    ])  # fmt: skip


def test_the_checker_counts_lines_from_the_bodys_first() -> None:
    problems = unbalanced_tags("a\n\n<section>\n<em>x\n</section>\n")
    assert [(p.line, p.message()) for p in problems] == [
        (4, "<em> is not closed before </section> on line 5; add </em> before it")]
