"""Campaign content: Markdown + front matter compiled once, personalised per recipient.

Pure: strings in, strings out; no database, no network.

Compile (once per campaign): the jinja tags of the Markdown are swapped for
inert tokens, the Markdown becomes HTML, the package layout wraps it,
premailer inlines the CSS, and the tokens are swapped back. The result is one
sandboxed jinja template for the HTML part, one for the text part and one for
the subject. Per recipient only those templates run, with HTML autoescaping
of everything that comes from the contact.

Swapping the tags out first matters: Markdown would treat ``_`` inside
``{{ contact.first_name }}`` as emphasis, and premailer rewrites and escapes
URLs, which would break ``href="...{{ campaign.name }}"``. For the same reason
``{% include "blocks/NAME.md" %}`` is expanded before Markdown (includes.py),
with a line map so errors still name the block's own file and line.

Before the layout, the writer's building blocks (buttons, images, callouts,
tables: blocks.py) become email-safe tables with the theme's colours; local
images become inline parts of the message (images.py).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import markdown
from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.exceptions import SecurityError, TemplateRuntimeError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup
from premailer import Premailer

from outreach.content.blocks import EmailBlocks, ImageError
from outreach.content.htmlcheck import unbalanced_tags
from outreach.content.images import InlineImage, is_local, load_image
from outreach.content.includes import BlockLoader, Drafts, draft_of, expand_includes, loads_templates
from outreach.content.links import rewrite_links
from outreach.content.problems import Variable, explain, output_variables
from outreach.content.tags import TAG, TOKEN, TOKEN_PATTERN, token, token_index
from outreach.content.text import text_alternative
from outreach.errors import ConfigError, TemplateError
from outreach.settings.config import Theme
from outreach.settings.yamlfile import load_yaml, read_text_file

FRONT_KEYS = ("subject", "preheader", "lang", "variants")
DEFAULT_THEME = Theme()
LABELS = {
    "en": ("Unsubscribe", "You receive this email because we believe it is relevant to your work."),
    "id": (
        "Berhenti berlangganan",
        "Anda menerima email ini karena kami menilai informasi ini relevan dengan pekerjaan Anda.",
    ),
}


@dataclass(frozen=True)
class ContentSource:
    """A campaign's .md file, split and checked."""

    path: Path
    subject: str
    preheader: str
    lang: str
    body: str
    body_line: int  # 1-based line of the body's first line in the file
    variants: tuple[str, ...] = ()
    # 1-based file lines of the front matter values, for errors that point at them
    subject_line: int = 1
    preheader_line: int = 1
    variant_lines: tuple[int, ...] = ()
    # with includes: where each line of ``body`` came from (file, line); empty: all from ``path``
    line_map: tuple[tuple[Path, int], ...] = ()

    def line_of(self, what: str, index: int = 0) -> int:
        """The file line of ``subject``, ``preheader`` or ``variant`` number ``index``."""
        if what == "variant":
            return self.variant_lines[index] if index < len(self.variant_lines) else 1
        return self.preheader_line if what == "preheader" else self.subject_line

    def locate(self, line: int) -> tuple[Path, int]:
        """(file, line) of a line counted as if the body were written in this file: a line that came
        from an included block is that block's own file and line."""
        index = line - self.body_line
        if self.line_map and 0 <= index < len(self.line_map):
            return self.line_map[index]
        return self.path, line

    def at(self, line: int | None) -> dict[str, Any]:
        """``locate`` as an error's fields: ``TemplateError(detail, **source.at(line))``."""
        if line is None:
            return {"path": self.path, "line": None}
        path, where = self.locate(line)
        return {"path": path, "line": where}

    @property
    def files(self) -> tuple[Path, ...]:
        """This file and every block it includes: what an edit of changes the message."""
        return tuple(dict.fromkeys((self.path, *(p for p, _ in self.line_map))))


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class Organization:
    __template_fields__ = frozenset({"name", "address"})
    name: str
    address: str


