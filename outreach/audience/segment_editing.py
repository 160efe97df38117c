"""Writing ``segments/NAME.yaml`` from the app: the common conditions as a form, or the YAML as text.

Either way the text is checked by the loader every command uses
(``parse_segment``, then compiled as a query, which finds an ``exclude`` that
names no segment or runs in a cycle) before it is written atomically; an
error keeps its line, so the YAML editor points at it. Who saved what is kept
in the audit log, with the diff.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from outreach import audit
from outreach.audience.fields import fields_of
from outreach.audience.segments import Segment, list_segments, parse_segment, segment_path, segment_query
from outreach.errors import ConfigError, InputError, OutreachError
from outreach.settings.files import read_or_none, version_of, write_atomically
from outreach.settings.workspace import WorkspaceConfig
from outreach.settings.yamlfile import load_yaml

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,100}$")
MAX_TEXT = 48 * 1024  # a segment is a few lines; a bigger text is a mistake (or an attack), refused unparsed
NUMBER_OPS = ("lte", "lt", "eq", "gte", "gt")
_WHOLE = re.compile(r"^-?\d{1,9}$")
_AGE = re.compile(r"^\d{1,5}\s*[dwmy]$")


@dataclass(frozen=True)
class SegmentForm:
    """The common conditions, as the segment form posts them (text as typed; lists comma-separated)."""

    description: str = ""
    status: str = ""  # "" any | prospect | existing
    city: str = ""
    industry: str = ""
    tags: str = ""
    tags_mode: str = "any"  # any | all
    transactions_op: str = "lte"
    transactions: str = ""
    contacted: str = ""  # "" any | older_than (value: 90d) | before (value: a date) | never
    contacted_value: str = ""
    exclude: str = ""
    limit: str = ""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SegmentForm:
        return cls(**{f.name: str(values.get(f.name) or "").strip()[:1000] for f in fields(cls)
                      if values.get(f.name) is not None})  # fmt: skip


class SegmentError(InputError):
    """The segment does not load: ``errors`` maps each form field (or ``yaml`` for the text, '' the form) to
    what is wrong; ``line`` is the YAML's line. Nothing was written."""

    def __init__(self, errors: dict[str, str], line: int | None = None) -> None:
        self.errors = errors
        first = next(iter(errors.items()))
        super().__init__(first[1], line=line)


@dataclass(frozen=True)
class SavedSegment:
    name: str
    path: Path
    created: bool
    segment: Segment


def _items(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def form_text(form: SegmentForm) -> str:
    """The YAML of the form's conditions (the contract's segment keys); form errors raise ``SegmentError``."""
    errors: dict[str, str] = {}
    where: dict[str, Any] = {}
    if form.status:
        if form.status not in ("prospect", "existing"):
            errors["status"] = "prospect or existing"
        where["status"] = form.status
    for key in ("city", "industry"):
        values = _items(getattr(form, key))
        if values:
            where[key] = values if len(values) > 1 else values[0]
    tags = _items(form.tags)
    if tags:
        if form.tags_mode not in ("any", "all"):
            errors["tags"] = "any or all of the tags"
        where["tags"] = {form.tags_mode: tags}
    if form.transactions:
        if form.transactions_op not in NUMBER_OPS or not _WHOLE.match(form.transactions):
            errors["transactions"] = "a comparison and a whole number, like at most 2"
        else:
            where["transactions"] = {form.transactions_op: int(form.transactions)}
    contacted = _contacted(form, errors)
    if contacted is not None:
        where["last_contacted_at"] = contacted
    data: dict[str, Any] = {}
    if form.description:
        data["description"] = form.description
    data["where"] = where
    exclude = _items(form.exclude)
    if exclude:
        data["exclude"] = exclude
    if form.limit:
        if not _WHOLE.match(form.limit) or int(form.limit) < 1:
            errors["limit"] = "a positive whole number"
        else:
            data["limit"] = int(form.limit)
    if errors:
        raise SegmentError(errors)
    return "".join(_dump(key, value) for key, value in data.items())


def _dump(key: str, value: Any) -> str:
    """One top-level key as a person writes it: ``where`` one condition a line, lists and operators inline."""
    if key == "where" and value:
        return "where:\n" + "".join("  " + _dump(k, v) for k, v in value.items())
    if isinstance(value, list | dict):
        inline = yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=1000).strip()
        return f"{key}: {inline}\n"
    return yaml.safe_dump({key: value}, allow_unicode=True, default_flow_style=False, width=1000)


def _contacted(form: SegmentForm, errors: dict[str, str]) -> dict[str, Any] | None:
    value = form.contacted_value
    if form.contacted == "never":
        return {"never": True}
    if form.contacted == "older_than":
        if not _AGE.match(value):
            errors["contacted"] = "an age like 90d, 6w, 3m or 1y"
        return {"older_than": value.replace(" ", "")}
    if form.contacted == "before":
        try:
            return {"lt": date.fromisoformat(value)}
        except ValueError:
            errors["contacted"] = "a date like 2026-06-30"
            return None
    if form.contacted:
        errors["contacted"] = "any time, not for an age, before a date, or never"
    return None


