"""A condition on a contact field, as a segment's ``where:`` writes it: parsed once, evaluated two ways.

``field: value``, ``field: [a, b]`` or ``field: {operator: value}``; the
operators are the field's kind's (``outreach.fields.kinds``). Segments compile
conditions into SQL (``audience/where.py``); a derived field's ``when:`` is
evaluated on one contact in Python by ``holds`` (templates, the preview, lint)
and in SQL for segments, and ``holds`` follows the SQL's rules (text compared
without case, a missing value equal to nothing, dates against today), which
tests/audience/test_derived.py checks on the same contacts both ways.

A parse error is a ``ConditionError`` with the keys under ``where:`` where it
is (``loc``), so whoever read the YAML names the line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from outreach.fields.kinds import TEXT
from outreach.fields.registry import Field, FieldSet

_AGE = re.compile(r"^\s*(\d+)\s*(d|w|m|y)\s*$")
Condition = tuple[str, str, Any]  # (field, operator, value)


class ConditionError(ValueError):
    """A condition that cannot be used; ``loc`` is where it is below ``where:`` (field, operator)."""

    def __init__(self, message: str, loc: tuple[str, ...]) -> None:
        super().__init__(message)
        self.loc = loc


def field_of(registry: FieldSet, fld: str) -> Field | None:
    """The field a condition names: the registry's, or an untyped custom column (compared as text)."""
    found = registry.get(fld)
    if found is None and fld.startswith("custom.") and len(fld) > len("custom."):
        return Field(fld, TEXT, source="custom")
    return found if found is not None and found.segments else None


def per_contact(registry: FieldSet, fld: str) -> Field | None:
    """A derived field with no SQL form (a jinja value): a segment evaluates it on each contact its other
    conditions leave (``audience/segments.py``)."""
    found = registry.get(fld)
    return found if found is not None and found.source == "derived" and found.expression is None else None


def parse_where(registry: FieldSet, where: Mapping[Any, Any]) -> list[Condition]:
    out: list[Condition] = []
    for fld, cond in where.items():
        out.extend(parse_condition(registry, str(fld), cond))
    return out


def parse_condition(registry: FieldSet, fld: str, cond: Any) -> list[Condition]:
    found = field_of(registry, fld) or per_contact(registry, fld)
    if found is None:
        fields = ", ".join((*(f.name for f in registry.searchable if f.source != "custom"), "custom.COLUMN"))
        raise ConditionError(f"unknown field {fld!r} (fields: {fields})", (fld,))
    kind, operators = found.kind.family, found.kind.operators
    if not isinstance(cond, dict):
        cond = {"in": cond} if isinstance(cond, list) else {"eq": cond}
        if kind == "list":
            cond = {"any": cond.get("in", [cond.get("eq")])}
    out = []
    for op, value in cond.items():
        if op not in operators:
            raise ConditionError(f"unknown operator {op!r} for {fld} (operators: {', '.join(operators)})", (fld, op))
        out.append((fld, op, _check_value((fld, op), kind, op, value)))
    return out


def _check_value(loc: tuple[str, ...], kind: str, op: str, value: Any) -> Any:
    if op in ("in", "not_in", "any", "all", "none") or (op == "contains" and isinstance(value, list)):
        values = value if isinstance(value, list) else [value]
        return tuple(_scalar(loc, kind, v) for v in values)
    if op in ("older_than", "newer_than"):
        m = _AGE.match(str(value))
        if not m:
            raise ConditionError(f"{op} needs an age like 90d, 6w, 3m or 1y, not {value!r}", loc)
        n, unit = int(m.group(1)), m.group(2)
        return timedelta(days=n * {"d": 1, "w": 7, "m": 30, "y": 365}[unit])
    if op in ("never", "empty"):
        if not isinstance(value, bool):
            raise ConditionError(f"{op} takes true or false", loc)
        return value
    return _scalar(loc, kind, value)


def _scalar(loc: tuple[str, ...], kind: str, value: Any) -> Any:
    if kind == "number":
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConditionError(f"expected a number, not {value!r}", loc)
        return value
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise ConditionError(f"expected an ISO date (YYYY-MM-DD), not {value!r}", loc) from None
    if value is None or isinstance(value, dict | list):
        raise ConditionError(f"expected a value, not {value!r}", loc)
    return str(value)


# -- one contact, in Python ------------------------------------------------------------------


def holds(registry: FieldSet, view: Any, conditions: tuple[Condition, ...], today: date) -> bool:
    """Every condition holds for the contact ``view`` (a ``ContactView``), by the SQL's rules."""
    return all(_holds(registry, view, c, today) for c in conditions)


def _holds(registry: FieldSet, view: Any, cond: Condition, today: date) -> bool:
    fld, op, value = cond
    f = field_of(registry, fld) or per_contact(registry, fld)
    assert f is not None  # checked when the condition was parsed
    raw = view.value(fld)
    kind = f.kind.family
    if kind == "list":
        tags = {str(t).lower() for t in (raw or ())}
        hits = [v.lower() in tags for v in value]
        return {"any": any(hits), "all": all(hits), "none": not any(hits)}[op]
    if kind == "number":
        return _number(raw, op, value)
    if kind == "date":
        return _date(raw, op, value, today)
    return _text(None if raw is None else str(raw), op, value)


def _text(raw: str | None, op: str, value: Any) -> bool:
    low = raw.lower() if raw is not None else None
    if op == "empty":
        return (not raw) == value
    if op == "in":
        return low is not None and low in {v.lower() for v in value}
    if op == "not_in":
        return low is None or low not in {v.lower() for v in value}
    if op == "ne":
        return low is None or low != value.lower()
    if low is None:
        return False
    if op == "contains":
        values = value if isinstance(value, tuple) else (value,)
        return any(v.lower() in low for v in values)
    return _compare(low, op, value.lower())


def _number(raw: Any, op: str, value: Any) -> bool:
    if raw is None or raw == "":
        return False  # SQL: NULL compares to nothing, NOT IN included
    try:
        number = float(raw)
    except (TypeError, ValueError):
        return False
    if op == "in":
        return number in value
    if op == "not_in":
        return number not in value
    return _compare(number, op, value)


def _date(raw: Any, op: str, value: Any, today: date) -> bool:
    if op == "never":
        return (raw is None or raw == "") == value
    if not isinstance(raw, date):
        return False
    if op == "older_than":
        return raw < today - value
    if op == "newer_than":
        return raw >= today - value
    return _compare(raw, op, value)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if op == "lt":
        return bool(left < right)
    if op == "lte":
        return bool(left <= right)
    if op == "gt":
        return bool(left > right)
    return bool(left >= right)
