"""Text colours a reader can read: WCAG 2 contrast of every piece of text in a rendered message.

The theme picks the colours and a writer may add their own in raw HTML; what
counts is the pair the reader sees, the text's colour against whatever is
behind it (a cell's ``bgcolor``, a ``background-color``, the card, the page).
The message is walked as the browser would cascade it (its CSS is inline by
then): colour, background, size and weight inherit; hidden parts (the
preheader, ``display:none``) are skipped. WCAG AA asks 4.5:1 for normal text
and 3:1 for large text (24 px, or 18.66 px bold). The formulas are WCAG 2.1's
relative luminance and contrast ratio (https://www.w3.org/TR/WCAG21/#dfn-contrast-ratio).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

AA_NORMAL = 4.5
AA_LARGE = 3.0
_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_HIDDEN_TAGS = {"head", "style", "script", "title", "template"}
_NAMES = {"white": "#ffffff", "black": "#000000", "red": "#ff0000", "gray": "#808080", "grey": "#808080",
          "silver": "#c0c0c0", "blue": "#0000ff", "navy": "#000080", "green": "#008000",
          "yellow": "#ffff00"}  # fmt: skip
_HEX = re.compile(r"^#([0-9a-f]{3}|[0-9a-f]{6})$")
_RGB = re.compile(r"^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*(?:,\s*([\d.]+)\s*)?\)$")


def colour(value: str | None) -> str | None:
    """A CSS colour as ``#rrggbb``; None for what is not an opaque colour (transparent, gradients...)."""
    if not value:
        return None
    text = value.strip().lower().removesuffix("!important").strip()
    text = _NAMES.get(text, text)
    m = _HEX.match(text)
    if m:
        digits = m.group(1)
        return "#" + ("".join(c * 2 for c in digits) if len(digits) == 3 else digits)
    m = _RGB.match(text)
    if m and (m.group(4) is None or float(m.group(4)) >= 1):
        r, g, b = (min(int(x), 255) for x in m.group(1, 2, 3))
        return f"#{r:02x}{g:02x}{b:02x}"
    return None


def luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance of ``#rrggbb``."""
    channels = []
    for i in (1, 3, 5):
        c = int(hex_colour[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def ratio(foreground: str, background: str) -> float:
    """WCAG contrast ratio, 1 to 21."""
    a, b = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (a + 0.05) / (b + 0.05)


@dataclass(frozen=True)
class Pair:
    """Text of one colour on one background, as the reader sees it; ``sample``: the first such text."""

    foreground: str
    background: str
    large: bool
    sample: str

    @property
    def ratio(self) -> float:
        return ratio(self.foreground, self.background)

    @property
    def required(self) -> float:
        return AA_LARGE if self.large else AA_NORMAL

    @property
    def passes(self) -> bool:
        return self.ratio >= self.required


@dataclass
class _State:
    tag: str
    fg: str
    bg: str
    hidden: bool
    size: float
    bold: bool


class _Walker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack = [_State("", "#000000", "#ffffff", False, 16.0, False)]
        self.pairs: dict[tuple[str, str, bool], Pair] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _VOID:
            return
        parent = self.stack[-1]
        a = {k: v or "" for k, v in attrs}
        style = _style(a.get("style", ""))
        fg = colour(style.get("color")) or colour(a.get("color")) or parent.fg
        bg = colour(style.get("background-color")) or colour(style.get("background")) or colour(a.get("bgcolor"))
        hidden = (parent.hidden or tag in _HIDDEN_TAGS or style.get("display", "").strip() == "none"
                  or "hidden" in a or style.get("opacity", "").strip() in ("0", "0.0"))  # fmt: skip
        size = _pixels(style.get("font-size"), parent.size)
        weight = style.get("font-weight", "").strip()
        bold = parent.bold or tag in ("strong", "b", "h1", "h2", "h3", "th") or weight in ("bold", "bolder", "600",
                                                                                            "700", "800", "900")
        self.stack.append(_State(tag, fg, bg or parent.bg, hidden, size, bold))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        state = self.stack[-1]
        text = " ".join(data.split())
        if not text or state.hidden:
            return
        large = state.size >= 24 or (state.bold and state.size >= 18.66)
        key = (state.fg, state.bg, large)
        if key not in self.pairs:
            self.pairs[key] = Pair(state.fg, state.bg, large, text[:60])


def _style(text: str) -> dict[str, str]:
    out = {}
    for declaration in text.split(";"):
        if ":" in declaration:
            name, value = declaration.split(":", 1)
            out[name.strip().lower()] = value.strip()
    return out


def _pixels(value: str | None, inherited: float) -> float:
    if not value:
        return inherited
    m = re.match(r"^\s*([\d.]+)\s*(px|pt|em|rem|%)?\s*$", value)
    if not m:
        return inherited
    number, unit = float(m.group(1)), (m.group(2) or "px")
    return {"px": number, "pt": number * 4 / 3, "em": number * inherited, "rem": number * 16,
            "%": number * inherited / 100}[unit]  # fmt: skip


def text_pairs(html: str) -> list[Pair]:
    """Every distinct (colour, background, large) of the visible text, in order of first appearance."""
    walker = _Walker()
    walker.feed(html)
    walker.close()
    return list(walker.pairs.values())


def failing(html: str) -> list[Pair]:
    """The pairs under WCAG AA."""
    return [pair for pair in text_pairs(html) if not pair.passes]
