"""Each field's parser: a sheet's cells for one field -> (value, warning), or ``BadValue``.

A parser gets the non-empty cells of the columns the field is read from (most
fields read the first; a phone tries them all) and the import's context (the
default phone region, the senders). It returns the value and, where the cell
was usable only in part, a warning; it raises ``BadValue`` when the cell is
unusable, and the field's ``on_bad`` decides what that costs: the row
(``reject``) or only the value (``warn``: the contact is kept without it).

Parsers are module-level functions (or instances of a module-level class), so a
field pickles into the import's worker processes; the libraries they use are
imported when a row is parsed, not when the registry is (every command imports
the registry through the database models).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

Parsed = tuple[Any, str | None]


class RowError(ValueError):
    """One row is unusable; the message is the reason written to the rejects file, ``field`` the field at
    fault when one is (the API names it beside the item's index)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class BadValue(ValueError):
    """A cell this field cannot use; the message says why, naming the field and the value."""


class CellContext(Protocol):
    """What a parser may know of the import besides the cell (``ImportOptions`` is one)."""

    @property
    def region(self) -> str: ...  # phones without a country code are read as this country's

    @property
    def senders(self) -> Mapping[str, tuple[str, str]]: ...  # key -> (name, email)


@dataclass(frozen=True)
class Plain:
    """The context of a value typed by a person (the app, a caller's correction): no senders to
    resolve an owner against, phones in Indonesia."""

    region: str = "ID"
    senders: Mapping[str, tuple[str, str]] = field(default_factory=dict)


Parser = Callable[[str, Sequence[str], CellContext], Parsed]


def text(_name: str, cells: Sequence[str], _ctx: CellContext) -> Parsed:
    return cells[0], None


def email(_name: str, cells: Sequence[str], _ctx: CellContext) -> Parsed:
    from outreach.fields.cells import normalise_email

    try:
        return normalise_email(cells[0]), None
    except RowError as exc:
        raise BadValue(str(exc)) from None


def phone(_name: str, cells: Sequence[str], ctx: CellContext) -> Parsed:
    from outreach.fields.cells import parse_phone

    found = parse_phone(list(cells), ctx.region)
    if found.e164 is None and found.warning:
        raise BadValue(found.warning)
    return found.e164, found.warning  # (None, None): the cells were only separators, nothing to say


def owner(_name: str, cells: Sequence[str], ctx: CellContext) -> Parsed:
    from outreach.fields.cells import resolve_owner

    return resolve_owner(cells[0], ctx.senders)


def language(_name: str, cells: Sequence[str], _ctx: CellContext) -> Parsed:
    from outreach.fields.cells import parse_language

    code, warning = parse_language(cells[0])
    if code is None:
        raise BadValue(warning or f"language {cells[0]!r} is not id or en")
    return code, None


def tags(_name: str, cells: Sequence[str], _ctx: CellContext) -> Parsed:
    from outreach.fields.cells import parse_tags

    return parse_tags(cells[0]), None


def whole_number(name: str, cells: Sequence[str], _ctx: CellContext) -> Parsed:
    try:
        number = int(cells[0])
    except ValueError:
        raise BadValue(f"{name} {cells[0]!r} is not a whole number") from None
    if number < 0:
        raise BadValue(f"{name} cannot be negative")
    return number, None


def iso_date(name: str, cells: Sequence[str], _ctx: CellContext) -> Parsed:
    try:
        return date.fromisoformat(cells[0][:10]), None
    except ValueError:
        raise BadValue(f"{name} {cells[0]!r} is not an ISO date (YYYY-MM-DD)") from None


def timezone(name: str, cells: Sequence[str], _ctx: CellContext) -> Parsed:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(cells[0])
    except (ZoneInfoNotFoundError, ValueError):
        raise BadValue(f"{name} {cells[0]!r} is not an IANA timezone name") from None
    return cells[0], None


@dataclass(frozen=True)
class Choice:
    """One of a few words, in any case (``Existing`` -> ``existing``)."""

    values: tuple[str, ...]

    def __call__(self, name: str, cells: Sequence[str], _ctx: CellContext) -> Parsed:
        value = cells[0].lower()
        if value not in self.values:
            raise BadValue(f"{name} {cells[0]!r} is not one of: {', '.join(self.values)}")
        return value, None