class _Sandbox(ImmutableSandboxedEnvironment):
    """jinja's sandbox, with an allow-list for the data views templates are given.

    A type that declares ``__template_fields__`` exposes exactly those names and
    nothing else (no methods, no dunders); the check is also much cheaper than
    the generic one, which matters once per attribute per recipient.
    """

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        fields = _template_fields(obj)
        if fields is not None:
            return attr in fields
        return super().is_safe_attribute(obj, attr, value)

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``contact.first_name``: an allow-listed field is read directly (its value is
        data, never a ``str.format`` to wrap); anything else takes the sandbox's path."""
        fields = _template_fields(obj)
        if fields is not None and attribute in fields:
            return getattr(obj, attribute)
        return super().getattr(obj, attribute)


def _template_fields(obj: Any) -> frozenset[str] | None:
    """The allow-list a data view declares, or None for any other object."""
    return getattr(type(obj), "__template_fields__", None)


def _env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True)
    env.filters["default"] = env.filters["d"] = fill_in
    return env


def text_template(source: str) -> Any:
    """A one-line jinja template over data views, in the same sandbox as campaign content (no HTML
    escaping: the text is escaped where it is put into HTML). A derived field's ``value:`` is one."""
    return _env(False).from_string(source)


def fill_in(value: Any, default_value: Any = "", boolean: bool = False) -> Any:
    """jinja's ``default``, but an empty field counts as missing too.

    ``{{ contact.first_name | default("Bapak/Ibu") }}`` is what a writer means
    for a contact whose first name cell was empty; jinja's own filter would
    only replace a variable that does not exist, and print the empty string.
    """
    if isinstance(value, Undefined) or value is None or (isinstance(value, str) and not value.strip()):
        return default_value
    if boolean and not value:
        return default_value
    return value


@cache
def _package_text(name: str) -> str:
    return resources.files("outreach.templates").joinpath(name).read_text(encoding="utf-8")


def language_of_file(path: Path) -> str | None:
    """``NAME.en.md`` -> ``en``: the language version a file is, by its name (None: not a version)."""
    parts = path.name.split(".")
    return parts[-2] if len(parts) >= 3 and parts[-1] == "md" and parts[-2] in LABELS else None


def read_content(path: Path, root: Path | None = None, *, check_html: bool = True,
                 drafts: Drafts | None = None) -> ContentSource:  # fmt: skip
    """Split front matter from the Markdown body; expand includes of ``ROOT/blocks`` (ROOT: the
    workspace, by default the folder above ``campaigns/``); check both for syntax, and (``check_html``)
    the raw HTML in the body for unclosed tags (``content lint`` checks that itself, to list them all).
    ``drafts``: unsaved text read in place of files (this one or its blocks), for the editor's live preview."""
    text = draft_of(drafts, path)
    if text is None:
        text = read_text_file(path, TemplateError).replace("\r\n", "\n")
    front: dict[str, Any] = {}
    lines: dict[str, Any] = {}  # file line of each front matter value, for errors
    body, body_line = text, 1
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end < 0:
            raise TemplateError("front matter opened with --- is never closed", path=path, line=1)
        try:
            doc = load_yaml(path, text[4 : end + 1])
        except ConfigError as exc:  # its lines count from the front matter's first line, the file's second
            raise TemplateError(f"front matter: {exc.detail}", path=path,
                                line=exc.line + 1 if exc.line else 2) from None
        front = doc.data or {}
        if not isinstance(front, dict):
            raise TemplateError("front matter must be key: value lines", path=path, line=2)
        rest = text[end + 4 :]
        body_line = text[: end + 4].count("\n") + 1 + (1 if rest.startswith("\n") else 0)
        body = rest[1:] if rest.startswith("\n") else rest
        lines = {"subject_line": 1 + doc.line(("subject",)), "preheader_line": 1 + doc.line(("preheader",))}
        if isinstance(front.get("variants"), list):
            lines["variant_lines"] = tuple(1 + doc.line(("variants", i)) for i in range(len(front["variants"])))
        for key in front:
            if key not in FRONT_KEYS:
                line = 1 + doc.line((key,))
                raise TemplateError(f"unknown front matter key {key!r} (expected {', '.join(FRONT_KEYS)})",
                                    path=path, line=line)
    subject = front.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        raise TemplateError("front matter needs a subject: line", path=path, line=1)
    lang = _language(path, front, lines)
    variants = front.get("variants") or ()
    if not isinstance(variants, list | tuple) or not all(isinstance(v, str) for v in variants):
        raise TemplateError("variants must be a list of subject lines", path=path)
    if loads_templates(body):
        expanded = expand_includes(body, path, body_line, BlockLoader(root or path.parent.parent, drafts))
        if any(line.path != path for line in expanded):
            body = "\n".join(line.text for line in expanded)
            lines["line_map"] = tuple((line.path, line.line) for line in expanded)
    source = ContentSource(
        path=path, subject=subject.strip(), preheader=str(front.get("preheader") or "").strip(),
        lang=lang, body=body, body_line=body_line, variants=tuple(variants), **lines,
    )  # fmt: skip
    _check_syntax(source)
    problems = html_problems(source) if check_html else []
    if problems:
        raise problems[0]
    return source


