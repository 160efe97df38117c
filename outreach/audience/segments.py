"""Segments: a YAML file compiled into one SQL query over contacts.

Filtering happens in the database, never in Python, so a segment of 100,000
contacts streams. A wrong field or operator is reported with file and line
when the segment is loaded, not when a campaign is half built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import BindParameter, Engine, Select, bindparam, case, func, select
from sqlalchemy.orm import Session

from outreach.audience.fields import fields_of
from outreach.audience.where import clause
from outreach.errors import ConfigError, NotFoundError, OutreachError
from outreach.fields import BUILTIN, FieldSet
from outreach.fields.conditions import Condition, ConditionError, holds, parse_condition, per_contact
from outreach.settings.workspace import WorkspaceConfig
from outreach.settings.yamlfile import YamlDoc, load_yaml
from outreach.storage.models import Company, Contact

# A field's operators come with its kind (``outreach.fields.kinds``): a text, phone, email or language
# field compares as text, ``transactions`` as a number, ``last_contacted_at`` as a date, ``tags`` as a
# list; ``custom.COLUMN`` as text unless the registry gives the custom field a kind.
SEGMENT_KEYS = ("description", "where", "exclude", "limit")


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


def _parse_condition(doc: YamlDoc, registry: FieldSet, fld: str, cond: Any) -> list[tuple[str, str, Any]]:
    try:
        return parse_condition(registry, fld, cond)
    except ConditionError as exc:
        raise ConfigError(str(exc), **doc.at(("where", *exc.loc))) from None


def segment_query(ws: WorkspaceConfig, segment: Segment, today: date | None = None,
                  _seen: tuple[str, ...] = (), engine: Engine | None = None) -> Select[Any]:  # fmt: skip
    """SELECT contacts.id of the segment: one statement, excludes as sub-selects. A condition on a derived
    field without SQL form (a jinja value) is evaluated in Python on the contacts the rest of the SQL leaves,
    which needs ``engine``; the statement then names those contacts."""
    today = today or datetime.now(ws.tz).date()
    if segment.name in _seen:
        chain = " -> ".join((*_seen, segment.name))
        raise ConfigError(f"{segment.path}: segments exclude each other in a cycle: {chain}")
    query = select(Contact.id).outerjoin(Company, Contact.company_id == Company.id)
    in_python = tuple(c for c in segment.where if per_contact(segment.registry, c[0]) is not None)
    for fld, op, value in segment.where:
        if (fld, op, value) not in in_python:
            query = query.where(clause(segment.registry, fld, op, value, today))
    for other in segment.exclude:
        sub = segment_query(ws, load_segment(ws, other), today, (*_seen, segment.name), engine)
        query = query.where(Contact.id.not_in(sub.scalar_subquery()))
    if in_python:
        query = select(Contact.id).where(Contact.id.in_(_evaluated(engine, segment, query, in_python, today)))
    if segment.limit:
        never_first = case((Contact.last_contacted_at.is_(None), 0), else_=1)
        query = query.order_by(never_first, Contact.last_contacted_at, Contact.id)
        query = query.limit(segment.limit)
    return query


def _evaluated(engine: Engine | None, segment: Segment, query: Select[Any], conditions: tuple[Condition, ...],
               today: date) -> BindParameter[Any]:  # fmt: skip
    """The ids, among the contacts ``query`` selects, for which ``conditions`` hold, computed per contact, as
    one literal list (any length: no bound parameter per id)."""
    names = ", ".join(dict.fromkeys(c[0] for c in conditions))
    if engine is None:
        raise ConfigError(f"{segment.path}: {names} is derived with a jinja value and is evaluated on each contact; "
                          "this use of the segment has no database to read them from")  # fmt: skip
    view, found = segment.registry.view, []
    with Session(engine) as session:
        rows = session.scalars(select(Contact).where(Contact.id.in_(query.scalar_subquery())).order_by(Contact.id)
                               .execution_options(yield_per=1000))  # fmt: skip
        found = [c.id for c in rows if holds(segment.registry, view.of(c), conditions, today)]
    return bindparam(f"per_contact_{segment.name}", found, expanding=True, literal_execute=True)


def contacts_query(ws: WorkspaceConfig, segment: Segment, today: date | None = None,
                   engine: Engine | None = None) -> Select[Any]:  # fmt: skip
    """Full contact rows of a segment, in id order, for streaming (``engine``: see ``segment_query``)."""
    ids = segment_query(ws, segment, today, engine=engine).subquery()
    return select(Contact).where(Contact.id.in_(select(ids.c.id))).order_by(Contact.id)


def count_segment(engine: Engine, ws: WorkspaceConfig, segment: Segment) -> int:
    ids = segment_query(ws, segment, engine=engine).subquery()
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(ids)) or 0

