"""Segments: a YAML file compiled into one SQL query over contacts.

Filtering happens in the database, never in Python, so a segment of 100,000
contacts streams. A wrong field or operator is reported with file and line
when the segment is loaded, not when a campaign is half built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, and_, case, func, not_, or_, select
from sqlalchemy.orm import Session

from outreach.audience.fields import fields_of
from outreach.errors import ConfigError, NotFoundError, OutreachError
from outreach.fields import BUILTIN, Field, FieldSet
from outreach.fields.kinds import TEXT
from outreach.settings.workspace import WorkspaceConfig
from outreach.settings.yamlfile import YamlDoc, load_yaml
from outreach.storage.models import Company, Contact

# A field's operators come with its kind (``outreach.fields.kinds``): a text, phone, email or language
# field compares as text, ``transactions`` as a number, ``last_contacted_at`` as a date, ``tags`` as a
# list; ``custom.COLUMN`` as text unless the registry gives the custom field a kind.
SEGMENT_KEYS = ("description", "where", "exclude", "limit")
_AGE = re.compile(r"^\s*(\d+)\s*(d|w|m|y)\s*$")


@dataclass(frozen=True)
class Segment:
    name: str
    path: Path
    description: str
    where: tuple[tuple[str, str, Any], ...]  # (field, operator, value)
    exclude: tuple[str, ...]
    limit: int | None
    registry: FieldSet = field(default=BUILTIN, compare=False, repr=False)  # the fields ``where`` names


def segment_path(ws: WorkspaceConfig, name: str) -> Path:
    return ws.segments_dir / f"{name}.yaml"


def list_segments(ws: WorkspaceConfig) -> list[str]:
    if not ws.segments_dir.is_dir():
        return []
    return sorted(p.stem for p in ws.segments_dir.glob("*.yaml"))


@dataclass(frozen=True)
class SegmentSummary:
    """One line of ``segments list``: the segment's size, or why its file cannot be used."""

    name: str
    count: int | None
    description: str
    error: OutreachError | None = None


def summarise_segments(engine: Engine, ws: WorkspaceConfig) -> list[SegmentSummary]:
    """Every segment with its size. A broken file is listed with its error instead of stopping the
    list: one typo in one file must not hide the others."""
    out = []
    for name in list_segments(ws):
        try:
            seg = load_segment(ws, name)
            out.append(SegmentSummary(name, count_segment(engine, ws, seg), seg.description))
        except OutreachError as exc:  # its own file, or a segment it excludes
            out.append(SegmentSummary(name, None, "", exc))
    return out


def load_segment(ws: WorkspaceConfig, name: str) -> Segment:
    path = segment_path(ws, name)
    if not path.is_file():
        known = ", ".join(list_segments(ws)) or "none"
        raise NotFoundError(f"segment {name!r} not found: no {path} (segments: {known})")
    return parse_segment(name, load_yaml(path), fields_of(ws))


def parse_segment(name: str, doc: YamlDoc, registry: FieldSet = BUILTIN) -> Segment:
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"a segment is a mapping with keys {', '.join(SEGMENT_KEYS)}", **doc.at())
    for key in data:
        if key not in SEGMENT_KEYS:
            raise ConfigError(f"unknown key {key!r} (expected {', '.join(SEGMENT_KEYS)})",
                              path=doc.path, line=doc.key_line((key,)))
    where = data.get("where") or {}
    if not isinstance(where, dict):
        raise ConfigError("'where' must be a mapping of field: condition", **doc.at(('where',)))
    conditions: list[tuple[str, str, Any]] = []
    for fld, cond in where.items():
        conditions.extend(_parse_condition(doc, registry, str(fld), cond))
    exclude = data.get("exclude") or []
    if isinstance(exclude, str):
        exclude = [exclude]
    if not isinstance(exclude, list) or not all(isinstance(e, str) for e in exclude):
        raise ConfigError("'exclude' must be a list of segment names", **doc.at(('exclude',)))
    limit = data.get("limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ConfigError("'limit' must be a positive whole number", **doc.at(('limit',)))
    return Segment(
        name=name, path=doc.path, description=str(data.get("description") or ""),
        where=tuple(conditions), exclude=tuple(exclude), limit=limit, registry=registry,
    )  # fmt: skip


def _field(registry: FieldSet, fld: str) -> Field | None:
    """The field a condition names: the registry's, or an untyped custom column (compared as text)."""
    found = registry.get(fld)
    if found is None and fld.startswith("custom.") and len(fld) > len("custom."):
        return Field(fld, TEXT, source="custom")
    return found if found is not None and found.segments else None


def _parse_condition(doc: YamlDoc, registry: FieldSet, fld: str, cond: Any) -> list[tuple[str, str, Any]]:
    at = doc.at(("where", fld))
    found = _field(registry, fld)
    if found is None:
        fields = ", ".join((*(f.name for f in registry.searchable if f.source != "custom"), "custom.COLUMN"))
        raise ConfigError(f"unknown field {fld!r} (fields: {fields})", **at)
    kind, operators = found.kind.family, found.operators
    if not isinstance(cond, dict):
        cond = {"in": cond} if isinstance(cond, list) else {"eq": cond}
        if kind == "list":
            cond = {"any": cond.get("in", [cond.get("eq")])}
    out = []
    for op, value in cond.items():
        if op not in operators:
            raise ConfigError(f"unknown operator {op!r} for {fld} (operators: {', '.join(operators)})",
                              **doc.at(("where", fld, op)))
        out.append((fld, op, _check_value(doc.at(("where", fld, op)), kind, op, value)))
    return out


def _check_value(at: dict[str, Any], kind: str, op: str, value: Any) -> Any:
    if op in ("in", "not_in", "any", "all", "none") or (op == "contains" and isinstance(value, list)):
        values = value if isinstance(value, list) else [value]
        return tuple(_scalar(at, kind, v) for v in values)
    if op in ("older_than", "newer_than"):
        m = _AGE.match(str(value))
        if not m:
            raise ConfigError(f"{op} needs an age like 90d, 6w, 3m or 1y, not {value!r}", **at)
        n, unit = int(m.group(1)), m.group(2)
        return timedelta(days=n * {"d": 1, "w": 7, "m": 30, "y": 365}[unit])
    if op in ("never", "empty"):
        if not isinstance(value, bool):
            raise ConfigError(f"{op} takes true or false", **at)
        return value
    return _scalar(at, kind, value)


def _scalar(at: dict[str, Any], kind: str, value: Any) -> Any:
    if kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"expected a number, not {value!r}", **at)
        return value
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ConfigError(f"expected an ISO date (YYYY-MM-DD), not {value!r}", **at) from None
    if value is None or isinstance(value, dict | list):
        raise ConfigError(f"expected a value, not {value!r}", **at)
    return str(value)