def form_of(ws: WorkspaceConfig, name: str) -> tuple[SegmentForm | None, str, str]:
    """(the form filled from the file, or None when the file says more than the form can show; its text; its
    version). A missing file raises the loader's NotFoundError."""
    path = segment_path(ws, name)
    text = read_or_none(path)
    if text is None:
        from outreach.audience.segments import load_segment

        load_segment(ws, name)
        raise AssertionError("unreachable")
    try:
        data = load_yaml(path, text).data
    except ConfigError:
        return None, text, version_of(text)
    return _as_form(data), text, version_of(text)


def _as_form(data: Any) -> SegmentForm | None:
    """The file's conditions as the form, when the form shows all of them exactly; else None."""
    if not isinstance(data, dict) or set(data) - {"description", "where", "exclude", "limit"}:
        return None
    where = data.get("where") or {}
    if not isinstance(where, dict) or set(where) - {"status", "city", "industry", "tags", "transactions",
                                                     "last_contacted_at"}:  # fmt: skip
        return None
    values: dict[str, str] = {"description": str(data.get("description") or "")}
    try:
        if "status" in where:
            values["status"] = _scalar(where["status"])
        for key in ("city", "industry"):
            if key in where:
                items = where[key] if isinstance(where[key], list) else [_scalar(where[key])]
                values[key] = ", ".join(_scalar(v) for v in items)
        if "tags" in where:
            ((mode, tags),) = dict(where["tags"]).items()
            values.update(tags_mode=str(mode), tags=", ".join(_scalar(t) for t in tags))
        if "transactions" in where:
            ((op, number),) = dict(where["transactions"]).items()
            values.update(transactions_op=str(op), transactions=str(int(number)))
        if "last_contacted_at" in where:
            ((op, when),) = dict(where["last_contacted_at"]).items()
            kind = {"never": "never", "older_than": "older_than", "lt": "before"}[op]
            values.update(contacted=kind, contacted_value="" if kind == "never" else str(when))
        exclude = data.get("exclude") or []
        values["exclude"] = ", ".join(_scalar(e) for e in ([exclude] if isinstance(exclude, str) else exclude))
        values["limit"] = str(int(data["limit"])) if data.get("limit") is not None else ""
    except (TypeError, ValueError, KeyError, AttributeError):
        return None
    form = SegmentForm(**values)
    return form if _same(form, data) else None


def _same(form: SegmentForm, data: dict[str, Any]) -> bool:
    """The form written back means what the file means (no condition the form cannot show was dropped)."""
    try:
        again = yaml.safe_load(form_text(form))
    except SegmentError:
        return False
    want = {k: v for k, v in data.items() if v not in (None, "", [])}
    want["where"] = data.get("where") or {}
    return bool(again == want)


def _scalar(value: Any) -> str:
    if isinstance(value, dict | list) or value is None:
        raise TypeError("not a scalar")
    return str(value)


def check_segment(ws: WorkspaceConfig, name: str, text: str, engine: Any = None) -> Segment:
    """``text`` loaded as ``segments/NAME.yaml`` by the loader, and compiled (its excludes resolved; a condition
    on a derived field with a jinja value is evaluated per contact, which needs ``engine``)."""
    if len(text.encode("utf-8")) > MAX_TEXT:
        raise SegmentError({"yaml": f"the segment is longer than {MAX_TEXT // 1024} KB; a segment is a few lines"})
    path = segment_path(ws, name)
    try:
        segment = parse_segment(name, load_yaml(path, text), fields_of(ws))
        segment_query(ws, segment, engine=engine)
    except OutreachError as exc:
        detail = exc.detail.replace(f"{ws.root}/", "").replace(f"{ws.root.resolve()}/", "")
        raise SegmentError({"yaml": f"line {exc.line}: {detail}" if exc.line else detail}, exc.line) from None
    return segment


def save_segment(ws: WorkspaceConfig, name: str, text: str, *, who: str, via: str, engine: Any = None,
                 editing: bool = False, base: str | None = None) -> SavedSegment:  # fmt: skip
    """Validate ``text`` as segment NAME, then write it atomically (a new one never replaces a file; an edit
    is refused with ConflictError when the file changed since version ``base``) and record who did it."""
    if not NAME.match(name) or name == "new":
        raise SegmentError({"name": "a name is letters, digits and - _ . (at most 100; not \"new\")"})
    path = segment_path(ws, name)
    before = read_or_none(path)
    if not editing and before is not None:
        raise SegmentError({"name": f"a segment {name!r} already exists; choose another name, or edit it"})
    if editing and before is None:
        raise SegmentError({"name": f"there is no segment {name!r} (segments: {', '.join(list_segments(ws))})"})
    segment = check_segment(ws, name, text, engine)
    try:
        write_atomically(path, text, exclusive=not editing, base=base if editing else None)
    except InputError as exc:  # created meanwhile by someone else
        raise SegmentError({"name": exc.detail}) from None
    if engine is not None:
        audit.record_now(engine, who=who, via=via, kind="segment", name=name,
                         action="edit" if editing else "create",
                         detail=audit.file_diff(before, text, f"segments/{name}.yaml"))  # fmt: skip
    return SavedSegment(name, path, not editing, segment)
