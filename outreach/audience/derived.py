"""Derived contact fields: ``fields:`` in outreach.yaml, computed per contact, never stored.

Each field is a list of rules; the first whose ``when:`` holds (a segment's
``where:``; a rule without one always holds) gives the value, a text or a jinja
template over ``contact`` rendered in the templates' sandbox. No rule: empty.

* Templates, the preview, lint and the caller's card read the field through the
  workspace's ``ContactView`` (``FieldSet.view``): ``compute`` runs the rules in
  Python (``fields.conditions.holds``).
* Segments filter on it in SQL: the rules become one ``CASE WHEN ... THEN 'text'``
  over the same conditions (``audience/where.py``), so ``where: {payment_terms:
  "30 hari"}`` is one query however many contacts there are. A field with a
  jinja ``value:`` has no SQL form: a segment's SQL selects the contacts its other
  conditions allow, and the rules run in Python on those (see docs/admin.md).

Rules were checked at their lines when outreach.yaml was loaded
(``settings/derived.py``); here they are only compiled, once per set of rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, literal, null

from outreach.audience.where import all_of
from outreach.fields import BUILTIN, Field, FieldSet
from outreach.fields.conditions import Condition, holds, parse_where
from outreach.fields.kinds import TEXT
from outreach.settings.config import DerivedRule
from outreach.settings.derived import is_template
from outreach.settings.workspace import WorkspaceConfig


def workspace_fields(ws: WorkspaceConfig) -> FieldSet:
    """The built-in fields and the workspace's derived ones (the same object for the same rules)."""
    if not ws.settings.fields:
        return BUILTIN
    rules = {name: [r.model_dump(mode="json") for r in group] for name, group in ws.settings.fields.items()}
    return _compiled(json.dumps(rules), ws.settings.timezone)


@lru_cache(maxsize=16)
def _compiled(rules_json: str, timezone: str) -> FieldSet:
    raw: dict[str, list[dict[str, Any]]] = json.loads(rules_json)
    fields = BUILTIN
    for name, group in raw.items():
        rules = [DerivedRule.model_validate(r) for r in group]
        fields = fields.extend(derived_field(name, rules, fields, ZoneInfo(timezone)))
    return fields


def derived_field(name: str, rules: Sequence[DerivedRule], known: FieldSet, tz: ZoneInfo) -> Field:
    """One derived field from its rules; ``known``: the fields its rules may read."""
    compiled = tuple((tuple(parse_where(known, r.when or {})), r.value) for r in rules)
    computed = Rules(compiled, known, tz.key)
    reads = sorted({f for conds, _ in compiled for f, _op, _v in conds})
    doc = f"derived: {len(rules)} rule(s) over {', '.join(reads) or 'nothing'} (outreach.yaml fields:)"
    # no SQL form: a jinja value, or a rule reading a field that has none (segments evaluate it per contact)
    per_contact = any(is_template(value) for _, value in compiled) or any(
        known[f].source == "derived" and known[f].expression is None for f in reads if f in known)
    return Field(name, TEXT, source="derived", compute=computed, card=name, placeholder=_stand_in(compiled),
                 expression=None if per_contact else Case(compiled, known, tz.key), doc=doc)  # fmt: skip


class Rules:
    """A derived field's value for one contact view: the first rule that holds. A plain object (no closure), so
    the field set pickles into the import's worker processes; its templates are compiled on first use."""

    def __init__(self, compiled: tuple[tuple[tuple[Condition, ...], str], ...], known: FieldSet, tz: str) -> None:
        self.compiled, self.known, self.tz = compiled, known, tz
        self.dated = any(known[f].kind.family == "date" for conds, _ in compiled for f, _op, _v in conds
                         if f in known)  # fmt: skip
        self._templates: dict[int, Any] | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_templates": None}

    def __call__(self, view: Any) -> str:
        if self._templates is None:
            self._templates = _templates([value for _, value in self.compiled])
        today = datetime.now(ZoneInfo(self.tz)).date() if self.dated else date.min
        for i, (conditions, value) in enumerate(self.compiled):
            if holds(self.known, view, conditions, today):
                template = self._templates.get(i)
                return value if template is None else str(template.render(contact=view)).strip()
        return ""


class Case:
    """The same rules as SQL: ``CASE WHEN <rule 1> THEN 'value 1' ... ELSE NULL END`` (texts only)."""

    def __init__(self, compiled: tuple[tuple[tuple[Condition, ...], str], ...], known: FieldSet, tz: str) -> None:
        self.compiled, self.known, self.tz = compiled, known, tz

    def __call__(self, _columns: Mapping[str, Any]) -> Any:
        today = datetime.now(ZoneInfo(self.tz)).date()
        whens = [(all_of(self.known, conditions, today), literal(value)) for conditions, value in self.compiled]
        return case(*whens, else_=null())


def _templates(values: list[str]) -> dict[int, Any]:
    """The jinja values, compiled in the templates' sandbox (loaded only when a rule has one: a command that
    reads contacts must not load the renderer for a plain "30 hari")."""
    if not any(is_template(v) for v in values):
        return {}
    from outreach.content.rendering import text_template

    return {i: text_template(v) for i, v in enumerate(values) if is_template(v)}


def _stand_in(compiled: tuple[tuple[tuple[Condition, ...], str], ...]) -> str:
    """Lint's and the preview's stand-in contact shows the first literal value a rule gives."""
    return next((value for _, value in compiled if not is_template(value)), "Sample value")