# -- compiling -----------------------------------------------------------------


def _columns(registry: FieldSet) -> dict[str, Any]:
    """Field -> its SQL column, for the fields stored in a column (a derived field's SQL reads them)."""
    return {f.name: getattr(Company if f.source == "company" else Contact, f.key)
            for f in registry if f.source in ("column", "company")}  # fmt: skip


def _column(registry: FieldSet, f: Field) -> Any:
    if f.source == "custom":
        value = Contact.custom[f.key]
        return value.as_float() if f.kind.family == "number" else value.as_string()
    if f.source == "derived":
        assert f.expression is not None  # _field lets no other derived field through
        return f.expression(_columns(registry))
    return getattr(Company if f.source == "company" else Contact, f.key)


def _text_clause(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    low = func.lower(col)
    if op == "in":
        return low.in_([v.lower() for v in value])
    if op == "not_in":
        return or_(col.is_(None), low.not_in([v.lower() for v in value]))
    if op == "contains":  # a list: any of them ("Jakarta" matches "Jakarta Selatan" and "DKI Jakarta")
        values = value if isinstance(value, tuple) else (value,)
        return or_(*(low.contains(v.lower(), autoescape=True) for v in values))
    if op == "empty":
        blank = or_(col.is_(None), col == "")
        return blank if value else not_(blank)
    if op == "ne":
        return or_(col.is_(None), low != value.lower())
    return _compare(low, op, value.lower())


def _compare(col: Any, op: str, value: Any) -> ColumnElement[bool]:
    return {
        "eq": col == value, "ne": col != value, "lt": col < value,
        "lte": col <= value, "gt": col > value, "gte": col >= value,
    }[op]  # fmt: skip


def _clause(registry: FieldSet, fld: str, op: str, value: Any, today: date) -> ColumnElement[bool]:
    f = _field(registry, fld)
    assert f is not None  # checked when the segment was parsed
    kind, col = f.kind.family, _column(registry, f)
    if kind == "list":
        likes = [col.contains(f";{v.lower()};", autoescape=True) for v in value]
        return {"any": or_(*likes), "all": and_(*likes), "none": not_(or_(*likes))}[op]
    if kind == "text":
        return _text_clause(col, op, value)
    if kind == "number":
        if op == "in":
            return col.in_(value)
        if op == "not_in":
            return col.not_in(value)
        return _compare(col, op, value)
    if op == "older_than":
        return and_(col.is_not(None), col < today - value)
    if op == "newer_than":
        return and_(col.is_not(None), col >= today - value)
    if op == "never":
        return col.is_(None) if value else col.is_not(None)
    return _compare(col, op, value)


def segment_query(ws: WorkspaceConfig, segment: Segment, today: date | None = None,
                  _seen: tuple[str, ...] = ()) -> Select[Any]:  # fmt: skip
    """SELECT contacts.id of the segment: one statement, excludes as sub-selects."""
    today = today or datetime.now(ws.tz).date()
    if segment.name in _seen:
        chain = " -> ".join((*_seen, segment.name))
        raise ConfigError(f"{segment.path}: segments exclude each other in a cycle: {chain}")
    query = select(Contact.id).outerjoin(Company, Contact.company_id == Company.id)
    for fld, op, value in segment.where:
        query = query.where(_clause(segment.registry, fld, op, value, today))
    for other in segment.exclude:
        sub = segment_query(ws, load_segment(ws, other), today, (*_seen, segment.name))
        query = query.where(Contact.id.not_in(sub.scalar_subquery()))
    if segment.limit:
        never_first = case((Contact.last_contacted_at.is_(None), 0), else_=1)
        query = query.order_by(never_first, Contact.last_contacted_at, Contact.id)
        query = query.limit(segment.limit)
    return query


def contacts_query(ws: WorkspaceConfig, segment: Segment, today: date | None = None) -> Select[Any]:
    """Full contact rows of a segment, in id order, for streaming."""
    ids = segment_query(ws, segment, today).subquery()
    return select(Contact).where(Contact.id.in_(select(ids.c.id))).order_by(Contact.id)


def count_segment(engine: Engine, ws: WorkspaceConfig, segment: Segment) -> int:
    ids = segment_query(ws, segment).subquery()
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(ids)) or 0

