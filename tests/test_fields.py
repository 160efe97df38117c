"""The registry of contact fields (outreach/fields): what derives from it agrees with it, and a
workspace's own fields (a typed custom column, a derived field) plug into it.

The walk of every field through the whole flow is tests/web/test_fields_everywhere.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import write, write_csv
from sqlalchemy import case
from sqlalchemy.orm import Session

from outreach.audience.contacts import COLUMNS, ContactView, iter_contacts
from outreach.audience.headers import parse_mapping, plan_header
from outreach.audience.importer import ImportOptions, import_contacts
from outreach.audience.segments import contacts_query, parse_segment
from outreach.audience.upsert import DEFAULTS
from outreach.campaigns.builder import lacking_fields
from outreach.campaigns.definition import REQUIRABLE
from outreach.campaigns.messages import CampaignInfo
from outreach.content.rendering import Organization, load_compiled
from outreach.errors import InputError
from outreach.fields import BUILTIN, Field
from outreach.fields import parsers as p
from outreach.fields.kinds import DATE, NUMBER, TEXT
from outreach.followups.queue import CSV_COLUMNS, ITEM_COLUMNS
from outreach.settings.config import Sender
from outreach.settings.workspace import init_workspace, load_workspace
from outreach.settings.yamlfile import load_yaml
from outreach.storage import open_engine
from outreach.storage.models import Contact
from outreach.storage.outbox import CONTACT_FIELDS
from outreach.studio.lint import placeholder_contact

# -- what derives from the registry agrees with it ----------------------------------------------


@pytest.mark.parametrize("name", [f.name for f in BUILTIN.stored])
def test_each_stored_field_has_its_column_as_the_registry_says(name: str) -> None:
    f = BUILTIN[name]
    column = Contact.__table__.c[f.key]
    expected = f.sql_type()
    assert type(column.type) is type(expected)
    assert getattr(column.type, "length", None) == getattr(expected, "length", None)
    assert column.nullable == (f.default is None) or name == "email"
    if name != "email":
        assert (column.default.arg if column.default is not None else None) == f.default


def test_the_lists_of_fields_are_the_registrys() -> None:
    stored = [f.name for f in BUILTIN.stored]
    assert list(COLUMNS) == [f.name for f in BUILTIN if f.source in ("column", "company")]
    assert set(CONTACT_FIELDS) == {*stored, "custom"} - {"email"}  # the engine's claim: every stored field
    assert set(DEFAULTS) == {*stored, "company_id"} - {"email"}  # the upsert: every field a row may set
    assert ContactView.__template_fields__ == {*(f.name for f in BUILTIN if f.templates), "custom"}
    assert set(REQUIRABLE) == {f.name for f in BUILTIN if f.templates and f.kind.requirable}
    assert list(CSV_COLUMNS[: len(ITEM_COLUMNS)]) == list(ITEM_COLUMNS)
    assert {f.card for f in BUILTIN.card} <= set(CSV_COLUMNS)


def test_the_placeholder_contact_has_a_value_in_every_text_field(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws")
    ws = load_workspace(tmp_path / "ws")
    spec: Any = type("Spec", (), {"sender_key": "awang"})()
    view = placeholder_contact(ws, spec)
    assert (view.first_name, view.company, view.owner, view.timezone) == ("Sample", "PT Sample", "awang",
                                                                          ws.settings.timezone)  # fmt: skip
    assert lacking_fields(view, tuple(n for n in REQUIRABLE if n not in ("last_contacted_at", "language"))) == []
    assert view.custom["anything"] == "Sample anything"


def test_a_field_set_refuses_what_would_break_it() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        BUILTIN.extend(Field("city", TEXT))
    with pytest.raises(ValueError, match="field name"):
        BUILTIN.extend(Field("Tax ID", TEXT))
    with pytest.raises(ValueError, match="needs compute"):
        BUILTIN.extend(Field("terms", TEXT, source="derived"))
    with pytest.raises(ValueError, match="exactly a custom field"):
        BUILTIN.extend(Field("custom.size", NUMBER))
    with pytest.raises(ValueError, match="text or a number"):
        BUILTIN.extend(Field("custom.since", DATE, source="custom"))


def test_a_bad_cell_rejects_the_row_or_is_left_out_as_the_field_says() -> None:
    ctx = p.Plain()
    with pytest.raises(ValueError, match="status 'lead' is not one of: prospect, existing"):
        BUILTIN["status"].read(["lead"], ctx)
    assert BUILTIN["language"].read(["Klingon"], ctx) == (
        None, "language 'Klingon' is not id or en; the workspace's language is used")
    assert BUILTIN["phone"].read(["12", "0812 3456 7890"], ctx) == ("+6281234567890", None)


# -- a workspace's own fields plug in ---------------------------------------------------------


def employees(name: str, cells: Any, ctx: Any) -> p.Parsed:
    """``1.200`` or ``1,200`` employees: a whole number."""
    return p.whole_number(name, [cells[0].replace(".", "").replace(",", "")], ctx)


def terms(view: Any) -> str:
    return "30 hari" if view.status == "existing" else "14 hari"


def terms_sql(columns: Any) -> Any:
    return case((columns["status"] == "existing", "30 hari"), else_="14 hari")


EXTENDED = BUILTIN.extend(
    Field("custom.employees", NUMBER, employees, on_bad="warn", source="custom", synonyms=("jumlah karyawan",)),
    Field("payment_terms", TEXT, source="derived", compute=terms, expression=terms_sql, card="payment_terms"),
)


@pytest.fixture
def extended(tmp_path: Path) -> tuple[Any, Any]:
    init_workspace(tmp_path / "ws")
    ws = load_workspace(tmp_path / "ws")
    engine = open_engine(ws.database_url)
    csv = write_csv(tmp_path / "c.csv", ["email", "status", "Jumlah Karyawan"], [
        ["big@x.example.com", "existing", "1.200"], ["small@x.example.com", "prospect", "90"],
        ["odd@x.example.com", "prospect", "banyak"],
    ])  # fmt: skip
    result = import_contacts(engine, csv, ImportOptions(registry=EXTENDED, workers=0))
    assert result.summary() == "3 imported, 0 updated, 0 rejected"
    assert list(result.warnings) == [(4, "custom.employees 'banyak' is not a whole number")]
    return ws, engine


def _emails(ws: Any, engine: Any, where: str) -> list[str]:
    path = write(ws.segments_dir / "x.yaml", where)
    segment = parse_segment("x", load_yaml(path), EXTENDED)
    return [v.email for v in iter_contacts(engine, contacts_query(ws, segment), registry=EXTENDED)]


def test_a_typed_custom_column_is_parsed_at_import_and_compared_as_a_number(extended: tuple[Any, Any]) -> None:
    ws, engine = extended
    with Session(engine) as session:
        stored = {c.email: c.custom for c in session.query(Contact)}
    assert stored == {"big@x.example.com": {"employees": 1200}, "small@x.example.com": {"employees": 90},
                      "odd@x.example.com": {}}  # fmt: skip
    # as text, "90" >= "100"; as the number the registry says it is, not
    assert _emails(ws, engine, "where:\n  custom.employees: {gte: 100}\n") == ["big@x.example.com"]
    with pytest.raises(InputError, match="'payment_terms' is not a field"):  # derived: computed, never a column
        parse_mapping(["Terms=payment_terms"], EXTENDED)


def test_a_derived_field_reaches_segments_templates_and_the_card(extended: tuple[Any, Any], tmp_path: Path) -> None:
    ws, engine = extended
    assert _emails(ws, engine, "where:\n  payment_terms: 30 hari\n") == ["big@x.example.com"]
    assert _emails(ws, engine, "where:\n  payment_terms: {in: ['14 hari']}\n") == ["small@x.example.com",
                                                                                   "odd@x.example.com"]
    views = list(iter_contacts(engine, registry=EXTENDED))
    assert [v.payment_terms for v in views] == ["30 hari", "14 hari", "14 hari"]
    assert "payment_terms" in EXTENDED.view.__template_fields__
    assert "payment_terms" not in ContactView.__template_fields__  # the built-in set is untouched
    content = load_compiled(write(tmp_path / "t.md", '---\nsubject: "Termin {{ contact.payment_terms }}"\n---\n'
                                  "Pembayaran {{ contact.payment_terms }}.\n"),
                            Organization("PT Contoh", "Jl. Contoh 1"))  # fmt: skip
    rendered = content.render({"contact": views[0], "sender": Sender(name="A", email="a@contoh.example.com"),
                               "campaign": CampaignInfo("t"), "unsubscribe_url": "http://x.example.com/u"})  # fmt: skip
    assert rendered.subject == "Termin 30 hari" and "Pembayaran 30 hari." in rendered.text
    assert [f.name for f in EXTENDED.card][-1] == "payment_terms" and views[0].text("payment_terms") == "30 hari"


def test_the_import_plans_the_columns_of_an_extended_set() -> None:
    plan = plan_header(["Email", "Jumlah Karyawan", "Kota"], registry=EXTENDED)
    assert plan.custom == {1: "employees"}  # a typed custom field's synonym: kept under the field's key
    assert plan.fields == {"email": (0,), "city": (2,)}
    assert plan_header(["Email"]).registry is BUILTIN


def test_the_extended_set_pickles_for_the_import_workers() -> None:
    import pickle

    again = pickle.loads(pickle.dumps(EXTENDED))
    assert [f.name for f in again] == [f.name for f in EXTENDED]
    assert again.view(id=1, status="existing").payment_terms == "30 hari"


def test_segments_filter_on_the_language_a_contact_reads(tmp_path: Path) -> None:
    init_workspace(tmp_path / "ws")
    ws = load_workspace(tmp_path / "ws")
    engine = open_engine(ws.database_url)
    csv = write_csv(tmp_path / "c.csv", ["email", "language"],
                    [["en@x.example.com", "English"], ["id@x.example.com", "id"], ["none@x.example.com", ""]])
    import_contacts(engine, csv)
    path = write(ws.segments_dir / "english.yaml", "where:\n  language: en\n")
    segment = parse_segment("english", load_yaml(path))
    assert [v.email for v in iter_contacts(engine, contacts_query(ws, segment))] == ["en@x.example.com"]
    path = write(ws.segments_dir / "unset.yaml", "where:\n  language: {empty: true}\n")
    segment = parse_segment("unset", load_yaml(path))
    assert [v.email for v in iter_contacts(engine, contacts_query(ws, segment))] == ["none@x.example.com"]
