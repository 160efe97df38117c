"""Reusable blocks: ``{% include "blocks/NAME.md" %}`` expanded before Markdown, confined to blocks/,
and every error at the block's own FILE:LINE (lint, build, render)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import invoke, prospects_workspace, write

from outreach.content.includes import BlockLoader
from outreach.content.rendering import read_content
from outreach.errors import TemplateError

SIGNATURE = "Salam hangat,\n\n**{{ sender.name }}**  \n{{ sender.title }}\n"
ABOUT = "## Tentang {{ campaign.name }}\n\nPT Contoh Solusi adalah distributor TI sejak 2009.\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = prospects_workspace(tmp_path / "ws")
    write(root / "blocks" / "signature.md", SIGNATURE)
    write(root / "blocks" / "about.md", ABOUT)
    return root


def campaign(root: Path, body: str) -> Path:
    write(root / "campaigns" / "promo.yaml", "segment: prospects\ncontent: promo.md\nsender: awang\n")
    front = '---\nsubject: "Halo {{ contact.first_name }}"\nlang: id\n---\n'
    return write(root / "campaigns" / "promo.md", front + body)


def test_blocks_are_included_in_every_message(root: Path) -> None:
    campaign(root, 'Yth. {{ contact.first_name }},\n\nIsi.\n\n{% include "blocks/about.md" %}\n\n'
                   '{% include "blocks/signature.md" %}\n')  # fmt: skip
    result = invoke("content", "preview", "promo", "--contact", "ani@alpha.example.com", ws=root)
    assert result.exit_code == 0, result.output
    assert "Tentang promo\n\nPT Contoh Solusi adalah distributor TI sejak 2009.\n\nSalam hangat,\n\n" in result.stdout
    assert "Awang Prasetyo\nSales Executive\n" in result.stdout
    out = root / "p.html"
    assert invoke("content", "preview", "promo", "--out", str(out), ws=root).exit_code == 0
    assert re.search(r"<h2[^>]*>Tentang promo</h2>", out.read_text())  # Markdown of the block, rendered


def test_a_block_may_include_a_block(root: Path) -> None:
    write(root / "blocks" / "footer.md", '{% include "blocks/about.md" %}\n\n{% include "blocks/signature.md" %}\n')
    source = read_content(campaign(root, 'Isi.\n\n{% include "blocks/footer.md" %}\n'))
    assert "PT Contoh Solusi adalah distributor" in source.body and "{{ sender.name }}" in source.body
    assert source.files == (root / "campaigns" / "promo.md", root / "blocks" / "about.md",
                            root / "blocks" / "footer.md", root / "blocks" / "signature.md")  # fmt: skip


def test_lint_points_at_the_blocks_own_file_and_line(root: Path) -> None:
    write(root / "blocks" / "about.md", "## Tentang kami\n\nLihat [profil](profil.html) dan {{ contact.compnay }}.\n")
    campaign(root, 'Isi.\n\n{% include "blocks/about.md" %}\n')
    result = invoke("content", "lint", "promo", ws=root)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "blocks/about.md:3: error: link [profil]: not an http(s), mailto or tel URL (relative links do not work in "
        "email) (profil.html)",
        "blocks/about.md:3: error: undefined variable `contact.compnay` (contact has no field `compnay`); did you "
        "mean `contact.company`? — 4 of 4 contacts: ani@alpha.example.com, budi@beta.example.com, "
        "citra@gamma.example.com and 1 more",
        "Checked 1 campaign: 2 errors, 0 warnings",
    ]


def test_syntax_error_in_a_block_is_reported_there(root: Path) -> None:
    write(root / "blocks" / "signature.md", "Salam,\n\n{{ sender.name }\n")
    campaign(root, 'Isi.\n\n{% include "blocks/signature.md" %}\n')
    result = invoke("content", "lint", "promo", ws=root)
    assert result.stdout.splitlines()[0] == ("blocks/signature.md:3: error: template syntax error in body: "
                                             "unexpected '}'")
    build = invoke("campaign", "build", "promo", ws=root)
    assert build.exit_code == 1
    assert "\n  blocks/signature.md:3: error: template syntax error in body: unexpected '}'\n" in build.stderr


def test_empty_variable_in_a_block_is_counted_there(root: Path) -> None:
    write(root / "blocks" / "greeting.md", "Untuk tim\n{{ contact.title }}:\n")
    campaign(root, 'Isi.\n\n{% include "blocks/greeting.md" %}\n')
    result = invoke("content", "lint", "promo", ws=root)
    assert result.stdout.splitlines()[0].startswith(
        "blocks/greeting.md:2: warning: `contact.title` is empty for 1 of 4 contacts: citra@gamma.example.com")


def test_lines_after_an_include_keep_their_own_numbers(root: Path) -> None:
    campaign(root, '{% include "blocks/about.md" %}\n\nLihat [x](ftp://contoh).\n')
    result = invoke("content", "lint", "promo", ws=root)
    assert result.stdout.splitlines()[0].startswith("campaigns/promo.md:7: error: link [x]: not an http(s)")


@pytest.mark.parametrize(("tag", "why"), [
    ('{% include "blocks/../outreach.yaml" %}', "is not a block name"),
    ('{% include "/etc/passwd" %}', "is not a block name"),
    ('{% include "campaigns/promo.yaml" %}', "is not a block name"),
    ('{% include "blocks/gone.md" %}', "block blocks/gone.md not found"),
    ('{% include "blocks/" ~ contact.custom.region ~ ".md" %}', "write the block's name as a literal"),
    ('{% import "blocks/about.md" as about %}', "{% import %} is not available in content"),
    ('{% extends "blocks/about.md" %}', "{% extends %} is not available in content"),
])  # fmt: skip
def test_includes_stay_inside_blocks(root: Path, tag: str, why: str) -> None:
    path = campaign(root, f"Isi.\n\n{tag}\n")
    with pytest.raises(TemplateError) as caught:
        read_content(path)
    assert (caught.value.path, caught.value.line) == (path, 7)
    assert why in caught.value.detail


def test_a_link_out_of_blocks_is_refused(root: Path, tmp_path: Path) -> None:
    write(tmp_path / "secret.md", "rahasia\n")
    (root / "blocks" / "leak.md").symlink_to(tmp_path / "secret.md")
    path = campaign(root, 'Isi.\n\n{% include "blocks/leak.md" %}\n')
    with pytest.raises(TemplateError, match="leads outside blocks/"):
        read_content(path)
    with pytest.raises(Exception, match="leads outside blocks/"):
        BlockLoader(root).resolve("blocks/leak.md")


def test_a_block_that_includes_itself(root: Path) -> None:
    write(root / "blocks" / "a.md", '{% include "blocks/b.md" %}\n')
    write(root / "blocks" / "b.md", 'B\n\n{% include "blocks/a.md" %}\n')
    path = campaign(root, '{% include "blocks/a.md" %}\n')
    with pytest.raises(TemplateError) as caught:
        read_content(path)
    assert caught.value.path == root / "blocks" / "b.md" and caught.value.line == 3
    assert "includes itself (promo.md -> a.md -> b.md -> a.md)" in caught.value.detail
