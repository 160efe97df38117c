"""The documentation reads as written: every code fence closes, every relative link (and #anchor) leads
somewhere, the README stays a short user's guide, and the command reference matches the commands.

Checked: README.md, content/README.md (the example workspace's) and every docs/*.md.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from commands_doc import reference

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", REPO / "content" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MAX_README_LINES = 400
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REPO_PATH = re.compile(r"`((?:outreach|tests|bench|content|docs)/[\w./-]+\.(?:py|md|yaml|csv|js|css|html))`")


def _id(doc: Path) -> str:
    return doc.relative_to(REPO).as_posix()


def fences(text: str) -> list[tuple[int, int | None]]:
    """(opening line, closing line or None) of each fenced code block, as CommonMark reads them: a fence closes
    with the same character, at least as long, and nothing after it."""
    return _read_fences(text)[0]


def fence_problems(text: str) -> list[str]:
    """A fence that never closes; and, inside a block, a fence line with text after it: CommonMark reads that as
    code, not as the end the writer meant (the README's old line 222, "``` Templates run…", which put the next
    heading in a code block while every fence still seemed to pair up)."""
    blocks, suspects = _read_fences(text)
    return ([f"the code fence opened on line {start} never closes" for start, end in blocks if end is None]
            + [f"line {n} looks like the end of the fence opened on line {start}, but text follows it on the "
               "line, so the block goes on" for start, n in suspects])  # fmt: skip


def _read_fences(text: str) -> tuple[list[tuple[int, int | None]], list[tuple[int, int]]]:
    found: list[tuple[int, int | None]] = []
    suspects: list[tuple[int, int]] = []
    opened: tuple[int, str] | None = None
    for n, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if m is None:
            continue
        mark, rest = m.group(1), m.group(2)
        if opened is None:
            if not (mark[0] == "`" and "`" in rest):
                opened = (n, mark)
        elif mark[0] == opened[1][0] and len(mark) >= len(opened[1]):
            if not rest.strip():
                found.append((opened[0], n))
                opened = None
            elif not re.fullmatch(r"[\w+-]+", rest.strip()):  # "```sh" inside a block may be an example of one
                suspects.append((opened[0], n))
    if opened is not None:
        found.append((opened[0], None))
    return found, suspects


def prose(text: str) -> str:
    """The text outside code blocks and code spans: where a link is a link."""
    lines = text.splitlines()
    for start, end in fences(text):
        for i in range(start - 1, (end or len(lines))):
            lines[i] = ""
    return re.sub(r"`[^`\n]*`", "", "\n".join(lines))


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"`", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(doc: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in prose(doc.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_every_code_fence_closes(doc: Path) -> None:
    assert fence_problems(doc.read_text(encoding="utf-8")) == [], _id(doc)


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_every_relative_link_leads_somewhere(doc: Path) -> None:
    broken = []
    for target in _LINK.findall(prose(doc.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
            continue
        path, _, fragment = target.partition("#")
        dest = (doc.parent / path).resolve() if path else doc
        if not dest.exists():
            broken.append(f"{target} (no file {dest.relative_to(REPO) if dest.is_relative_to(REPO) else dest})")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target} (no heading #{fragment} in {_id(dest)})")
    assert broken == [], f"{_id(doc)} links to: " + "; ".join(broken)


@pytest.mark.parametrize("doc", DOCS, ids=_id)
def test_every_repository_path_named_exists(doc: Path) -> None:
    missing = [p for p in _REPO_PATH.findall(doc.read_text(encoding="utf-8")) if not (REPO / p).exists()]
    assert missing == [], f"{_id(doc)} names files the repository does not have: {missing}"


def test_the_readme_is_a_short_users_guide() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_README_LINES
    assert "make demo" in text and "make test" in text  # the two set-up commands
    for doc in sorted((REPO / "docs").glob("*.md")):  # every page of docs/ is reachable from it
        assert f"](docs/{doc.name})" in text, f"README.md does not link docs/{doc.name}"


def test_the_command_reference_matches_the_commands() -> None:
    written = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    assert written == reference(), "stale: .venv/bin/python tests/commands_doc.py > docs/commands.md"


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    assert fences("a\n```yaml\nx: 1\n``` text after it\nb\n") == [(2, None)]
    old = "```yaml\nrequire: [a]\n``` Templates run in jinja2's sandbox;\n\n### Studio\n\n```sh\nx\n```\n"
    assert fence_problems(old) == ["line 3 looks like the end of the fence opened on line 1, but text follows it on "
                                   "the line, so the block goes on"]  # the README's old line 222, though all pairs up
    assert fences("````md\n```\n````\n~~~\n~~~\n") == [(1, 3), (4, 5)]
    assert slug("The writer: edit and preview what recipients get") == "the-writer-edit-and-preview-what-recipients-get"
    assert prose("see [a](x.md) and `[b](y.md)`\n```\n[c](z.md)\n```\n").count("](") == 1
