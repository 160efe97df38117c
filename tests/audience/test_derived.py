"""Derived fields (``fields:`` in outreach.yaml): checked at their line, computed in Python for templates and in
SQL for segments, the two agreeing on the same contacts; seen by templates, the preview, lint and callers."""

from __future__ import annotations

import random
from datetime import date, timedelta
from pathlib import Path

import pytest
from helpers import invoke, write, write_csv
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.audience.fields import fields_of
from outreach.audience.segments import parse_segment, segment_query
from outreach.errors import ConfigError
from outreach.settings.workspace import init_workspace, load_workspace
from outreach.settings.yamlfile import load_yaml
from outreach.storage.models import Contact
from outreach.workspace import Workspace


def with_fields(root: Path, text: str) -> Path:
    """The example workspace (which has payment_terms) with its ``fields:`` replaced by ``text``."""
    yaml = (root / "outreach.yaml").read_text(encoding="utf-8")
    start, end = yaml.index("fields:"), yaml.index("\n# Optional sections")
    return write(root / "outreach.yaml", yaml[:start] + text.rstrip("\n") + "\n" + yaml[end:])


def line_of(root: Path, needle: str) -> int:
    lines = (root / "outreach.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)


@pytest.mark.parametrize(("fields", "at", "message"), [
    ("fields:\n  payment_terms:\n    - when: {statuss: existing}\n      value: 30 hari\n", "statuss",
     "fields: payment_terms, rule 1: unknown field 'statuss' (fields: email, first_name, last_name, title, phone, "
     "company, industry, city, timezone, status, owner, last_contacted_at, transactions, tags, language, full_name, "
     "custom.COLUMN)"),
    ("fields:\n  payment_terms:\n    - when: {status: existing}\n      value: 30 hari\n    - when:\n"
     "        transactions: {older_than: 30d}\n      value: x\n", "older_than",
     "fields: payment_terms, rule 2: unknown operator 'older_than' for transactions (operators: eq, ne, lt, lte, gt, "
     "gte, in, not_in)"),
    ("fields:\n  greeting:\n    - value: \"Bapak {{ contact.nama }}\"\n", "Bapak",
     "fields: greeting, rule 1: contact.nama is not a contact field"),
    ("fields:\n  greeting:\n    - value: \"{{ contact.first_name \"\n", "first_name",
     "fields: greeting, rule 1: the value's template:"),
    ("fields:\n  greeting:\n    - value: \"{{ sender.name }}\"\n", "sender.name",
     "fields: greeting, rule 1: a value's template reads only `contact`, not `sender`"),
    ("fields:\n  city:\n    - value: Jakarta\n", "  city:", "fields: 'city' is already a contact field"),
    ("fields:\n  Payment-Terms:\n    - value: x\n", "Payment-Terms", "fields: 'Payment-Terms' is not a field name"),
    ("fields:\n  a:\n    - when: {b: x}\n      value: y\n  b:\n    - value: z\n", "when: {b: x}",
     "fields: a, rule 1: unknown field 'b'"),  # only the fields above a rule: no cycles
    ("fields:\n  terms:\n    - when: {status: existing}\n      value: [30, hari]\n", "value: [30",
     "fields.terms.0.value: must be a text"),
])  # fmt: skip
def test_a_bad_rule_is_an_error_at_its_line(example_ws: Path, fields: str, at: str, message: str) -> None:
    with_fields(example_ws, fields)
    with pytest.raises(ConfigError) as caught:
        load_workspace(example_ws)
    assert caught.value.line == line_of(example_ws, at), caught.value
    assert message in caught.value.detail
    result = invoke("contacts", "list", ws=example_ws)
    assert result.exit_code == 1 and result.stderr.startswith(f"Error: {example_ws / 'outreach.yaml'}, line ")


def test_a_rule_may_read_the_derived_fields_above_it(example_ws: Path) -> None:
    with_fields(example_ws, 'fields:\n  terms:\n    - when: {status: existing}\n      value: "30 hari"\n'
                            '    - value: "14 hari"\n  note:\n    - when: {terms: "30 hari"}\n'
                            '      value: "Termin {{ contact.terms }} untuk {{ contact.first_name }}"\n')  # fmt: skip
    ws = load_workspace(example_ws)
    view = fields_of(ws).placeholder(status="existing", first_name="Dedi")
    assert (view.terms, view.note) == ("30 hari", "Termin 30 hari untuk Dedi")
    assert fields_of(ws).placeholder(status="prospect").note == ""  # no rule matched: empty
    assert fields_of(ws) is fields_of(load_workspace(example_ws))  # compiled once for the same rules


# -- the same answer in Python and in SQL ------------------------------------------------------------

RULES = """\
fields:
  tier:
    - when: {status: existing, transactions: {gte: 10}}
      value: gold
    - when: {status: existing, city: [Jakarta, Tangerang]}
      value: silver
    - when: {tags: {any: [security, cloud]}, last_contacted_at: {newer_than: 180d}}
      value: warm
    - when: {last_contacted_at: {never: true}, company: {empty: true}}
      value: unknown
    - when: {custom.employees: {gte: 500}}
      value: big
    - when: {title: {contains: [manager, kepala]}, city: {not_in: [Bandung]}}
      value: lead
  terms:
    - when: {tier: [gold, silver]}
      value: "30 hari"
    - when: {status: existing}
      value: "21 hari"
    - value: "14 hari"
"""


def random_contacts(path: Path, n: int, seed: int) -> Path:
    rnd = random.Random(seed)
    today = date.today()
    rows = []
    for i in range(n):
        last = "" if rnd.random() < 0.25 else (today - timedelta(days=rnd.randint(0, 720))).isoformat()
        rows.append([
            f"c{i}@pt{rnd.randint(0, 40)}.example.co.id", rnd.choice(["Budi", "Sari", "", "Ani"]),
            rnd.choice(["IT Manager", "Kepala Gudang", "Staff", "", "Sales MANAGER"]),
            rnd.choice(["existing", "prospect", "prospect"]),
            rnd.choice(["Jakarta", "JAKARTA", "Tangerang", "Bandung", "", "Surabaya"]),
            str(rnd.choice([0, 1, 2, 5, 9, 10, 11, 40])), last,
            rnd.choice(["", "security", "cloud;network", "network", "Security;storage"]),
            "" if rnd.random() < 0.2 else f"PT Contoh {rnd.randint(0, 30)}",
            rnd.choice(["", "120", "500", "2000", "n/a", "499"]),
        ])  # fmt: skip
    header = ["email", "first_name", "title", "status", "city", "transactions", "last_contacted_at", "tags",
              "company", "employees"]  # fmt: skip
    return write_csv(path, header, rows)


def test_python_and_sql_agree_on_every_contact(example_ws: Path, tmp_path: Path) -> None:
    with_fields(example_ws, RULES)
    with Workspace.open(example_ws) as ws:
        result = ws.import_contacts(random_contacts(tmp_path / "c.csv", 1500, seed=24))
        assert result.imported == 1500
        views = list(ws.contacts())
        fields = ws.fields
        for name, values in (("tier", ("gold", "silver", "warm", "unknown", "big", "lead")),
                             ("terms", ("30 hari", "21 hari", "14 hari"))):  # fmt: skip
            by_python = {v: {c.id for c in views if getattr(c, name) == v} for v in values}
            assert all(by_python.values()), name  # every rule matches somebody: the data covers them
            for value in values:
                doc = load_yaml(write(tmp_path / "s.yaml", f"where:\n  {name}: {{eq: '{value}'}}\n"))
                query = segment_query(ws.config, parse_segment("s", doc, fields))
                with Session(ws.engine) as s:
                    by_sql = set(s.scalars(query))
                assert by_sql == by_python[value], (name, value)
            doc = load_yaml(write(tmp_path / "s.yaml", f"where:\n  {name}: {{empty: true}}\n"))
            with Session(ws.engine) as s:
                by_sql = set(s.scalars(segment_query(ws.config, parse_segment("s", doc, fields))))
            assert by_sql == {c.id for c in views if not getattr(c, name)}


def test_segments_templates_preview_and_callers_see_the_example_payment_terms(example_ws: Path) -> None:
    assert invoke("contacts", "import", str(example_ws / "contacts.csv"), ws=example_ws).exit_code == 0
    write(example_ws / "segments" / "thirty.yaml", 'where:\n  payment_terms: "30 hari"\n')
    with Workspace.open(example_ws) as ws:
        with Session(ws.engine) as s:
            existing = set(s.scalars(select(Contact.email).where(Contact.status == "existing")))
        assert {v.email for v in ws.contacts("thirty")} == existing and existing
        prospect = next(v for v in ws.contacts("jakarta-prospects"))
        preview = ws.preview("solusi-jaringan", prospect.email)
        assert "Term of payment 14 hari (pelanggan baru)" in preview.rendered.text
        assert ws.lint(["solusi-jaringan"]).errors == []  # lint knows the field: never "undefined"
        ws.verify_contacts(segment="thirty")
        (item, *_) = ws.followups("verify")
        assert ("Payment terms", "30 hari") in item.details()  # the caller's card shows it
    shown = invoke("segments", "show", "thirty", ws=example_ws)
    assert shown.exit_code == 0 and f"{len(existing)} contact" in shown.stdout


def test_a_jinja_value_is_evaluated_per_contact_after_the_sql(example_ws: Path, tmp_path: Path) -> None:
    with_fields(example_ws, 'fields:\n  sapaan:\n    - when: {status: existing}\n'
                            '      value: "Bapak/Ibu {{ contact.last_name | default(contact.first_name) }}"\n'
                            '  salam:\n    - when: {sapaan: {contains: bapak}}\n      value: hormat\n'
                            '    - value: biasa\n')  # fmt: skip
    ws = load_workspace(example_ws)
    assert fields_of(ws).placeholder(status="existing", first_name="Budi", last_name="").sapaan == "Bapak/Ibu Budi"
    assert fields_of(ws)["sapaan"].expression is None and fields_of(ws)["salam"].expression is None  # reads sapaan
    write(example_ws / "segments" / "sapa.yaml", "where:\n  city: Jakarta\n  sapaan: {contains: 'ibu s'}\n")
    write(example_ws / "segments" / "hormat.yaml", "where:\n  salam: hormat\nexclude: [sapa]\nlimit: 3\n")
    with Workspace.open(example_ws) as face:
        face.import_contacts(random_contacts(tmp_path / "c.csv", 400, seed=3))
        views = list(face.contacts())
        expected = {v.email for v in views if v.city.lower() == "jakarta" and "ibu s" in v.sapaan.lower()}
        assert expected and {v.email for v in face.contacts("sapa")} == expected
        hormat = [v.email for v in face.contacts("hormat")]
        assert len(hormat) == 3 and not set(hormat) & expected
        assert all(v.salam == "hormat" for v in face.contacts("hormat"))
        assert [s.count for s in face.segments() if s.name == "sapa"] == [len(expected)]
        segment = parse_segment("sapa", load_yaml(example_ws / "segments" / "sapa.yaml"), face.fields)
        with pytest.raises(ConfigError, match="sapaan is derived with a jinja value and is evaluated on each contact"):
            segment_query(face.config, segment)  # no database to read the contacts from


# -- targets -------------------------------------------------------------------------------------------


def test_targets_old_and_new_names_and_per_sender(example_ws: Path) -> None:
    text = (example_ws / "outreach.yaml").read_text(encoding="utf-8")
    write(example_ws / "outreach.yaml", text.replace("    # target: 40 ", "    target: 40 ")
          .replace("new_prospects_per_month: 50", "new_prospects: 30"))  # fmt: skip
    settings = load_workspace(example_ws).settings
    assert settings.targets.new_prospects_per_month == settings.targets.new_prospects == 30
    assert settings.senders["sari"].target == 40 and settings.senders["awang"].target is None
    write(example_ws / "outreach.yaml", text.replace("new_prospects_per_month: 50",
                                                     "new_prospects_per_month: 50\n  new_prospects: 30"))
    with pytest.raises(ConfigError, match="new_prospects and new_prospects_per_month are the same setting"):
        load_workspace(example_ws)


def test_the_example_workspace_is_unchanged_by_init(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    init_workspace(root)
    names = [f.name for f in fields_of(load_workspace(root))]
    assert names[-1] == "payment_terms"


def test_a_workspace_with_derived_fields_imports_in_worker_processes(example_ws: Path, tmp_path: Path) -> None:
    """The field set goes to the import's parsing processes by pickle: derived fields (a jinja one too) must pickle."""
    from dataclasses import replace

    from outreach.audience.importer import import_contacts

    with_fields(example_ws, RULES + '  sapaan:\n    - value: "Yth. {{ contact.first_name }}"\n')
    with Workspace.open(example_ws) as ws:
        options = replace(ws._import_options(), workers=1)
        result = import_contacts(ws.engine, random_contacts(tmp_path / "c.csv", 300, seed=7), options)
        assert result.imported == 300
        assert all(v.sapaan.startswith("Yth.") for v in ws.contacts())