def html_problems(source: ContentSource) -> list[TemplateError]:
    """Each unbalanced or unclosed HTML tag of the body, at its own file and line (htmlcheck.py)."""
    out = []
    for problem in unbalanced_tags(source.body):
        at = source.at(source.body_line + problem.line - 1)

        def name(line: int, at: dict[str, Any] = at) -> str:
            path, where = source.locate(source.body_line + line - 1)
            return f"line {where}" if path == at["path"] else f"{path.name} line {where}"

        out.append(TemplateError(f"unbalanced HTML: {problem.message(name)}", **at))
    return out


def _language(path: Path, front: dict[str, Any], lines: dict[str, Any]) -> str:
    """``lang:`` of the front matter; a language version (``NAME.en.md``) is the language of its name."""
    by_name = language_of_file(path)
    written = front.get("lang")
    lang = str(written or by_name or "en")
    if lang not in LABELS:
        raise TemplateError(f"lang {lang!r} is not one of {', '.join(LABELS)}", path=path)
    if by_name and lang != by_name:
        raise TemplateError(f"lang: {lang} in {path.name}, whose name says {by_name}; remove the lang: line",
                            path=path)  # fmt: skip
    return lang


def _check_syntax(src: ContentSource) -> None:
    env = _env(False)
    for what, text, line0 in (
        ("subject", src.subject, src.subject_line),
        ("preheader", src.preheader, src.preheader_line),
        ("body", src.body, src.body_line),
        *(("variant", v, src.line_of("variant", i)) for i, v in enumerate(src.variants)),
    ):  # fmt: skip
        try:
            env.parse(text)
        except TemplateSyntaxError as exc:
            line = line0 + (exc.lineno or 1) - 1
            where = src.at(line) if what == "body" else {"path": src.path, "line": line}
            raise TemplateError(f"template syntax error in {what}: {exc.message}", **where) from None


class _Tokens:
    """Swap jinja tags for inert alphanumeric tokens and back."""

    def __init__(self) -> None:
        self.tags: list[str] = []

    def token(self, tag: str) -> str:
        self.tags.append(tag)
        return token(len(self.tags) - 1)

    def protect(self, text: str) -> str:
        return TAG.sub(lambda m: self.token(m.group(0)), text)

    def restore(self, text: str) -> str:
        return TOKEN.sub(lambda m: self.tags[int(m.group(1))], text)

    def unwrap_blocks(self, fragment: str) -> str:
        """Move block tags out of the paragraphs Markdown put them in (before CSS inlining).

        A block tag alone in its paragraph must not leave an empty ``<p></p>``
        behind, and neither must ``{% if %}`` ... ``{% endif %}`` around a whole
        paragraph when the condition is false: both would show as a gap.
        """
        fragment = _ONLY_TOKENS.sub(
            lambda m: m.group(1).strip() if self._all_block(m.group(1)) else m.group(0), fragment
        )

        def wrapped(m: re.Match[str]) -> str:
            first, inner, last = m.group(1), m.group(2), m.group(3)
            if (
                _IF.match(self.tags[token_index(first)])
                and _ENDIF.match(self.tags[token_index(last)])
                and not any(self._is_block(t) for t in TOKEN.findall(inner))
            ):
                return f"{first}<p>{inner}</p>{last}"
            return m.group(0)

        return _WRAPPED.sub(wrapped, fragment)

    def join_block_lines(self, text: str) -> str:
        """In the text part, a line holding only block tags joins the next paragraph, so a
        false ``{% if %}`` leaves no extra blank lines behind."""
        return _TOKEN_LINE.sub(
            lambda m: re.sub(r"\s+", "", m.group(1)) if self._all_block(m.group(1)) else m.group(0), text
        )

    def _all_block(self, text: str) -> bool:
        return all(self._is_block(t) for t in TOKEN.findall(text))

    def _is_block(self, index: str) -> bool:
        return not self.tags[int(index)].startswith("{{")


