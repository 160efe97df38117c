"""The text/plain alternative of an outgoing message, from the HTML that Markdown produces.

Markdown HTML is a small, regular subset, so a tiny HTMLParser does better
than a general converter: links become ``text (url)``, list items get
bullets, headings stand on their own lines, and paragraphs are separated by
one blank line.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCK = {"p", "div", "table", "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6"}


class _TextWriter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.links: list[str | None] = []
        self.lists: list[list[int]] = []  # stack of [counter, ordered]
        self.pre = 0
        self.skip = 0
        self.cells = 0  # cells so far in the current table row

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("style", "script", "head", "title"):
            self.skip += 1
        elif tag in _BLOCK:
            self._blank()
            if tag == "pre":
                self.pre += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "tr":
            self._newline()
            self.cells = 0
        elif tag in ("td", "th"):
            if self.cells:
                if self.out and self.out[-1].isspace():
                    self.out.pop()  # the markup's line break between two cells
                self.out.append(" | ")
            self.cells += 1
        elif tag in ("ul", "ol"):
            self._blank() if not self.lists else self.out.append("\n")
            self.lists.append([0, 1 if tag == "ol" else 0])
        elif tag == "li":
            self._newline()
            depth = max(len(self.lists) - 1, 0)
            bullet = "-"
            if self.lists and self.lists[-1][1]:
                self.lists[-1][0] += 1
                bullet = f"{self.lists[-1][0]}."
            self.out.append("  " * depth + bullet + " ")
        elif tag == "a":
            self.links.append(a.get("href"))
        elif tag == "img" and a.get("alt"):
            self.out.append(f"[{a['alt']}]")
        elif tag == "hr":
            self._blank()
            self.out.append("----------")
            self._blank()

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head", "title"):
            self.skip = max(self.skip - 1, 0)
        elif tag in _BLOCK:
            if tag == "pre":
                self.pre = max(self.pre - 1, 0)
            self._blank()
        elif tag in ("ul", "ol"):
            if self.lists:
                self.lists.pop()
            self._blank()
        elif tag == "a" and self.links:
            href = self.links.pop()
            if href and not href.startswith("mailto:"):
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if not self.pre:
            data = re.sub(r"\s+", " ", data)
            if self._at_line_start():
                data = data.lstrip()
        self.out.append(data)

    def _at_line_start(self) -> bool:
        text = "".join(self.out[-3:])
        return not text or text.endswith("\n") or text.endswith("- ")

    def _newline(self) -> None:
        if self.out and not "".join(self.out[-2:]).endswith("\n"):
            self.out.append("\n")

    def _blank(self) -> None:
        if not self.out:
            return
        tail = "".join(self.out[-3:])
        if tail.endswith("\n\n"):
            return
        self.out.append("\n" if tail.endswith("\n") else "\n\n")


def text_alternative(html: str) -> str:
    writer = _TextWriter()
    writer.feed(html)
    writer.close()
    text = "".join(writer.out)
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"
