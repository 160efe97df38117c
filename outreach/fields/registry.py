"""A contact field, and a set of them: the one place that says what a field is.

Everything that lists contact fields reads a ``FieldSet``: the database model
(columns), the import (columns, header synonyms, parsers, defaults), the
templates (``ContactView`` and its allow-list), the sending engine (the
contact columns its claim reads), segments (operators), lint's placeholder
contact and the caller's card. ``builtin.BUILTIN`` is the set every
workspace starts from; ``FieldSet.extend`` adds fields to a copy (a
workspace's derived fields, its typed custom columns).

Where a field's value comes from (``source``):

* ``column``: a column of ``contacts`` named like the field;
* ``company``: a column of the contact's company (``company`` is ``companies.name``);
* ``custom``: a key of the contact's custom fields (``custom.KEY``): the import
  parses the cell with the field's parser, segments compare by its kind;
* ``derived``: computed from the other fields (``compute``), for segments
  too when the field gives the same as SQL (``expression``); nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from outreach.fields import parsers
from outreach.fields.kinds import Kind
from outreach.fields.parsers import BadValue, CellContext, Parsed, Parser, RowError

if TYPE_CHECKING:
    from sqlalchemy.types import TypeEngine

    from outreach.fields.view import ViewBase

Source = Literal["column", "company", "custom", "derived"]
NAME = re.compile(r"^(?:custom\.)?[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Field:
    """One contact field. Only ``name`` and ``kind`` are needed; the rest says how it behaves."""

    name: str  # ``contact.NAME`` in templates, ``NAME`` in segments and the contacts CSV
    kind: Kind
    parse: Parser = parsers.text  # a sheet's cells -> (value, warning), or BadValue
    on_bad: Literal["reject", "warn"] = "reject"  # a bad cell rejects the row, or is left out with a warning
    default: Any = ""  # a new contact's value where its cell is empty (as stored)
    synonyms: tuple[str, ...] = ()  # header names of common exports, most specific first
    templates: bool = True  # templates see it as ``contact.NAME``
    card: str = ""  # its column on the caller's card and list; "" = callers do not see it
    label: str = ""  # how people read its name (the caller's card, docs); default: from the name
    source: Source = "column"
    column: str = ""  # the column it is stored in (default: the name); ``company``: of companies
    length: int = 0  # a text column's length (0: unlimited)
    several_columns: bool = False  # a sheet's other columns of it fill an empty cell (phone, city)
    fills_company: bool = False  # the import copies it to a company that has none
    inherits_company: bool = False  # empty on the contact: the company's value is the contact's
    compute: Callable[[Any], Any] | None = None  # derived: its value, from a contact view
    expression: Callable[[Mapping[str, Any]], Any] | None = None  # derived: the same in SQL, over columns
    example: str = ""  # a cell the import accepts (the docs show it; the registry's tests import it)
    placeholder: Any = None  # lint's and the preview's stand-in contact's value (default: "Sample LABEL")
    doc: str = ""  # one line for the documentation

    @property
    def stored(self) -> bool:
        """A column of ``contacts``: the import writes it, the engine's claim reads it."""
        return self.source == "column"

    @property
    def key(self) -> str:
        """Where the value lives: the column, or the custom key of a ``custom.KEY`` field."""
        if self.source == "custom":
            return self.name[len("custom."):]
        return self.column or self.name

    @property
    def segments(self) -> bool:
        """Segments can filter on it (a derived field, when it gives its SQL)."""
        return self.source != "derived" or self.expression is not None

    @property
    def operators(self) -> tuple[str, ...]:
        return self.kind.operators if self.segments else ()

    @property
    def title(self) -> str:
        return self.label or self.name.removeprefix("custom.").replace("_", " ").capitalize()

    def sql_type(self) -> TypeEngine[Any]:
        return self.kind.column(self.length)

    def read(self, cells: Sequence[str], ctx: CellContext) -> Parsed:
        """The non-empty cells of its columns -> (value or None, warning); RowError when the row goes."""
        try:
            return self.parse(self.name, cells, ctx)
        except BadValue as exc:
            if self.on_bad == "reject":
                raise RowError(str(exc), self.name) from None
            return None, str(exc)

    def text(self, value: Any) -> str:
        """A value as a cell or a line of text (dates ISO, tags ``a;b``, nothing as "")."""
        return self.kind.text(value)

    def stand_in(self) -> Any:
        """The placeholder contact's value: a text names itself, a number or a date is its default."""
        if self.placeholder is not None:
            return self.placeholder
        return f"Sample {self.title}" if self.kind.family == "text" else self.kind.view(self.default)


