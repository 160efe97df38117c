"""Which files the writer edits, by what names, and where each is used.

The editor (the team app's ``/app/content/NAME/edit`` and ``/app/blocks/NAME/edit``, the CLI's ``content
history``) names files the way people do: a campaign's content by its name (``promo`` is
``campaigns/promo.md``; ``?lang=en`` its English version ``campaigns/promo.en.md``) and a reusable block by
its name (``salam`` is ``blocks/salam.md``). Every name is checked here, once, before any path is made:
letters, digits, ``- _ .`` in each part, no ``..``, no absolute path, and the file must be a plain file
inside its folder (a link leading elsewhere is refused, so the editor never shows or replaces a file
outside the workspace's content).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from outreach.campaigns.definition import NAME, ContentFiles, load_campaign
from outreach.content.includes import BLOCK_NAME, INCLUDE
from outreach.content.rendering import language_of_file
from outreach.errors import InputError, OutreachError
from outreach.settings import LANGUAGE_NAMES, LANGUAGES
from outreach.settings.workspace import WorkspaceConfig

MAX_NAME = 200


@dataclass(frozen=True)
class Editable:
    """One file the editor opens: its kind (``content`` or ``block``), its name in the app and its path."""

    kind: str
    name: str
    path: Path
    relpath: str  # workspace-relative, with /
    lang: str | None = None  # a language version's (NAME.en.md), else None

    @property
    def exists(self) -> bool:
        return self.path.is_file()

    @property
    def url(self) -> str:
        """The editor's address of this file (under /app)."""
        base = f"/app/{'blocks' if self.kind == 'block' else 'content'}/{self.name}"
        return base + ("/edit?lang=" + self.lang if self.lang else "/edit")

    @property
    def history_url(self) -> str:
        base = f"/app/{'blocks' if self.kind == 'block' else 'content'}/{self.name}/history"
        return base + ("?lang=" + self.lang if self.lang else "")


def _parts(name: str, what: str) -> list[str]:
    """The name's parts, each a plain file or folder name; InputError naming what is wrong otherwise."""
    parts = name.split("/")
    if not name or len(name) > MAX_NAME or name.startswith("/") or "\\" in name or "\0" in name \
            or any(not NAME.match(p) or ".." in p.split(".") for p in parts):  # fmt: skip
        raise InputError(f"{name[:80]!r} is not a {what} name (letters, digits, - _ . and / between folders; "
                         "no .. and no absolute path)")  # fmt: skip
    return parts


def _inside(path: Path, folder: Path, shown: str) -> None:
    """A link (or a folder in the way) leading out of ``folder`` is refused: the editor stays in the workspace."""
    if path.is_symlink() or (path.exists() and not path.is_file()):
        raise InputError(f"{shown} is a link or not a plain file; edit it outside the app")
    real, top = path.resolve(), folder.resolve()
    if not real.is_relative_to(top):
        raise InputError(f"{shown} leads outside {folder.name}/; edit it outside the app")


def content_file(ws: WorkspaceConfig, name: str, lang: str | None = None) -> Editable:
    """The content file the editor opens as ``name`` (``lang``: that language's version, there or not yet).

    Without ``lang``: ``campaigns/NAME.md``; when only language versions exist, the workspace language's;
    a campaign's name whose content file has another name (``launch`` sends ``promo.md``): that file.
    """
    if lang is not None and lang not in LANGUAGES:
        raise InputError(f"{lang[:20]!r} is not a language ({', '.join(LANGUAGES)})")
    parts = _parts(name, "content")
    folder = ws.campaigns_dir
    stem = "/".join(parts)
    if name.endswith(".md"):
        raise InputError(f"{name!r}: name content without .md (campaigns/NAME.md is NAME)")
    base = folder / f"{stem}.md"
    if lang is None:
        found = language_of_file(base)  # a language version named directly: promo.en
        if found is not None:
            stem, lang = stem[: -len(found) - 1], found
    files = ContentFiles.of(folder / f"{stem}.md", ws.settings.language)
    if lang is not None:
        path = folder / f"{stem}.{lang}.md"
    elif files.base.is_file() or files.versions:
        path = files.pick(None) if not files.base.is_file() else files.base
    else:
        path = _campaigns_content(ws, stem) or files.base
    lang = language_of_file(path) if lang is None else lang
    rel = path.relative_to(ws.root).as_posix()
    _inside(path, folder, rel)
    stem = path.relative_to(folder).as_posix().removesuffix(".md")
    if lang is not None:
        stem = stem[: -len(lang) - 1]
    return Editable("content", stem, path, rel, lang)


def _campaigns_content(ws: WorkspaceConfig, name: str) -> Path | None:
    """The content file of campaign ``name``, when its YAML names one (and loads)."""
    if "/" in name or not (ws.campaigns_dir / f"{name}.yaml").is_file():
        return None
    try:
        spec = load_campaign(ws, name)
    except OutreachError:
        return None
    return spec.content_files.pick(None)


def block_file(ws: WorkspaceConfig, name: str) -> Editable:
    """``blocks/NAME.md``: a reusable block (``{% include "blocks/NAME.md" %}``), there or not yet."""
    _parts(name, "block")
    if name.endswith(".md"):
        raise InputError(f"{name!r}: name a block without .md (blocks/NAME.md is NAME)")
    rel = f"blocks/{name}.md"
    if not BLOCK_NAME.match(rel):
        raise InputError(f"{name[:80]!r} is not a block name (letters, digits, - _ and folders)")
    folder = ws.root / "blocks"
    path = ws.root / rel
    _inside(path, folder, rel)
    return Editable("block", name, path, rel)


