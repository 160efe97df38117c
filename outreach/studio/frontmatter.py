"""The subject, preheader and A/B subjects as form fields, written back into the file's front matter.

The editor shows the whole file (front matter included) and, beside it, the
three values writers change most as fields. A field is written into the text
by replacing only its value's characters, found through PyYAML's node marks:
the other keys, their order, comments and line ends stay exactly as they were.
A key that is not there yet is added before the closing ``---``; a file without
front matter gets one. Values are written as double-quoted YAML (JSON's string
syntax is a subset of it), so a quote, a colon or ``{{ contact.company }}``
in a subject needs no thought.

Which wins when the writer changed both a field and the same line of the text:
the field. The form carries each field's value as it was when the page (or the
last live refresh) showed it; a field whose value differs from that is applied
onto the submitted text, a field left alone never touches the text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

FIELDS = ("subject", "preheader", "variants")


@dataclass(frozen=True)
class Fields:
    subject: str = ""
    preheader: str = ""
    variants: tuple[str, ...] = ()

    def as_form(self) -> dict[str, str]:
        """The values as the form's inputs hold them (A/B subjects one per line)."""
        return {"subject": self.subject, "preheader": self.preheader, "variants": "\n".join(self.variants)}


@dataclass(frozen=True)
class _Front:
    start: int  # offset of the front matter's first line (after ``---`` and its line end)
    end: int  # offset of the closing ``---`` line
    root: yaml.Node | None
    newline: str


def _front(text: str) -> _Front | None:
    nl = "\r\n" if text.startswith("---\r\n") else "\n"
    if not text.startswith("---" + nl):
        return None
    start = 3 + len(nl)
    end = text.find(nl + "---", start - len(nl))
    if end < 0:
        return None
    inner = text[start : end + len(nl)] if end >= start else ""
    try:
        root = yaml.compose(inner, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        raise ValueError("the front matter is not valid YAML; fix it in the text first") from None
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise ValueError("the front matter is not key: value lines; fix it in the text first")
    return _Front(start, end + len(nl) if end >= start else start, root, nl)


def read_fields(text: str) -> Fields | None:
    """The fields as the text has them (None when its front matter cannot be read)."""
    text = text.removeprefix("\ufeff")
    try:
        front = _front(text)
    except ValueError:
        return None
    if front is None:
        return Fields()
    try:
        data = yaml.safe_load(text[front.start : front.end]) or {}
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    variants = data.get("variants") or ()
    if not isinstance(variants, list | tuple):
        variants = ()
    return Fields(_plain(data.get("subject")), _plain(data.get("preheader")), tuple(_plain(v) for v in variants))


def declared_language(text: str) -> str | None:
    """The ``lang:`` the front matter declares, if any (the base file's language, for offering the other one)."""
    try:
        front = _front(text.removeprefix("\ufeff"))
        data = yaml.safe_load(text.removeprefix("\ufeff")[front.start : front.end]) if front else None
    except (ValueError, yaml.YAMLError):
        return None
    value = data.get("lang") if isinstance(data, dict) else None
    return str(value) if value else None


def _plain(value: object) -> str:
    return "" if value is None else str(value).strip()


def variants_of(form_value: str) -> tuple[str, ...]:
    """The A/B subjects field: one subject a line, blank lines ignored."""
    return tuple(line.strip() for line in form_value.splitlines() if line.strip())


def changed_fields(form: Mapping[str, str], shown: Mapping[str, str]) -> dict[str, str]:
    """The fields the writer changed: in ``form`` and different from ``shown`` (their ``*_was`` values)."""
    out = {}
    for key in FIELDS:
        if key not in form:
            continue
        value, was = form[key], shown.get(key)
        if key == "variants":
            if was is None or variants_of(value) != variants_of(was):
                out[key] = value
        elif was is None or value.strip() != was.strip():
            out[key] = value
    return out


def apply_fields(text: str, changes: Mapping[str, str]) -> str:
    """``text`` with each changed field written into its front matter; ValueError when the front matter
    cannot be read (the writer fixes the text, or undoes the field)."""
    if text.startswith("\ufeff"):  # a BOM from a Windows editor stays first
        return "\ufeff" + apply_fields(text[1:], changes)
    for key in FIELDS:
        if key in changes:
            text = _set(text, key, changes[key])
    return text


def _set(text: str, key: str, raw: str) -> str:
    value = _yaml_value(key, raw)
    front = _front(text)
    if front is None:
        if key != "subject" and not value.strip("[]\""):
            return text  # an empty preheader or no variants: nothing to write into a file without front matter
        nl = "\r\n" if "\r\n" in text else "\n"
        return f"---{nl}{key}: {value}{nl}---{nl}" + text
    found = _value_node(front.root, key)
    if found is None:
        if key != "subject" and not value.strip("[]\""):
            return text
        return text[: front.end] + f"{key}: {value}{front.newline}" + text[front.end :]
    key_node, node = found
    start = front.start + node.start_mark.index
    if not isinstance(node, yaml.ScalarNode) and not getattr(node, "flow_style", True):
        start, value = front.start + key_node.end_mark.index, ": " + value  # a block list: now on the key's line
    end = front.start + _end_of(node)
    return text[:start] + value + text[end:]


def _yaml_value(key: str, raw: str) -> str:
    if key == "variants":
        return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in variants_of(raw)) + "]"
    return json.dumps(" ".join(raw.split()), ensure_ascii=False)  # one line: a subject is a header


def _value_node(root: yaml.Node | None, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(root, yaml.MappingNode):
        return None
    for k, v in root.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return k, v
    return None


def _end_of(node: yaml.Node) -> int:
    """Where the value's own characters end: a block sequence at its last item (not the next key's line), a
    block scalar (``|``, ``>``) before the line end that closes it."""
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _end_of(node.value[-1])
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _end_of(node.value[-1][1])
    end = node.end_mark.index
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        buffer = node.end_mark.buffer or ""
        while end > node.start_mark.index and buffer[end - 1] in "\r\n":
            end -= 1
    return end
