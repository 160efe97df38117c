"""Raw HTML written inside the Markdown: every tag that is opened is closed, in order.

An unclosed tag does not fail anywhere: Markdown passes raw HTML through as it
is, and the mail app does the rest. ``<div style="color:#777"><b>Penting ...``
with no closing tags turns the whole rest of the message into one bold grey
block, and since Markdown leaves the inside of a raw HTML block alone, its
``#``, ``**`` and ``>`` show as they were typed. So an unbalanced tag is an
error, found before anything is sent, at the line where it is written.

The check reads the body as Python's ``html.parser`` does, with the places
that are not HTML blanked first (code, jinja tags, autolinks such as
``<https://…>``, an escaped ``\\<``), and follows a stack of open elements:

* void elements (``<br>``, ``<img>``, ``<hr>`` …) and ``<br/>`` never need closing;
* elements whose end tag HTML makes optional (``<p>``, ``<li>``, ``<td>`` …)
  are closed by their parent's end tag, as a browser closes them;
* a block element that starts a line (``<div>``, ``<table>`` …) opens a raw
  HTML block, which Markdown keeps whole until its end tag, blank lines and all;
* anywhere else a tag lives in a paragraph, which a blank line ends: ``<b>``
  opened in one paragraph and closed in the next is broken in the message
  (``<p>Teks <b>tebal</p><p>lanjut</b></p>``), so that is an error too.

Pure: text in, problems out. Rendering raises the first one (``read_content``),
so a build, a send and a preview refuse the content as they do a template
syntax error; ``content lint`` lists them all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser

from outreach.content.tags import TAG

VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                  "track", "wbr", "basefont", "bgsound", "frame", "keygen"})  # fmt: skip
OPTIONAL_END = frozenset({"p", "li", "dt", "dd", "tr", "td", "th", "thead", "tbody", "tfoot", "option", "optgroup",
                          "colgroup", "caption", "rb", "rt", "rtc", "rp", "html", "head", "body"})  # fmt: skip
# Python-Markdown's block-level elements: one of these at the start of a line opens a raw HTML block
BLOCK = frozenset({"address", "article", "aside", "blockquote", "body", "canvas", "center", "colgroup", "dd",
                   "details", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
                   "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "iframe", "legend", "li", "main", "map",
                   "math", "menu", "nav", "noscript", "object", "ol", "option", "output", "p", "pre", "progress",
                   "script", "section", "style", "summary", "table", "tbody", "td", "textarea", "tfoot", "th",
                   "thead", "tr", "ul", "video"})  # fmt: skip

_FENCE = re.compile(r"^[ \t]{0,3}(```|~~~).*?^[ \t]{0,3}\1[^\n]*$", re.S | re.M)
_CODE_SPAN = re.compile(r"(`+)[^`].*?\1", re.S)
_AUTOLINK = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9+.-]{1,31}:[^<>\s]*|[^<>\s@]+@[^<>\s@]+)>")
_ESCAPED = re.compile(r"\\[<>&]")
_BLANK_LINE = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class TagProblem:
    """One unbalanced tag: its line in the body (1-based, counted from the body's first line) and what is
    wrong; ``{other}`` in ``text`` stands for a second place, body line ``other``."""

    line: int
    text: str
    other: int | None = None

    def message(self, name: Callable[[int], str] = lambda line: f"line {line}") -> str:
        """The text with the second place named by ``name`` (given a body line)."""
        return self.text.format(other=name(self.other)) if self.other is not None else self.text


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    """Overwrite every match with spaces, keeping newlines, so lines and offsets stay put."""
    return pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _not_html_blanked(body: str) -> str:
    text = _blank(body, TAG)
    for pattern in (_FENCE, _CODE_SPAN, _AUTOLINK, _ESCAPED):
        text = _blank(text, pattern)
    return text


@dataclass
class _Open:
    tag: str
    line: int
    raw_block: bool  # a block element at the start of a line: Markdown keeps it whole, blank lines too


class _Balance(HTMLParser):
    def __init__(self, lines: list[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.lines = lines
        self.stack: list[_Open] = []
        self.problems: list[TagProblem] = []
        self.forgiven: dict[str, int] = {}  # end tags still to come for elements already reported unclosed

    def _in_raw_block(self) -> bool:
        return any(o.raw_block for o in self.stack)

    def _starts_line(self, line: int, column: int) -> bool:
        before = self.lines[line - 1][:column] if line - 1 < len(self.lines) else ""
        return len(before) <= 3 and not before.strip()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        line, column = self.getpos()
        raw = tag in BLOCK and not self._in_raw_block() and self._starts_line(line, column)
        self.stack.append(_Open(tag, line, raw))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """``<br/>``, ``<img … />``: nothing to close (a ``<div/>`` is read by browsers as an open ``<div>``)."""
        if tag not in VOID:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        line, _ = self.getpos()
        at = next((i for i in range(len(self.stack) - 1, -1, -1) if self.stack[i].tag == tag), None)
        if at is None:
            if self.forgiven.get(tag):
                self.forgiven[tag] -= 1
            elif tag not in OPTIONAL_END:
                self.problems.append(TagProblem(line, f"</{tag}> closes nothing: no <{tag}> is open before it; "
                                                      f"remove it or add the <{tag}> it should close"))  # fmt: skip
            return
        for inner in self.stack[at + 1 :]:
            if inner.tag not in OPTIONAL_END:
                self.problems.append(TagProblem(inner.line, f"<{inner.tag}> is not closed before </{tag}> on "
                                                            f"{{other}}; add </{inner.tag}> before it", line))
                self.forgiven[inner.tag] = self.forgiven.get(inner.tag, 0) + 1
        del self.stack[at:]

    def handle_data(self, data: str) -> None:
        if self._in_raw_block():
            return
        line, _ = self.getpos()
        for m in _BLANK_LINE.finditer(data):
            blank = line + data.count("\n", 0, m.start()) + 1
            self._end_paragraph(blank)

    def _end_paragraph(self, blank: int) -> None:
        """A blank line outside a raw HTML block ends the paragraph: what is still open in it is cut off."""
        for o in self.stack:
            if o.tag not in OPTIONAL_END:
                self.problems.append(TagProblem(o.line, f"<{o.tag}> is not closed in its paragraph (the blank "
                                                        f"{{other}} ends it); add </{o.tag}> before it", blank))
                self.forgiven[o.tag] = self.forgiven.get(o.tag, 0) + 1
        self.stack = []

    def finish(self) -> list[TagProblem]:
        self.close()
        for o in self.stack:
            if o.tag not in OPTIONAL_END:
                self.problems.append(TagProblem(o.line, f"<{o.tag}> is never closed; add </{o.tag}> where it "
                                                        "should end (everything after it is inside it)"))  # fmt: skip
        return sorted(self.problems, key=lambda p: p.line)


def unbalanced_tags(body: str) -> list[TagProblem]:
    """Every unbalanced or unclosed HTML tag written in a Markdown body, by line."""
    if "<" not in body:
        return []
    text = _not_html_blanked(body)
    checker = _Balance(text.split("\n"))
    checker.feed(text)
    return checker.finish()
