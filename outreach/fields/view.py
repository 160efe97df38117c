"""``ContactView``: a contact as templates (and the code around them) read it, made from a field set.

Plain data with an allow-list (``__template_fields__``), so a template can
reach nothing through it. The class is generated from a ``FieldSet``: one
dataclass field per field with a column (its value as the kind gives it: tags
a tuple, a date a date), a property per derived field, then ``custom`` (the
custom columns, ``contact.custom.KEY``). The built-in set's class is
``outreach.audience.contacts.ContactView``; a workspace whose set has more
fields gets its own class (``FieldSet.view``) with them.

``of`` reads an ORM contact, ``from_row`` a Core row of the sending engine's
claim (``storage.outbox.claim``): the contact's columns by name, the company's
as ``company_NAME``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from outreach.fields.registry import Field, FieldSet

if TYPE_CHECKING:
    from typing import Self


def company_label(column: str) -> str:
    """How the engine's claim names a column of the contact's company: ``company_name``."""
    return f"company_{column}"


class ViewBase:
    """What every contact view has, whatever its fields (generated subclasses hold those)."""

    fields: ClassVar[FieldSet]
    __template_fields__: ClassVar[frozenset[str]]
    _readers: ClassVar[tuple[tuple[str, str, str, Any], ...]]  # (name, column, how, kind.view)
    _row_readers: ClassVar[tuple[tuple[str, str, Any], ...]]  # (name, the claim's label, kind.view)
    _row_fallbacks: ClassVar[tuple[tuple[str, str, Any], ...]]  # (name, the company's label, kind.view)

    if TYPE_CHECKING:  # the generated dataclass's fields are the field set's: any name, any value
        id: int
        email: str
        custom: dict[str, str]

        def __init__(self, **values: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

    @classmethod
    def of(cls, c: Any) -> Self:
        """From an ORM ``Contact`` (its company loaded with it)."""
        company = c.company
        values: dict[str, Any] = {"id": c.id, "custom": dict(c.custom or {}), "updated_at": c.updated_at}
        for name, column, how, view in cls._readers:
            if how == "company":
                value = getattr(company, column) if company is not None else None
            else:
                value = getattr(c, column)
                if how == "inherit" and not value and company is not None:
                    value = getattr(company, column)
            values[name] = view(value)
        return cls(**values)

    @classmethod
    def from_row(cls, r: Any) -> Self:
        """From a Core row as the outbox claim returns it (``contact_id``, the contact's columns, the
        company's as ``company_NAME``); the email is the one the message goes to. Once per message
        sent: the readers are settled per class (``_row_readers``), a row is only read."""
        values: dict[str, Any] = {name: view(getattr(r, label)) for name, label, view in cls._row_readers}
        for name, fallback, view in cls._row_fallbacks:
            if not values[name]:
                values[name] = view(getattr(r, fallback))
        values.update(id=r.contact_id, email=r.email, custom=dict(r.custom or {}))
        return cls(**values)

    def value(self, name: str) -> Any:
        """A field's value by name, ``custom.KEY`` too (None when the contact has none)."""
        if name.startswith("custom."):
            return self.custom.get(name[len("custom."):])
        return getattr(self, name, None)

    def text(self, name: str) -> str:
        """A field's value as text (the contacts CSV, the caller's card)."""
        found = self.fields.get(name)
        value = self.value(name)
        return found.text(value) if found is not None else ("" if value is None else str(value))

    def csv_row(self, custom_columns: Iterable[str]) -> list[object]:
        """The contacts CSV's row: the field set's columns, then these custom columns."""
        return [*(self.text(c) for c in self.fields.columns), *(self.custom.get(c, "") for c in custom_columns)]


def _derived(f: Field) -> property:
    compute = f.compute
    assert compute is not None
    return property(lambda self: compute(self), doc=f.doc or f"{f.name}: derived")


def _how(f: Field) -> str:
    if f.source == "company":
        return "company"
    return "inherit" if f.inherits_company else "column"


def view_class(fields: FieldSet) -> type[ViewBase]:
    """A frozen dataclass ``ContactView`` with ``fields``' columns as its fields."""
    read = [f for f in fields if f.source in ("column", "company")]
    spec: list[tuple[str, Any, Any]] = [("id", int, dataclasses.field(default=0))]
    spec += [(f.name, Any, dataclasses.field(default=f.kind.view(f.default))) for f in read]
    spec.append(("custom", dict[str, str], dataclasses.field(default_factory=dict)))
    # naive UTC, not for templates (outside __template_fields__): the API's ``updated_since``
    spec.append(("updated_at", Any, dataclasses.field(default=None)))
    namespace: dict[str, Any] = {
        "fields": fields,
        "__template_fields__": fields.template_names,
        "_readers": tuple((f.name, f.key, _how(f), f.kind.view) for f in read),
        "_row_readers": tuple((f.name, company_label(f.key) if f.source == "company" else f.key, f.kind.view)
                              for f in read if f.name != "email"),
        "_row_fallbacks": tuple((f.name, company_label(f.key), f.kind.view) for f in read if f.inherits_company),
        "__doc__": "What templates see as ``contact``: plain data, no ORM, nothing to reach through.",
        **{f.name: _derived(f) for f in fields if f.source == "derived"},
    }
    cls = dataclasses.make_dataclass("ContactView", spec, bases=(ViewBase,), namespace=namespace, frozen=True)
    cls.__module__ = __name__
    return cls
