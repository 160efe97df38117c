"""A parsed condition (``outreach.fields.conditions``) as SQL over ``contacts`` joined to ``companies``.

Segments put one clause per condition in their query; a derived field's rules
become a ``CASE`` of them (``audience/derived.py``). ``fields.conditions.holds``
is the same in Python, for one contact.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, true

from outreach.fields import Field, FieldSet
from outreach.fields.conditions import field_of
from outreach.storage.models import Company, Contact


def columns(registry: FieldSet) -> dict[str, Any]:
    """Field -> its SQL column, for the fields stored in a column (a derived field's SQL reads them)."""
    return {f.name: getattr(Company if f.source == "company" else Contact, f.key)
            for f in registry if f.source in ("column", "company")}  # fmt: skip


def column(registry: FieldSet, f: Field) -> Any:
    if f.source == "custom":
        value = Contact.custom[f.key]
        return value.as_float() if f.kind.family == "number" else value.as_string()
    if f.source == "derived":
        assert f.expression is not None  # field_of lets no other derived field through
        return f.expression(columns(registry))
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


def clause(registry: FieldSet, fld: str, op: str, value: Any, today: date) -> ColumnElement[bool]:
    f = field_of(registry, fld)
    assert f is not None  # checked when the condition was parsed
    kind, col = f.kind.family, column(registry, f)
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


def all_of(registry: FieldSet, conditions: tuple[tuple[str, str, Any], ...], today: date) -> ColumnElement[bool]:
    """Every condition, as one SQL boolean (no condition: true)."""
    parts = [clause(registry, fld, op, value, today) for fld, op, value in conditions]
    return and_(true(), *parts)