_ONLY_TOKENS = re.compile(rf"<p>\s*((?:{TOKEN_PATTERN}\s*)+)</p>")
_WRAPPED = re.compile(rf"<p>\s*({TOKEN_PATTERN})\s*((?:(?!</?p[\s>]).)*?)\s*({TOKEN_PATTERN})\s*</p>", re.S)
_TOKEN_LINE = re.compile(rf"(?m)^((?:{TOKEN_PATTERN}[ \t]*)+)\n\n")
_IF = re.compile(r"^\{%-?\s*if\b")
_ENDIF = re.compile(r"^\{%-?\s*endif\b")


@dataclass(frozen=True)
class CompiledContent:
    """The per-campaign result: three sandboxed templates, ready per recipient."""

    source: ContentSource
    html_source: str
    text_source: str
    _subjects: tuple[Any, ...] = field(repr=False)
    _html: Any = field(repr=False)
    _text: Any = field(repr=False)
    variables: tuple[Variable, ...] = ()  # plain {{ ... }} outputs: checked for recipients they print empty for
    images: tuple[InlineImage, ...] = ()  # embedded in every message (multipart/related)

    @property
    def path(self) -> Path:
        return self.source.path

    @property
    def lang(self) -> str:
        return self.source.lang

    def render(self, context: dict[str, Any], variant: int = 0) -> Rendered:
        """Personalise for one recipient; any template problem is a TemplateError."""
        try:
            ctx = {**self._html.globals, **context}
            subject = _one_line(_render(self._subjects[variant % len(self._subjects)], ctx))
            ctx["subject"] = subject
            return Rendered(subject=subject, html=_render(self._html, ctx), text=_render(self._text, ctx))
        except (UndefinedError, SecurityError, TemplateRuntimeError, TypeError, ValueError) as exc:
            who = context.get("contact")
            email = getattr(who, "email", None) or "the preview contact"
            detail, line = explain(exc, self.source, context)
            raise TemplateError(detail, **self.source.at(line), contact=email) from None


def _render(template: Any, variables: dict[str, Any]) -> str:
    """``template.render`` without its two copies of the variables (jinja's globals are
    already in ``variables``): a third of a render's cost for a short template, per recipient."""
    return str(template.environment.concat(template.root_render_func(template.new_context(variables, shared=True))))


def _one_line(text: str) -> str:
    """Header values never carry line breaks (no header injection), whatever the data."""
    return " ".join(text.split())


