"""Contacts as records (the JSON API's ``POST /api/v1/contacts``), imported exactly as a CSV's rows are.

A record is a mapping of the contacts CSV's field names to their text, plus
``custom`` (key -> text). The records become one header (every field, then
every custom key any record has) and rows of cells, numbered by their index,
and go through the importer's own parsing and upsert (``import_records``): the
same validation, warnings, rule for a repeated email, and "an empty cell leaves
the stored value alone".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

from outreach.audience.contacts import COLUMNS
from outreach.audience.headers import HeaderPlan
from outreach.audience.importer import ImportOptions, ImportResult, RawRow, import_records

FIELDS = (*COLUMNS, "full_name")  # full_name: split into first and last name when those are empty


def records_plan(custom_keys: Sequence[str]) -> HeaderPlan:
    """The header of a request's records: each field its column, then each custom key its own."""
    header = (*FIELDS, *custom_keys)
    fields = {name: (i,) for i, name in enumerate(FIELDS)}
    custom = {len(FIELDS) + j: key for j, key in enumerate(custom_keys)}
    return HeaderPlan(header, fields, custom, mapped={i: name for i, name in enumerate(FIELDS)})


def upsert_records(engine: Engine, records: Sequence[Mapping[str, Any]], options: ImportOptions) -> ImportResult:
    """Import the records (line = index); see ``ImportResult.outcomes`` for each one's fate."""
    custom_keys = sorted({str(key) for record in records for key in (record.get("custom") or {})})
    plan = records_plan(custom_keys)
    rows: list[RawRow] = []
    for index, record in enumerate(records):
        custom = record.get("custom") or {}
        cells = [_text(record.get(name)) for name in FIELDS] + [_text(custom.get(key)) for key in custom_keys]
        rows.append((index, cells, None))
    return import_records(engine, plan, rows, options)


def _text(value: Any) -> str:
    return "" if value is None else str(value)
