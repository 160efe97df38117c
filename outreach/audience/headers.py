"""Which spreadsheet column holds which contact field: resolved once per file, before any row.

People import what their tools export: Outlook, Google Contacts, HubSpot,
Salesforce, LinkedIn, Excel sheets typed by hand, in English or Indonesian.
The same field goes by many names there (``E-mail Address``, ``E-mail 1 -
Value``, ``Primary Email``, ``Alamat Email``), so a header is compared in a
normalised form (case, spaces, punctuation, accents and bracketed notes like
``[Required]`` ignored) against a table of synonyms per field, most specific
first. ``--map COLUMN=FIELD`` settles the rest.

The result is a :class:`HeaderPlan`: for each field the columns to read, in
order (a phone is taken from ``Mobile Phone``, else ``Business Phone``, ...),
and the columns kept as custom fields. Rows are then parsed against the plan
without looking at header names again.

Column names of the exports were taken from the exporters' own files: Outlook's
contacts CSV (First Name ... E-mail Address ... Mobile Phone, Business Phone,
Company, Job Title, Business City, Categories), Google Contacts' two layouts
(Given Name / Family Name, Organization 1 - Name, E-mail 1 - Value, and the
newer First Name / Organization Name / Labels), HubSpot's contact export
(Email, Phone Number, Mobile Phone Number, Company Name, Contact owner, Last
Contacted), Salesforce reports (Account Name, Mobile, Mailing City, Contact
Owner) and LinkedIn's Connections.csv (Email Address, Company, Position).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from outreach.errors import InputError
from outreach.fields import BUILTIN, FieldSet

# Pseudo-field: read from the sheet, then folded into last_name (full_name is a field: the registry's).
MIDDLE_NAME = "middle_name"
IGNORE = "ignore"
# Each field's header names come from the registry (``Field.synonyms``), most specific first. Where a
# sheet has several of them, the first that has a value in a row wins for that row (a field of
# ``several_columns``) or the first column is the field and the others are kept as custom fields.
PSEUDO_SYNONYMS = {MIDDLE_NAME: ("middle name", "additional name", "nama tengah")}
# a column that lost its field to a better one, kept as a custom field under a name saying what it holds
RENAMED = {"title": "salutation"}  # Outlook's "Title" is Mr./Mrs./Dr. when "Job Title" is there


def field_names(fields: FieldSet = BUILTIN) -> tuple[str, ...]:
    """What a column can be read as (``--map COLUMN=FIELD``): the fields, then the pseudo-field."""
    return (*(f.name for f in fields.importable), *PSEUDO_SYNONYMS)


def synonyms(fields: FieldSet = BUILTIN) -> dict[str, tuple[str, ...]]:
    """Field -> its header names, most specific first (a typed custom field's too: its column is kept
    under its key)."""
    custom = {f.name: f.synonyms for f in fields if f.source == "custom" and f.synonyms}
    return {**{f.name: f.synonyms for f in fields.importable}, **PSEUDO_SYNONYMS, **custom}


def normalise(header: str) -> str:
    """``" E-mail Address [Required]"`` -> ``"emailaddress"``: what two headers must share to match."""
    text = re.sub(r"\[[^\]]*\]|\((?:required|optional|wajib)\)", "", header, flags=re.I)
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text.casefold() if c.isalnum())


def custom_key(header: str) -> str:
    """The name a custom column gets: ``"Jumlah Karyawan"`` -> ``jumlah_karyawan``, reachable as
    ``contact.custom.jumlah_karyawan`` in templates and segments."""
    text = unicodedata.normalize("NFKD", header.strip()).encode("ascii", "ignore").decode()
    key = re.sub(r"[^0-9a-z]+", "_", text.casefold()).strip("_")
    return key or "column"


@lru_cache(maxsize=8)
def _lookup(fields: FieldSet) -> dict[str, tuple[str, int]]:
    """Normalised header -> (field, rank among the field's synonyms)."""
    found: dict[str, tuple[str, int]] = {}
    for name, names in synonyms(fields).items():
        for rank, header in enumerate(names):
            found.setdefault(normalise(header), (name, rank))
    return found


@dataclass(frozen=True)
class HeaderPlan:
    """How one file's columns are read: settled once, then applied to every row."""

    header: tuple[str, ...]  # the names as the file has them
    fields: Mapping[str, tuple[int, ...]]  # field -> column indexes, the first non-empty one wins
    custom: Mapping[int, str]  # column index -> custom field key
    ignored: tuple[int, ...] = ()
    header_line: int = 1  # where the header was found (an export may put notes above it)
    mapped: Mapping[int, str] = field(default_factory=dict)  # column index -> field, for the summary
    registry: FieldSet = BUILTIN  # the fields the columns were read as

    def source(self, field_name: str) -> str | None:
        """The header of the column a field is read from first, or None."""
        cols = self.fields.get(field_name)
        return self.header[cols[0]] if cols else None

    def describe(self) -> list[str]:
        """``'E-mail Address' -> email`` for every column not already named like its field."""
        out = []
        for field_name in field_names(self.registry):
            for i in self.fields.get(field_name, ()):
                if self.header[i].strip().lower() != field_name:
                    out.append(f"{self.header[i]!r} -> {field_name}")
        return out


def parse_mapping(items: Sequence[str], fields: FieldSet = BUILTIN) -> dict[str, str]:
    """``["Nama PIC=full_name", "Kode=custom.kode"]`` -> {normalised column: field}; bad input raises."""
    out: dict[str, str] = {}
    known = field_names(fields)
    for item in items:
        column, sep, target = item.rpartition("=")  # a field has no "=", a column's name may
        column, target = column.strip(), target.strip()
        if not sep or not column or not target:
            raise InputError(f"--map {item!r}: write COLUMN=FIELD, e.g. --map 'Nama PIC=full_name'")
        if target not in known and target != IGNORE and not _custom_target(target):
            raise InputError(f"--map {item!r}: {target!r} is not a field "
                             f"(fields: {', '.join(known)}, custom.NAME, {IGNORE})")  # fmt: skip
        out[normalise(column)] = target
    return out


def _custom_target(target: str) -> bool:
    return target.startswith("custom.") and custom_key(target[len("custom."):]) == target[len("custom."):]


def plan_header(header: Sequence[str], mapping: Mapping[str, str] | None = None, *,
                path: Path | None = None, line: int = 1, registry: FieldSet = BUILTIN) -> HeaderPlan:  # fmt: skip
    """Settle which column is which field; ``mapping`` (from ``--map``) wins over the synonyms."""
    mapping = dict(mapping or {})
    lookup = _lookup(registry)
    several = {f.name for f in registry if f.several_columns}
    names = [h.strip() for h in header]
    keys = [normalise(h) for h in names]
    unknown = [c for c in mapping if c not in keys]
    if unknown:
        raise InputError(f"--map names no column of this file: {', '.join(repr(c) for c in unknown)} "
                         f"(columns: {', '.join(n for n in names if n)})", path=path, line=line)  # fmt: skip
    candidates: dict[str, list[tuple[int, int]]] = {}  # field -> [(rank, column)]
    custom: dict[int, str] = {}
    ignored: list[int] = []
    for i, key in enumerate(keys):
        if not names[i]:
            ignored.append(i)
            continue
        target = mapping.get(key)
        if target == IGNORE:
            ignored.append(i)
        elif target is not None and target.startswith("custom."):
            custom[i] = target[len("custom."):]
        elif target is not None:
            candidates.setdefault(target, []).append((-1, i))  # --map comes first
        elif key in lookup and lookup[key][0].startswith("custom."):
            custom[i] = lookup[key][0][len("custom."):]
        elif key in lookup:
            field_name, rank = lookup[key]
            candidates.setdefault(field_name, []).append((rank, i))
        else:
            custom[i] = custom_key(names[i])
    fields: dict[str, tuple[int, ...]] = {}
    for field_name, found in candidates.items():
        ordered = [i for _rank, i in sorted(found)]
        if field_name in several:
            fields[field_name] = tuple(ordered)
        else:
            fields[field_name] = (ordered[0],)
            for i in ordered[1:]:  # a second "Title" beside "Job Title" (Outlook's Mr./Mrs.) is kept, not lost
                custom[i] = RENAMED.get(custom_key(names[i]), custom_key(names[i]))
    mapped = {i: f for f, cols in fields.items() for i in cols}
    return HeaderPlan(tuple(names), fields, _unique(custom, names), tuple(ignored), line, mapped, registry)


def _unique(custom: dict[int, str], names: list[str]) -> dict[int, str]:
    """Two columns never share a custom key: the second ``Phone`` becomes ``phone_2``."""
    seen: dict[str, int] = {}
    out: dict[int, str] = {}
    for i in sorted(custom):
        key = custom[i]
        if key in seen:
            n = 2
            while f"{key}_{n}" in seen:
                n += 1
            key = f"{key}_{n}"
        seen[key] = i
        out[i] = key
    return out


def find_header(rows: Sequence[Sequence[str]], mapping: Mapping[str, str] | None = None,
                registry: FieldSet = BUILTIN) -> int:  # fmt: skip
    """The index of the header row among the first rows: the first with an email column.

    LinkedIn's Connections.csv starts with a few lines of notes before its header; other
    exports start with the header itself (index 0, also when no row has an email column,
    so the error names the first line).
    """
    mapping, lookup = mapping or {}, _lookup(registry)
    for n, row in enumerate(rows):
        keys = [normalise(c) for c in row]
        if any(lookup.get(k, ("",))[0] == "email" or mapping.get(k) == "email" for k in keys):
            return n
    return 0
