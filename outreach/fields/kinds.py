"""The kinds of contact field: how a value is stored, shown, compared by segments.

A kind says what every field of it shares: the column type, the value
templates get (``tags`` as a tuple, a date as a date), how a value is written
as text (the contacts CSV, the caller's card) and which operators a segment
may use on it. What differs from field to field (the parser, the default, the
synonyms, who sees it) is the field's own, in ``registry.Field``.

Segments compile each operator family (``text``, ``number``, ``date``,
``list``) into SQL; the kinds of text (phone, email, language) compare as text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Date, Integer, String, Text
from sqlalchemy.types import TypeEngine

COMPARE = ("eq", "ne", "lt", "lte", "gt", "gte")
OPERATORS = {
    "text": COMPARE + ("in", "not_in", "contains", "empty"),
    "number": COMPARE + ("in", "not_in"),
    "date": COMPARE + ("older_than", "newer_than", "never"),
    "list": ("any", "all", "none"),
}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else _text(value)


def _tags(stored: Any) -> tuple[str, ...]:
    """``";a;b;"`` (so ``LIKE '%;a;%'`` finds a tag) -> ``("a", "b")``."""
    return tuple(t for t in (stored or "").split(";") if t)


def _same(value: Any) -> Any:
    return value


def _or_empty(value: Any) -> Any:
    return "" if value is None else value


@dataclass(frozen=True)
class Kind:
    name: str  # text, number, date, phone, email, language, list
    family: str  # the segment operators' family: text, number, date, list
    column: Callable[[int], TypeEngine[Any]]  # the SQL type, given a length for strings
    view: Callable[[Any], Any] = _or_empty  # the stored value -> what templates and code read
    text: Callable[[Any], str] = _text  # a view value -> a CSV cell or a line on the caller's card
    requirable: bool = True  # a campaign's ``require:`` may name it (an empty value means "missing")

    @property
    def operators(self) -> tuple[str, ...]:
        return OPERATORS[self.family]


def _string(length: int) -> TypeEngine[Any]:
    return String(length) if length else Text()


def _integer(_length: int) -> TypeEngine[Any]:
    return Integer()


def _date(_length: int) -> TypeEngine[Any]:
    return Date()


def _long_text(_length: int) -> TypeEngine[Any]:
    return Text()


def _joined(values: Any) -> str:
    return ";".join(values)


TEXT = Kind("text", "text", _string)
PHONE = Kind("phone", "text", _string)  # E.164, ``+6281234567890``
EMAIL = Kind("email", "text", _string)  # normalised, lowercase, ASCII
LANGUAGE = Kind("language", "text", _string)  # ``id`` | ``en`` | "" (the workspace's)
NUMBER = Kind("number", "number", _integer, view=_same, requirable=False)
DATE = Kind("date", "date", _date, view=_same, text=_day)
LIST = Kind("list", "list", _long_text, view=_tags, text=_joined, requirable=False)

KINDS = {k.name: k for k in (TEXT, NUMBER, DATE, PHONE, EMAIL, LANGUAGE, LIST)}
