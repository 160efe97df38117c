"""Reusable blocks: ``{% include "blocks/NAME.md" %}`` in content, expanded before Markdown runs.

A block is Markdown (with jinja tags of its own) that many campaigns share: a
signature, an "about us", a legal line. Rendering compiles Markdown once per
campaign with jinja tags swapped for inert tokens, so an include cannot wait
for jinja to run it at render time: its text would arrive after Markdown and
stay raw. Instead each include is replaced by the block's text first, and a
line map remembers where every line of the result came from, so an error in a
block points at ``blocks/NAME.md:LINE``, not at the campaign.

The names go through a jinja loader confined to the workspace's ``blocks/``
folder: a literal ``blocks/NAME.md`` only, no ``..``, no absolute path, and
the file's real path (symlinks resolved) must still be inside ``blocks/``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from jinja2 import BaseLoader, Environment, TemplateNotFound

from outreach.errors import TemplateError

INCLUDE = re.compile(
    r"""\{%-?\s*include\s+(?P<q>["'])(?P<name>[^"'\n]*)(?P=q)\s*(?:ignore\s+missing\s*)?"""
    r"""(?:(?:with|without)\s+context\s*)?-?%\}"""
)
_LOADING_TAG = re.compile(r"\{%-?\s*(include|import|from|extends)\b")
BLOCK_NAME = re.compile(r"^blocks/(?:[A-Za-z0-9][A-Za-z0-9_.-]*/)*[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*\.md$")
MAX_DEPTH = 8  # blocks may include blocks, this deep


Drafts = Mapping[Path, str]  # text not saved yet, by resolved path: read in place of the file (the editor's preview)


def draft_of(drafts: Drafts | None, path: Path) -> str | None:
    """The unsaved text standing in for ``path``, if the editor has one (BOM dropped, line ends as LF)."""
    if not drafts:
        return None
    text = drafts.get(path.resolve())
    return None if text is None else text.removeprefix("\ufeff").replace("\r\n", "\n")


class BlockLoader(BaseLoader):
    """jinja's loader interface over ``ROOT/blocks``, and nothing outside it; ``drafts`` stand in for
    saved blocks (the same name checks apply: a draft never opens a path the files would not)."""

    def __init__(self, root: Path, drafts: Drafts | None = None) -> None:
        self.root = root
        self.folder = root / "blocks"
        self.drafts = drafts

    def resolve(self, name: str) -> Path:
        """The block file ``name`` names; ``TemplateNotFound`` (with the reason) when it may not be read."""
        if not BLOCK_NAME.match(name) or ".." in name.split("/"):
            raise TemplateNotFound(name, f'"{name}" is not a block name: write "blocks/NAME.md" (letters, '
                                         "digits, - _ . and subfolders; nothing outside blocks/)")  # fmt: skip
        path = self.root / name
        try:
            real, folder = path.resolve(strict=True), self.folder.resolve(strict=True)
        except (FileNotFoundError, RuntimeError):
            raise TemplateNotFound(name, f"block {name} not found: create {path}") from None
        if not real.is_relative_to(folder) or not folder.is_relative_to(self.root.resolve()):
            raise TemplateNotFound(name, f"block {name} leads outside blocks/ (a link to {real}); "
                                         "copy the file into blocks/ instead")  # fmt: skip
        if not real.is_file():
            raise TemplateNotFound(name, f"block {name} is not a file")
        return path

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        path = self.resolve(template)
        draft = draft_of(self.drafts, path)
        if draft is not None:
            return draft, str(path), lambda: False
        try:
            text = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n")
        except UnicodeDecodeError as exc:
            raise TemplateNotFound(template, f"block {template} is not UTF-8 text ({exc.reason})") from None
        mtime = path.stat().st_mtime_ns
        return text, str(path), lambda: path.is_file() and path.stat().st_mtime_ns == mtime


@dataclass(frozen=True)
class Line:
    text: str
    path: Path
    line: int


def loads_templates(text: str) -> bool:
    """Whether ``text`` has an include (or an import, from, extends) to expand or refuse."""
    return _LOADING_TAG.search(text) is not None


def expand_includes(text: str, path: Path, first_line: int, loader: BlockLoader | None) -> list[Line]:
    """``text`` (starting at ``path``:``first_line``) with every include replaced by its block, line by line."""
    return _expand(text, path, first_line, loader, (path,))


def _expand(text: str, path: Path, first_line: int, loader: BlockLoader | None,
            stack: tuple[Path, ...]) -> list[Line]:  # fmt: skip
    out: list[Line] = []
    for i, line in enumerate(text.split("\n")):
        lineno = first_line + i
        found = list(INCLUDE.finditer(line))
        if not found:
            _no_other_loading(line, path, lineno)
            out.append(Line(line, path, lineno))
            continue
        pending, where, pos = "", (path, lineno), 0
        for m in found:
            _no_other_loading(line[pos : m.start()], path, lineno)
            pending += line[pos : m.start()]
            block = _block(m.group("name"), path, lineno, loader, stack)
            if block:
                first = block[0]
                block[0] = Line(pending + first.text, first.path, first.line)
                out += block[:-1]
                pending, where = block[-1].text, (block[-1].path, block[-1].line)
            pos = m.end()
        _no_other_loading(line[pos:], path, lineno)
        out.append(Line(pending + line[pos:], *where))
    return out


def _block(name: str, path: Path, lineno: int, loader: BlockLoader | None, stack: tuple[Path, ...]) -> list[Line]:
    if loader is None:
        raise TemplateError(f'include "{name}": blocks can only be included by content in a workspace',
                            path=path, line=lineno)  # fmt: skip
    if len(stack) > MAX_DEPTH:
        raise TemplateError(f'include "{name}": blocks nested more than {MAX_DEPTH} deep', path=path, line=lineno)
    try:
        text, filename, _ = loader.get_source(Environment(), name)
    except TemplateNotFound as exc:
        raise TemplateError(f"include: {exc.message}", path=path, line=lineno) from None
    block_path = Path(filename)
    if block_path in stack:
        chain = " -> ".join(p.name for p in (*stack, block_path))
        raise TemplateError(f'include "{name}" includes itself ({chain})', path=path, line=lineno)
    return _expand(text.rstrip("\n"), block_path, 1, loader, (*stack, block_path))


def _no_other_loading(text: str, path: Path, lineno: int) -> None:
    """An include with a computed name, ``import``, ``from`` or ``extends`` would reach outside the content."""
    m = _LOADING_TAG.search(text)
    if m is not None:
        what = m.group(1)
        hint = ('write the block\'s name as a literal: {% include "blocks/NAME.md" %}' if what == "include"
                else 'share text with {% include "blocks/NAME.md" %} instead')  # fmt: skip
        raise TemplateError(f"{{% {what} %}} is not available in content; {hint}", path=path, line=lineno)