def compile_content(source: ContentSource, organization: Organization, track_clicks: bool = False,
                    theme: Theme | None = None, root: Path | None = None) -> CompiledContent:
    """With ``track_clicks`` the body's links go through ``track_click`` (see links.py). ``theme``: the
    workspace's look; ``root``: the workspace, where local images (and a logo file) are read from."""
    theme = theme or DEFAULT_THEME
    tokens = _Tokens()
    body_md = tokens.protect(source.body)
    blocks = EmailBlocks(theme.model_dump(include=_COLOURS), _image_reader(root))
    try:
        fragment = markdown.markdown(body_md, extensions=["extra", "sane_lists", "admonition", blocks],
                                     output_format="html")  # fmt: skip
    except ImageError as exc:
        raise TemplateError(exc.detail, **source.at(_line_naming(source, exc.src))) from None
    fragment = tokens.unwrap_blocks(fragment)
    if track_clicks:
        fragment = rewrite_links(fragment, tokens.tags, tokens.token)
    per_recipient = {
        "unsubscribe_url": tokens.token("{{ unsubscribe_url }}"),
        "subject": tokens.token("{{ subject }}"),
        "preheader": tokens.protect(source.preheader),
    }
    unsub_label, why = LABELS[source.lang]
    org = Organization(_literal(organization.name), _literal(organization.address))
    shown = theme.model_copy(update={"footer_lines": tuple(_literal(line) for line in theme.footer_lines)})
    logo, images = _logo(theme, organization, root), dict(blocks.used)
    if logo is not None and logo["image"] is not None:
        images.setdefault(logo["image"].cid, logo["image"])
    common = {
        "organization": org, "lang": source.lang, "theme": shown, "logo": logo,
        "unsubscribe_label": unsub_label, "footer_why": why, **per_recipient,
    }  # fmt: skip
    layout_env = _env(True)
    css = _env(False).from_string(_package_text("style.css")).render(t=theme)
    html = layout_env.from_string(_package_text("layout.html")).render(body=Markup(fragment), css=Markup(css), **common)
    html = _inline_css(html)
    text = _env(False).from_string(_package_text("layout.txt")).render(
        body=text_alternative(fragment).rstrip(), **common
    )
    html_source, text_source = tokens.restore(html), tokens.restore(tokens.join_block_lines(text))
    try:
        subjects = tuple(_env(False).from_string(s) for s in (source.subject, *source.variants))
        html_t = _env(True).from_string(html_source)
        text_t = _env(False).from_string(text_source)
    except TemplateSyntaxError as exc:  # syntax was checked on the source; this is defensive
        raise TemplateError(f"{source.path}: template error after layout: {exc.message}") from None
    variables = output_variables(source, _env(False).parse)
    return CompiledContent(source, html_source, text_source, subjects, html_t, text_t, variables,
                           tuple(images.values()))  # fmt: skip


_COLOURS = {"primary_color", "button_text_color", "callout_color"}


def _image_reader(root: Path | None) -> Any:
    """Local images are read from the workspace; without one (a bare content file) they cannot be."""
    if root is None:
        return None
    return lambda src: load_image(root, src)


def _line_naming(source: ContentSource, src: str) -> int | None:
    """The line of the body (counted as ``locate`` wants) where an image source is written."""
    at = source.body.find(src)
    return None if at < 0 else source.body_line + source.body.count("\n", 0, at)


def _logo(theme: Theme, organization: Organization, root: Path | None) -> dict[str, Any] | None:
    """The layout's logo: a URL as it is, a workspace file embedded; None shows the organization's name."""
    if not theme.logo:
        return None
    alt = _literal(theme.logo_alt or organization.name)
    if not is_local(theme.logo):
        return {"src": theme.logo, "alt": alt, "width": theme.logo_width, "image": None}
    if root is None:
        return None
    try:
        image = load_image(root, theme.logo)
    except TemplateError as exc:
        raise TemplateError(f"theme: logo: {exc.detail}", path=root / "outreach.yaml") from None
    return {"src": image.src, "alt": alt, "width": min(theme.logo_width, image.width or theme.logo_width),
            "image": image}  # fmt: skip


def _literal(text: str) -> str:
    """Settings text put into the layout is compiled with it as a template: never let it be one."""
    if not any(mark in text for mark in ("{{", "{%", "{#")):
        return text
    return "{% raw %}" + text.replace("{% endraw %}", "") + "{% endraw %}"


def _inline_css(html: str) -> str:
    return Premailer(
        html,
        base_url=None,
        remove_classes=False,
        keep_style_tags=False,
        strip_important=False,
        disable_validation=True,
        disable_basic_attributes=["height"],  # ``height: auto`` of a shrinking image is no attribute
        allow_network=False,
        cssutils_logging_level=logging.CRITICAL,
        cache_css_parsing=True,
    ).transform(pretty_print=False)


def load_compiled(path: Path, organization: Organization, track_clicks: bool = False, theme: Theme | None = None,
                  root: Path | None = None, drafts: Drafts | None = None) -> CompiledContent:  # fmt: skip
    return compile_content(read_content(path, root, drafts=drafts), organization, track_clicks, theme, root)
