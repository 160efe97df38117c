"""``fields:`` in outreach.yaml checked where it is written: each rule's ``when:`` and ``value:``.

A derived field's rules name other fields (in ``when:`` as a segment's
``where:`` does, and in a jinja ``value:`` as ``contact.NAME``). A name that is
not a field, an operator the field does not have, or a template that does not
parse is an error at its line of outreach.yaml, when the file is loaded, not
when a campaign renders. A rule may use the built-in fields, ``custom.KEY``,
and the derived fields defined above it (so there is never a cycle).

The fields themselves are made in ``audience/derived.py``; this only checks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from outreach.errors import ConfigError
from outreach.fields import BUILTIN, Field, FieldSet
from outreach.fields.conditions import ConditionError, parse_where
from outreach.fields.kinds import TEXT
from outreach.settings.yamlfile import YamlDoc

if TYPE_CHECKING:
    from outreach.settings.config import DerivedRule

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
JINJA = ("{{", "{%")


def is_template(value: str) -> bool:
    """A ``value:`` with jinja tags is rendered per contact; any other is the text itself."""
    return any(tag in value for tag in JINJA)


def placeholder_field(name: str) -> Field:
    """A derived field as far as checking the rules below it needs (a text segments can filter on)."""
    return Field(name, TEXT, source="derived", compute=lambda view: "", expression=lambda cols: None)


def check_derived_fields(fields: Mapping[str, Sequence[DerivedRule]], doc: YamlDoc | None) -> None:
    """Raise ``ConfigError`` at the line of the first rule that cannot work."""
    known = BUILTIN
    for name, rules in fields.items():
        where = ("fields", name)
        if not NAME.match(name):
            raise _error(doc, where, f"fields: {name!r} is not a field name (lowercase letters, digits and _)", True)
        if name in known:
            raise _error(doc, where, f"fields: {name!r} is already a contact field; give the derived one "
                                     "another name", True)  # fmt: skip
        if not rules:
            raise _error(doc, where, f"fields: {name} needs at least one rule (- value: ...)", True)
        for i, rule in enumerate(rules):
            if rule.when is not None:
                try:
                    parse_where(known, rule.when)
                except ConditionError as exc:
                    raise _error(doc, (*where, i, "when", *exc.loc), f"fields: {name}, rule {i + 1}: {exc}") from None
            _check_value(doc, (*where, i, "value"), name, i, rule.value, known)
        known = known.extend(placeholder_field(name))


def _check_value(doc: YamlDoc | None, where: tuple[Any, ...], name: str, i: int, value: str, known: FieldSet) -> None:
    if not is_template(value):
        return
    import jinja2
    from jinja2 import nodes

    try:
        tree = jinja2.Environment().parse(value)
    except jinja2.TemplateSyntaxError as exc:
        raise _error(doc, where, f"fields: {name}, rule {i + 1}: the value's template: {exc.message}") from None
    for attr in _contact_names(tree, nodes):
        if attr not in known.template_names:
            fields = ", ".join(sorted(known.template_names))
            raise _error(doc, where, f"fields: {name}, rule {i + 1}: contact.{attr} is not a contact field "
                                     f"(fields: {fields})")  # fmt: skip
    names = list(tree.find_all(nodes.Name))
    stored = {n.name for n in names if n.ctx in ("store", "param")}  # {% set %} and loop variables
    for found in names:
        if found.ctx == "load" and found.name not in ("contact", *stored):
            raise _error(doc, where, f"fields: {name}, rule {i + 1}: a value's template reads only "
                                     f"`contact`, not `{found.name}`")  # fmt: skip


def _contact_names(tree: Any, nodes: Any) -> Iterator[str]:
    for found in tree.find_all(nodes.Getattr):
        if isinstance(found.node, nodes.Name) and found.node.name == "contact":
            yield found.attr


def _error(doc: YamlDoc | None, where: tuple[Any, ...], message: str, key: bool = False) -> ConfigError:
    """At the value's line, or (``key``) at the line of the key itself (a field's name)."""
    if doc is None:
        return ConfigError(message)
    return ConfigError(message, path=doc.path, line=doc.key_line(where) if key else doc.line(where))
