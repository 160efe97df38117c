"""The writer's building blocks, turned into HTML that mail clients render alike.

Markdown gives plain HTML; mail clients (Outlook's Word engine above all)
ignore much of CSS, so each block is rewritten, once per campaign, into the
table-and-inline-style HTML email needs:

* ``[Jadwalkan survei](https://…){.button}`` alone in its paragraph: a
  bulletproof button, the padded-table technique: the colour is the table
  cell's ``bgcolor`` and the padding is the cell's, both of which Outlook
  paints, with the link inside (rounded corners where the client can);
* ``![Alt](images/banner.png){.banner}`` or any image: an explicit ``width``
  (the file's own, at most the message column; ``{width=200}`` to choose),
  ``max-width:100%; height:auto`` so it shrinks on a phone, a local file
  embedded as an inline part (see images.py);
* ``!!! note "Title"`` (an admonition) or a paragraph marked ``{.callout}``:
  a highlighted box, a one-cell table with a coloured left edge;
* a Markdown table: a full-width data table, styled inline, whose cells wrap
  rather than scroll sideways on a phone.

Colours come from the workspace theme. The Markdown syntax is python-markdown's
``attr_list`` (part of ``extra``) and ``admonition`` extensions; this module is
a treeprocessor that runs after them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from typing import Any

from markdown import Markdown
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

from outreach.content.images import InlineImage, is_local
from outreach.content.tags import TOKEN_PREFIX
from outreach.errors import TemplateError

CONTENT_WIDTH = 536  # px: the 600 px message column less its padding (style.css .content)


class ImageError(TemplateError):
    """A local image that cannot be embedded; ``src`` lets the caller find its line."""

    def __init__(self, detail: str, src: str) -> None:
        super().__init__(detail)
        self.src = src


class EmailBlocks(Extension):
    """Buttons, images, callouts and tables in email-safe HTML (see the module docstring)."""

    def __init__(self, colours: dict[str, str], image: Callable[[str], InlineImage] | None, **kwargs: Any) -> None:
        self.colours = colours
        self.image = image
        self.used: dict[str, InlineImage] = {}  # cid -> image, in order of first use
        super().__init__(**kwargs)

    def extendMarkdown(self, md: Markdown) -> None:  # noqa: N802 - python-markdown's name
        # after attr_list (8), which puts {.button} and {width=...} on the elements
        md.treeprocessors.register(_Blocks(md, self), "email_blocks", 5)


class _Blocks(Treeprocessor):
    def __init__(self, md: Markdown, ext: EmailBlocks) -> None:
        super().__init__(md)
        self.ext = ext
        self.c = ext.colours

    def run(self, root: ET.Element) -> None:
        for table in [t for t in root.iter("table")]:
            self._data_table(table)
        for parent, child in list(_with_parents(root)):
            if child.tag == "div" and _has_class(child, "admonition"):
                self._callout(parent, child, admonition=True)
            elif child.tag == "p" and _has_class(child, "callout"):
                self._callout(parent, child, admonition=False)
        for parent, child in list(_with_parents(root)):
            if child.tag == "p" and _only_buttons(child):
                self._buttons(parent, child)
        for parent, child in list(_with_parents(root)):
            if child.tag == "img":
                self._image(parent, child)

    # -- tables ------------------------------------------------------------------------------

    def _data_table(self, table: ET.Element) -> None:
        _add_class(table, "data")
        table.set("width", "100%")
        table.set("cellpadding", "0")
        table.set("cellspacing", "0")
        for cell in table.iter():
            if cell.tag in ("th", "td"):
                align = (cell.get("style") or "").replace("text-align:", "").strip(" ;") or None
                if align in ("left", "right", "center"):
                    cell.set("align", align)  # Outlook reads the attribute

    # -- callouts ------------------------------------------------------------------------------

    def _callout(self, parent: ET.Element, element: ET.Element, admonition: bool) -> None:
        table = ET.Element("table", {"role": "presentation", "class": "callout", "width": "100%",
                                     "cellpadding": "0", "cellspacing": "0", "border": "0"})  # fmt: skip
        cell = ET.SubElement(ET.SubElement(table, "tr"), "td", {
            "class": "callout-cell", "bgcolor": self.c["callout_color"],
            "style": f"background-color:{self.c['callout_color']};border-left:4px solid {self.c['primary_color']};",
        })  # fmt: skip
        if admonition:
            for child in list(element):
                if child.tag == "p" and _has_class(child, "admonition-title"):
                    child.set("class", "callout-title")
                cell.append(child)
            cell.text = element.text
        else:
            _remove_class(element, "callout")
            cell.append(element)
        table.tail = element.tail
        element.tail = None
        _replace(parent, element, table)

    # -- buttons --------------------------------------------------------------------------------

    def _buttons(self, parent: ET.Element, paragraph: ET.Element) -> None:
        tables = [self._button(a) for a in paragraph]
        if tables:
            tables[-1].tail = paragraph.tail
        index = list(parent).index(paragraph)
        parent.remove(paragraph)
        for offset, table in enumerate(tables):
            parent.insert(index + offset, table)

    def _button(self, link: ET.Element) -> ET.Element:
        primary, text = self.c["primary_color"], self.c["button_text_color"]
        table = ET.Element("table", {"role": "presentation", "class": "button", "cellpadding": "0",
                                     "cellspacing": "0", "border": "0"})  # fmt: skip
        cell = ET.SubElement(ET.SubElement(table, "tr"), "td", {
            "class": "button-cell", "align": "center", "bgcolor": primary,
            "style": f"background-color:{primary};border-radius:6px;padding:12px 24px;",
        })  # fmt: skip
        _remove_class(link, "button")
        _add_class(link, "button-link")
        link.set("style", f"color:{text};text-decoration:none;font-weight:bold;display:inline-block;")
        link.set("target", "_blank")
        link.tail = None
        cell.append(link)
        return table

    # -- images ---------------------------------------------------------------------------------

    def _image(self, parent: ET.Element, img: ET.Element) -> None:
        src = img.get("src") or ""
        width = _pixels(img.get("width"))
        if is_local(src) and TOKEN_PREFIX not in src and self.ext.image is not None:
            try:
                found = self.ext.image(src)
            except TemplateError as exc:
                raise ImageError(exc.detail, src) from None
            self.ext.used.setdefault(found.cid, found)
            img.set("src", found.src)
            width = width or found.width
        banner = _has_class(img, "banner")
        if banner:
            width = width or CONTENT_WIDTH
        if width:
            img.set("width", str(min(width, CONTENT_WIDTH)))
        img.attrib.pop("height", None)  # the width and the picture's own proportions decide
        alone = parent.tag == "p" and len(parent) == 1 and not (parent.text or "").strip() and \
            not (img.tail or "").strip()  # fmt: skip
        block = "display:block;" if alone or banner else ""
        img.set("style", f"{block}max-width:100%;height:auto;border:0;")
        img.set("alt", img.get("alt") or "")


def _with_parents(root: ET.Element) -> Iterator[tuple[ET.Element, ET.Element]]:
    for parent in root.iter():
        for child in parent:
            yield parent, child


def _classes(element: ET.Element) -> list[str]:
    return (element.get("class") or "").split()


def _has_class(element: ET.Element, name: str) -> bool:
    return name in _classes(element)


def _add_class(element: ET.Element, name: str) -> None:
    if not _has_class(element, name):
        element.set("class", " ".join([*_classes(element), name]))


def _remove_class(element: ET.Element, name: str) -> None:
    rest = [c for c in _classes(element) if c != name]
    if rest:
        element.set("class", " ".join(rest))
    else:
        element.attrib.pop("class", None)


def _only_buttons(paragraph: ET.Element) -> bool:
    """A paragraph holding nothing but ``{.button}`` links (one or more)."""
    if (paragraph.text or "").strip() or len(paragraph) == 0:
        return False
    return all(c.tag == "a" and _has_class(c, "button") and not (c.tail or "").strip() for c in paragraph)


def _replace(parent: ET.Element, old: ET.Element, new: ET.Element) -> None:
    index = list(parent).index(old)
    parent.remove(old)
    parent.insert(index, new)


def _pixels(value: str | None) -> int | None:
    if not value:
        return None
    digits = value.strip().removesuffix("px")
    return int(digits) if digits.isdigit() and 0 < int(digits) < 10_000 else None