class FieldSet:
    """The fields of one workspace, in order: the built-in ones, then what was added."""

    def __init__(self, fields: Iterable[Field]) -> None:
        self._fields = tuple(fields)
        self._by_name: dict[str, Field] = {}
        for f in self._fields:
            if not NAME.match(f.name):
                raise ValueError(f"field name {f.name!r}: lowercase letters, digits and _, or custom.KEY")
            if f.name in self._by_name:
                raise ValueError(f"field {f.name!r} is defined twice")
            if (f.source == "custom") != f.name.startswith("custom."):
                raise ValueError(f"field {f.name!r}: a custom.KEY name is exactly a custom field")
            if f.source == "custom" and f.kind.family not in ("text", "number"):
                raise ValueError(f"custom field {f.name!r}: a custom column is text or a number")
            if f.source == "derived" and f.compute is None:
                raise ValueError(f"derived field {f.name!r} needs compute")
            self._by_name[f.name] = f

    def extend(self, *fields: Field) -> FieldSet:
        """A new set: these fields after this set's (a name already here is an error, not a replacement)."""
        return FieldSet((*self._fields, *fields))

    def __iter__(self) -> Iterator[Field]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Field:
        return self._by_name[name]

    def get(self, name: str) -> Field | None:
        return self._by_name.get(name)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled into the import's workers without the (generated, unpicklable) view class."""
        return {"_fields": self._fields, "_by_name": self._by_name}

    # -- what the rest of outreach reads ---------------------------------------------------

    @cached_property
    def stored(self) -> tuple[Field, ...]:
        """The fields with a column of ``contacts``."""
        return tuple(f for f in self._fields if f.stored)

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """The contacts CSV's columns (the import's and ``contacts list``'s), custom columns after."""
        return tuple(f.name for f in self._fields if f.source in ("column", "company"))

    @cached_property
    def importable(self) -> tuple[Field, ...]:
        """What a sheet's column can be: the fields of the contacts CSV, and a derived field the
        import can take apart (``full_name``) when it has header synonyms."""
        return tuple(f for f in self._fields if f.source in ("column", "company") or
                     (f.source == "derived" and f.synonyms))  # fmt: skip

    @cached_property
    def template_names(self) -> frozenset[str]:
        """What ``contact.`` offers a template: the fields templates see, and ``custom``."""
        return frozenset({*(f.name for f in self._fields if f.templates and f.source != "custom"), "custom"})

    @cached_property
    def requirable(self) -> tuple[str, ...]:
        """What a campaign's ``require:`` may name (a number or a list is never missing)."""
        return tuple(sorted(f.name for f in self._fields if f.templates and f.kind.requirable
                            and f.source != "custom"))  # fmt: skip

    @cached_property
    def card(self) -> tuple[Field, ...]:
        """What callers see of a contact, in order."""
        return tuple(f for f in self._fields if f.card)

    @cached_property
    def searchable(self) -> tuple[Field, ...]:
        """The fields segments can filter on."""
        return tuple(f for f in self._fields if f.segments)

    @cached_property
    def company_fills(self) -> tuple[str, ...]:
        return tuple(f.name for f in self._fields if f.fills_company)

    @cached_property
    def new_contact(self) -> dict[str, Any]:
        """The stored fields a row may set (all but the email, the key), each with a new contact's default."""
        return {f.name: f.default for f in self.stored if f.name != "email"}

    def placeholder(self, **values: Any) -> ViewBase:
        """A stand-in contact with a value in every field (``values`` given win): lint checks a
        campaign's content with it when its segment has nobody yet, the preview shows it."""
        read = {f.name: f.stand_in() for f in self._fields if f.source in ("column", "company")}
        return self.view(**{"id": 0, **read, **values})

    @cached_property
    def view(self) -> type[ViewBase]:
        """The ``ContactView`` class of this set: what templates see as ``contact``."""
        from outreach.fields.view import view_class

        return view_class(self)