def editable_at(ws: WorkspaceConfig, relpath: str) -> Editable:
    """The file at a workspace-relative path (``campaigns/promo.en.md``, ``blocks/salam.md``), as the CLI names it."""
    rel = relpath.replace("\\", "/").removeprefix("./")
    if rel.startswith("blocks/") and rel.endswith(".md"):
        return block_file(ws, rel[len("blocks/") : -len(".md")])
    if rel.startswith("campaigns/") and rel.endswith(".md"):
        stem = rel[len("campaigns/") : -len(".md")]
        lang = language_of_file(Path(rel))
        return content_file(ws, stem[: -len(lang) - 1] if lang else stem, lang)
    if rel.endswith(".md") or "/" in rel:
        raise InputError(f"{relpath[:80]!r} is not a file the editor keeps: campaigns/NAME.md or blocks/NAME.md")
    return content_file(ws, rel)


# -- what there is: the content page's list ------------------------------------------------------------


@dataclass(frozen=True)
class ContentRow:
    """One file in a campaign's row: which email of the campaign it is, and in which language."""

    file: Editable
    step: int  # 0: the first email; k: follow-up step k

    @property
    def label(self) -> str:
        what = "first email" if self.step == 0 else f"follow-up {self.step}"
        lang = LANGUAGE_NAMES.get(self.file.lang or "", "")
        return f"{what}, {lang}" if lang else what


@dataclass(frozen=True)
class CampaignContent:
    """A campaign with the content files the writer edits; ``definition`` is the executive's YAML."""

    name: str
    definition: str
    files: tuple[ContentRow, ...] = ()
    languages_missing: tuple[Editable, ...] = ()  # the first email's other language, not written yet
    error: str | None = None


@dataclass(frozen=True)
class BlockRow:
    file: Editable
    used_by: tuple[str, ...] = ()  # campaigns whose content includes it


@dataclass
class Overview:
    campaigns: list[CampaignContent] = field(default_factory=list)
    loose: list[Editable] = field(default_factory=list)  # content files no campaign uses
    blocks: list[BlockRow] = field(default_factory=list)


def overview(ws: WorkspaceConfig) -> Overview:
    """Every campaign's content files (each step's, each language's), the files no campaign uses, and the blocks
    with the campaigns including them. Reads files only: no database, no rendering."""
    out = Overview()
    used: set[Path] = set()
    includes: dict[str, set[str]] = {}
    for name in ws.campaign_names():
        row = _campaign_row(ws, name)
        out.campaigns.append(row)
        for content in row.files:
            used.add(content.file.path)
            for block in included_blocks(content.file.path):
                includes.setdefault(block, set()).add(name)
    folder = ws.campaigns_dir
    for path in sorted(folder.rglob("*.md")) if folder.is_dir() else []:
        if path not in used and not any(p.startswith(".") for p in path.relative_to(folder).parts):
            try:
                out.loose.append(editable_at(ws, path.relative_to(ws.root).as_posix()))
            except OutreachError:
                continue  # a name the editor cannot open (a space in it): the CLI's business
    blocks = ws.root / "blocks"
    for path in sorted(blocks.rglob("*.md")) if blocks.is_dir() else []:
        rel = path.relative_to(ws.root).as_posix()
        try:
            editable = block_file(ws, rel[len("blocks/") : -len(".md")])
        except OutreachError:
            continue
        out.blocks.append(BlockRow(editable, tuple(sorted(includes.get(rel, ())))))
    return out


def _campaign_row(ws: WorkspaceConfig, name: str) -> CampaignContent:
    definition = f"campaigns/{name}.yaml"
    try:
        spec = load_campaign(ws, name)
    except OutreachError as exc:
        return CampaignContent(name, definition, error=exc.message_in(ws.root))
    rows: list[ContentRow] = []
    for k in range(len(spec.file.steps) + 1):
        for path in spec.step_files(k).paths:
            try:
                rows.append(ContentRow(editable_at(ws, path.relative_to(ws.root).as_posix()), k))
            except (OutreachError, ValueError):
                continue
    first = spec.content_files
    missing: list[Editable] = []
    if first.versions and not first.base.is_file():  # bilingual without a fallback file: the language not written
        for lang in LANGUAGES:
            if lang not in first.versions and rows:
                try:
                    missing.append(content_file(ws, rows[0].file.name, lang))
                except OutreachError:
                    continue
    return CampaignContent(name, definition, tuple(rows), tuple(missing))


def included_blocks(path: Path) -> set[str]:
    """The blocks a content file (or a block) names in its includes; an unreadable file names none."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return set()
    return {m.group("name") for m in INCLUDE.finditer(text)}


def campaigns_using(ws: WorkspaceConfig, file: Editable) -> list[str]:
    """The campaigns that send ``file`` (a content file of any step or language, or a block they include)."""
    found = []
    for row in overview(ws).campaigns if file.kind == "block" else (_campaign_row(ws, n) for n in ws.campaign_names()):
        paths = {r.file.path for r in row.files}
        if file.kind == "content":
            stem = file.path.name.removesuffix(".md")
            stem = stem.rsplit(".", 1)[0] if file.lang else stem
            siblings = {file.path.with_name(f"{stem}.md"), *(file.path.with_name(f"{stem}.{x}.md") for x in LANGUAGES)}
            if paths & siblings:
                found.append(row.name)
        elif any(file.relpath in included_blocks(p) for p in paths):
            found.append(row.name)
    return found

