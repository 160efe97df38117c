"""A contact's corrections: parsed by the registry, all or nothing, each kept old -> new; ``contacts show``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import invoke, prospects_workspace
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.errors import FieldError, NotFoundError
from outreach.storage.models import Company, Contact, ContactChange
from outreach.workspace import Workspace

ANI = "ani@alpha.example.com"


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    with Workspace.open(prospects_workspace(tmp_path / "ws")) as opened:
        yield opened  # type: ignore[misc]


def stored(ws: Workspace, email: str = ANI) -> Contact:
    with Session(ws.engine) as session:
        contact = session.scalar(select(Contact).where(Contact.email == email))
        assert contact is not None
        session.expunge(contact)
        return contact


def recorded(ws: Workspace) -> int:
    with Session(ws.engine) as session:
        return session.scalar(select(func.count()).select_from(ContactChange)) or 0


def test_values_are_parsed_as_an_import_reads_them_and_every_change_is_kept(ws: Workspace) -> None:
    changes = ws.change_contact(ANI, {"phone": "0812-3456-7890", "status": "Existing", "tags": "Cloud, network",
                                      "title": "IT Manager", "custom.region": "east"}, "sari", "app")  # fmt: skip
    assert [(c.field, c.old, c.new) for c in changes] == [
        ("phone", "+622155500001", "+6281234567890"), ("status", "prospect", "existing"),
        ("tags", "network;security", "cloud;network"), ("custom.region", "west", "east"),
    ]  # fmt: skip  (the title was the same: nothing to record)
    c = stored(ws)
    assert (c.phone, c.status, c.tags) == ("+6281234567890", "existing", ";cloud;network;")
    assert c.custom == {"region": "east"}
    assert recorded(ws) == 4 and {(c.who, c.via) for c in changes} == {("sari", "app")}


def test_one_bad_value_changes_nothing(ws: Workspace) -> None:
    before = stored(ws)
    with pytest.raises(FieldError) as exc:
        ws.change_contact(ANI, {"title": "CTO", "last_contacted_at": "kemarin"}, "sari", "verify")
    assert exc.value.field == "last_contacted_at" and exc.value.contact == ANI
    assert str(exc.value) == f"contact {ANI}: last_contacted_at 'kemarin' is not an ISO date (YYYY-MM-DD)"
    assert stored(ws).title == before.title == "IT Manager" and recorded(ws) == 0


@pytest.mark.parametrize(("updates", "message"), [
    ({"colour": "red"}, "'colour' is not a contact field (fields: email, first_name"),
    ({"full_name": "Ani L"}, "full_name is derived from other fields; change those instead"),
    ({"email": ""}, "email cannot be empty"),
    ({"email": "budi@beta.example.com"}, "another contact already has the address budi@beta.example.com"),
    ({"email": "not an address"}, "invalid email 'not an address'"),
    ({"phone": "12"}, "phone '12' is not a valid phone number"),
    ({"phone": " / "}, "phone: '/' holds no value"),
    ({"language": "Klingon"}, "language 'Klingon' is not id or en"),
    ({"title": "CTO\r\nBcc: x@evil.example"}, "title: a value is one line of at most 500 characters"),
    ({"city": "J" * 501}, "city: a value is one line of at most 500 characters"),
])  # fmt: skip
def test_what_a_field_cannot_take_is_refused_naming_it(ws: Workspace, updates: dict[str, str], message: str) -> None:
    with pytest.raises(FieldError, match=re.escape(message)):
        ws.change_contact(ANI, updates, "sari", "app")
    assert recorded(ws) == 0


def test_clearing_gives_the_default_and_a_company_is_found_by_its_name(ws: Workspace) -> None:
    ws.change_contact(ANI, {"status": "existing"}, "sari", "app")
    changes = ws.change_contact(ANI, {"status": "", "title": None, "company": "pt  beta NIAGA"}, "sari", "app")
    assert [(c.field, c.new) for c in changes] == [("status", "prospect"), ("title", ""), ("company", "PT Beta Niaga")]
    with Session(ws.engine) as session:
        assert session.scalar(select(func.count()).select_from(Company)) == 6  # the stored company, not a new one
    with pytest.raises(NotFoundError):
        ws.change_contact("nobody@example.com", {"title": "x"}, "sari", "app")


def test_contacts_show_prints_the_fields_and_the_changes(ws: Workspace) -> None:
    result = invoke("contacts", "show", "ANI@alpha.example.com", ws=ws.root)
    assert result.exit_code == 0, result.output
    values = {"email": ANI, "first_name": "Ani", "last_name": "Lestari", "title": "IT Manager",
              "phone": "+622155500001", "company": "PT Alpha Teknik", "industry": "Manufacturing", "city": "Jakarta",
              "timezone": "Asia/Jakarta", "status": "prospect", "owner": "sari", "last_contacted_at": "2026-01-01",
              "transactions": "0", "tags": "network;security", "full_name": "Ani Lestari", "custom.region": "west",
              "payment_terms": "14 hari"}  # the example workspace's derived field (outreach.yaml fields:)
    names = [*(f.name for f in ws.fields), "custom.region"]  # every field of the workspace, in its order
    width = max(map(len, names))
    assert result.stdout.splitlines() == [
        *(f"{name:<{width}}  {values.get(name, '')}".rstrip() for name in names), "", "No changes recorded.",
    ]  # fmt: skip
    assert result.stdout.splitlines()[:2] == ["email              ani@alpha.example.com", "first_name         Ani"]
    ws.change_contact(ANI, {"title": "CTO"}, "sari", "app")
    ws.change_contact(ANI, {"title": ""}, "cali", "verify")
    out = invoke("contacts", "show", ANI, ws=ws.root).stdout.splitlines()
    assert out[-3] == "Changes (2):"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC  title: IT Manager -> CTO  \(sari, via app\)", out[-2])
    assert out[-1].endswith("  title: CTO -> (empty)  (cali, via verify)")


def test_contacts_show_of_nobody_is_an_error(ws: Workspace) -> None:
    result = invoke("contacts", "show", "nobody@example.com", ws=ws.root)
    assert (result.exit_code, result.stderr) == (1, "Error: no contact 'nobody@example.com' (contacts list shows "
                                                    "who there is)\n")  # fmt: skip
