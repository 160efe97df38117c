"""Contacts import (any spreadsheet's CSV), rejects, re-import, and listing as CSV."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import date
from pathlib import Path

import pytest
from helpers import BROKEN_REJECTS, CONTACT_HEADER, CONTACT_ROWS, DATA, invoke, write, write_csv
from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.audience.contacts import COLUMNS, count_contacts, get_contact
from outreach.audience.importer import import_contacts
from outreach.errors import InputError
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine
from outreach.storage.models import Company, Contact


def engine_of(ws: Path):  # type: ignore[no-untyped-def]
    return open_engine(load_workspace(ws).database_url)


def emails(ws: Path) -> list[str]:
    with Session(engine_of(ws)) as s:
        return sorted(s.scalars(select(Contact.email)))


def test_import_the_example_contacts(example_ws: Path) -> None:
    result = invoke("contacts", "import", str(example_ws / "contacts.csv"), ws=example_ws)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Contacts: 40 imported, 0 updated, 0 rejected\nKept as custom fields: employees\n"
    assert result.stderr == ""
    assert count_contacts(engine_of(example_ws)) == 40


def test_reimport_updates_and_never_duplicates(example_ws: Path) -> None:
    csv_path = example_ws / "contacts.csv"
    assert invoke("contacts", "import", str(csv_path), ws=example_ws).exit_code == 0
    # the same sheet again, with e-mail addresses in other cases and one name changed
    text = csv_path.read_text(encoding="utf-8")
    header, *rows = text.splitlines()
    rows = [r.split(",", 1)[0].upper() + "," + r.split(",", 1)[1] for r in rows]
    rows[0] = rows[0].replace(",Budi,", ",Budiman,")
    again = write(example_ws / "again.csv", "\n".join([header, *rows]) + "\n")
    result = invoke("contacts", "import", str(again), ws=example_ws)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Contacts: 0 imported, 40 updated, 0 rejected\nKept as custom fields: employees\n"
    engine = engine_of(example_ws)
    assert count_contacts(engine) == 40
    budi = get_contact(engine, "Budi.Santoso@MajuJaya.example.co.id")
    assert budi is not None
    assert budi.email == "budi.santoso@majujaya.example.co.id"
    assert budi.first_name == "Budiman"


def test_companies_are_shared_case_insensitively(tmp_path: Path, example_ws: Path) -> None:
    f = write_csv(
        tmp_path / "c.csv",
        ["email", "company"],
        [["a@x.example.com", "PT Satu  Dua"], ["b@x.example.com", "pt satu dua"]],
    )
    assert invoke("contacts", "import", str(f), ws=example_ws).exit_code == 0
    with Session(engine_of(example_ws)) as s:
        assert s.scalar(select(Company.name).where(Company.key == "pt satu dua")) == "PT Satu  Dua"
        assert len(s.scalars(select(Company)).all()) == 1


def test_empty_cell_on_reimport_keeps_the_stored_value(tmp_path: Path, example_ws: Path) -> None:
    first = write_csv(
        tmp_path / "a.csv",
        ["email", "first_name", "city", "transactions", "employees"],
        [["ani@example.com", "Ani", "Jakarta", "3", "120"]],
    )
    partial = write_csv(
        tmp_path / "b.csv",
        ["email", "first_name", "city", "transactions", "employees"],
        [["ANI@example.com", "", "Bandung", "", ""]],
    )
    assert invoke("contacts", "import", str(first), ws=example_ws).exit_code == 0
    result = invoke("contacts", "import", str(partial), ws=example_ws)
    assert result.stdout == "Contacts: 0 imported, 1 updated, 0 rejected\nSkipped 1 column(s) empty in every row\n"
    ani = get_contact(engine_of(example_ws), "ani@example.com")
    assert ani is not None
    assert (ani.first_name, ani.city, ani.transactions) == ("Ani", "Bandung", 3)
    assert ani.custom == {"employees": "120"}


def test_custom_columns_are_kept(tmp_path: Path, example_ws: Path) -> None:
    f = write_csv(
        tmp_path / "c.csv",
        ["Email", "First_Name", "NPWP", "Employees"],
        [["ani@example.com", "Ani", "01.234.567.8-901.000", "250"]],
    )
    assert invoke("contacts", "import", str(f), ws=example_ws).exit_code == 0
    ani = get_contact(engine_of(example_ws), "ani@example.com")
    assert ani is not None
    assert ani.first_name == "Ani"
    assert ani.custom == {"npwp": "01.234.567.8-901.000", "employees": "250"}


def test_types_are_normalised(tmp_path: Path, example_ws: Path) -> None:
    f = write_csv(
        tmp_path / "c.csv",
        ["email", "status", "tags", "last_contacted_at", "transactions", "timezone"],
        [[" Ani@Example.COM ", "Existing", "Security; network;;NETWORK", "2026-01-15T09:30", "7",
          "Asia/Makassar"]],
    )  # fmt: skip
    assert invoke("contacts", "import", str(f), ws=example_ws).exit_code == 0
    ani = get_contact(engine_of(example_ws), "ani@example.com")
    assert ani is not None
    assert ani.status == "existing"
    assert ani.tags == ("network", "security")
    assert ani.last_contacted_at == date(2026, 1, 15)
    assert ani.transactions == 7
    assert ani.timezone == "Asia/Makassar"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "contacts_utf8_bom.csv",
            {"siti.nurhaliza@bom.example.co.id": ("Siti", "PT Cahaya Abadi", {"employees": "120"}),
             "yohanes@bom.example.co.id": ("Yohanes", "PT Cahaya Abadi", {"employees": "120"})},
        ),
        (
            "contacts_cp1252.csv",
            {"jose.muller@cp.example.com": ("José", "Café Señor GmbH", {}),
             "francois@cp.example.com": ("François", "Société Générale Indonésie", {})},
        ),
        (
            "contacts_semicolon_id.csv",
            {"agus@semicolon.example.co.id": ("Agus", "PT Sumber Makmur, Tbk",
                                              {"omzet": "1.250.000,50"}),
             "dewi@semicolon.example.co.id": ("Dewi", "CV Mekar Sari", {"omzet": "980,00"})},
        ),
        (
            "contacts_utf16.csv",
            {"wayan@utf16.example.co.id": ("I Wayan", "PT Bali Digital Nusantara", {}),
             "nguyen@utf16.example.com": ("Nguyễn", "Công ty TNHH Hà Nội", {})},
        ),
    ],
)  # fmt: skip
def test_spreadsheet_encodings_and_delimiters(
    example_ws: Path, name: str, expected: dict[str, tuple[str, str, dict[str, str]]]
) -> None:
    result = invoke("contacts", "import", str(DATA / name), ws=example_ws)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "Contacts: 2 imported, 0 updated, 0 rejected"
    engine = engine_of(example_ws)
    for email, (first, company, custom) in expected.items():
        c = get_contact(engine, email)
        assert c is not None, email
        assert (c.first_name, c.company, c.custom) == (first, company, custom)


def test_semicolon_file_keeps_types(example_ws: Path) -> None:
    invoke("contacts", "import", str(DATA / "contacts_semicolon_id.csv"), ws=example_ws)
    dewi = get_contact(engine_of(example_ws), "dewi@semicolon.example.co.id")
    assert dewi is not None
    assert (dewi.status, dewi.transactions, dewi.city) == ("existing", 7, "Bogor")


def test_broken_rows_are_rejected_with_row_and_reason(tmp_path: Path, example_ws: Path) -> None:
    out = tmp_path / "rejects.csv"
    result = invoke(
        "contacts",
        "import",
        str(DATA / "contacts_broken.csv"),
        "--rejects",
        str(out),
        ws=example_ws,
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Contacts: 3 imported, 0 updated, 10 rejected",
        "Kept as custom fields: region",
        f"Rejected rows written to {out}",
    ]
    assert result.stderr.splitlines() == [
        *(f"  row {n}: {reason}" for n, reason in BROKEN_REJECTS[:5]),
        "  ... and 5 more (--rejects FILE.csv lists every one)",
    ]
    assert emails(example_ws) == ["good1@example.com", "good2@example.com", "user@xn--bcher-kva.de"]

    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    header = ["email", "first_name", "last_name", "company", "phone", "status", "transactions",
              "last_contacted_at", "timezone", "region"]  # fmt: skip
    assert rows[0] == ["row", "reason", *header]
    assert [(int(r[0]), r[1]) for r in rows[1:]] == BROKEN_REJECTS
    by_row = {int(r[0]): dict(zip(header, r[2:], strict=True)) for r in rows[1:]}
    assert by_row[3]["email"] == "not-an-email"
    assert by_row[9]["first_name"] == "Gita\r\nBcc: victim@evil.example"
    assert by_row[11]["region"] == "west"
    # cells a spreadsheet would run as formulas are neutralised in the rejects file
    assert by_row[4]["company"] == "'=cmd|' /C calc'!A0"
    # a phone number (a plus, digits, spaces) is no formula: written as it is
    assert by_row[4]["phone"] == "+62 21 555 0003"


def test_good_rows_of_a_broken_file_are_complete(example_ws: Path) -> None:
    engine = engine_of(example_ws)
    result = import_contacts(engine, DATA / "contacts_broken.csv")
    assert (result.imported, result.updated, len(result.rejected)) == (3, 0, 10)
    good2 = get_contact(engine, "good2@example.com")
    assert good2 is not None
    # an imported formula cell is stored as written; only exports neutralise it
    assert good2.company == '=HYPERLINK("http://evil.example/","klik")'
    assert good2.last_contacted_at == date(2026, 1, 15)
    assert good2.custom == {"region": "east"}
    # an internationalised domain is stored in its ASCII (IDNA) form
    assert get_contact(engine, "user@xn--bcher-kva.de") is not None


def test_rejects_and_warnings_files_are_written_even_when_empty(tmp_path: Path, example_ws: Path) -> None:
    """Scripts that ask for --rejects FILE read FILE: it is there, with its header, when nothing was rejected."""
    rejects, warnings = tmp_path / "rejects.csv", tmp_path / "warnings.csv"
    result = invoke("contacts", "import", str(example_ws / "contacts.csv"), "--rejects", str(rejects),
                    "--warnings", str(warnings), ws=example_ws)  # fmt: skip
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout.splitlines()[-2:] == [f"No rows rejected; {rejects} has the header only",
                                               f"No warnings; {warnings} has the header only"]  # fmt: skip
    header = "email,first_name,last_name,title,phone,company,industry,city,timezone,status,owner,last_contacted_at," \
             "transactions,tags,employees"  # fmt: skip
    assert rejects.read_bytes().decode("utf-8-sig") == f"row,reason,{header}\r\n"
    assert warnings.read_bytes().decode("utf-8-sig") == "row,warning\r\n"


def test_rejected_rows_without_rejects_option(example_ws: Path) -> None:
    result = invoke("contacts", "import", str(DATA / "contacts_broken.csv"), ws=example_ws)
    assert result.exit_code == 0
    assert result.stdout == "Contacts: 3 imported, 0 updated, 10 rejected\nKept as custom fields: region\n"


def test_missing_email_column_is_an_error_and_writes_nothing(tmp_path: Path, example_ws: Path) -> None:
    f = write_csv(tmp_path / "noemail.csv", ["Name", "Phone"], [["Ani", "+62 21 555"]])
    out = tmp_path / "rejects.csv"
    result = invoke("contacts", "import", str(f), "--rejects", str(out), ws=example_ws)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (f"Error: {f}, line 1: no 'email' column in the header (name, phone); name the column "
                             "that holds the addresses with --map COLUMN=email\n")
    assert count_contacts(engine_of(example_ws)) == 0
    assert not out.exists()


def test_duplicate_header_is_an_error(tmp_path: Path, example_ws: Path) -> None:
    f = write(tmp_path / "dup.csv", "email,city,City\na@example.com,x,y\n")
    result = invoke("contacts", "import", str(f), ws=example_ws)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {f}, line 1: duplicate column(s): city\n"


def test_missing_file_is_an_error(tmp_path: Path, example_ws: Path) -> None:
    result = invoke("contacts", "import", str(tmp_path / "nope.csv"), ws=example_ws)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {tmp_path / 'nope.csv'}: file not found\n"


def test_binary_file_is_an_error(tmp_path: Path, example_ws: Path) -> None:
    f = tmp_path / "sheet.csv"
    f.write_bytes(b"email\nx@example.com\x00\x00\xff\xfe\x00binary")
    with pytest.raises(InputError, match="not a CSV text file"):
        import_contacts(engine_of(example_ws), f)
    f.write_bytes(b"PK\x03\x04\x00\x00\xff\xfe\x00binary")  # a zip: read as a workbook, which it is not
    with pytest.raises(InputError, match=r"not a readable \.xlsx workbook \(BadZipFile\)"):
        import_contacts(engine_of(example_ws), f)


def test_import_is_one_transaction(tmp_path: Path, example_ws: Path) -> None:
    """A CSV broken mid-file (the csv module gives up) leaves nothing half-imported."""
    f = tmp_path / "huge.csv"
    huge = "x" * 200_000  # over the csv module's field size limit
    f.write_text(f"email,first_name\na@example.com,Ani\nb@example.com,{huge}\n", encoding="utf-8")
    engine = engine_of(example_ws)
    with pytest.raises(InputError, match=r"huge.csv, line 3: field larger than field limit"):
        import_contacts(engine, f)
    assert count_contacts(engine) == 0


def list_csv(ws: Path, *extra: str) -> str:
    result = invoke("contacts", "list", "--format", "csv", *extra, ws=ws)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


def test_list_csv_is_exactly_the_csv(tmp_path: Path, example_ws: Path) -> None:
    small = write_csv(tmp_path / "small.csv", CONTACT_HEADER, CONTACT_ROWS[:2])
    invoke("contacts", "import", str(small), ws=example_ws)
    ani = {"email": "ani@alpha.example.com", "first_name": "Ani", "last_name": "Lestari", "title": "IT Manager",
           "phone": "+622155500001", "company": "PT Alpha Teknik", "industry": "Manufacturing", "city": "Jakarta",
           "timezone": "Asia/Jakarta", "status": "prospect", "owner": "sari", "last_contacted_at": "2026-01-01",
           "transactions": "0", "tags": "network;security"}  # fmt: skip
    budi = {"email": "budi@beta.example.com", "first_name": "Budi", "last_name": "Santoso", "title": "Purchasing",
            "phone": "+622155500002", "company": "PT Beta Niaga", "industry": "Government", "city": "Tangerang",
            "timezone": "Asia/Jakarta", "status": "prospect", "owner": "awang", "last_contacted_at": "2026-06-01",
            "transactions": "1", "tags": "security"}  # fmt: skip

    def line(row: dict[str, str], custom: str) -> str:
        """The registry's columns in its order (a field the rows have no value for: empty), the custom one."""
        return ",".join([*(row.get(c, "") for c in COLUMNS), custom]) + "\n"

    assert list_csv(example_ws) == line({c: c for c in COLUMNS}, "region") + line(ani, "west") + line(budi, "west")


def test_list_csv_round_trips_through_import(tmp_path: Path, example_ws: Path) -> None:
    invoke("contacts", "import", str(example_ws / "contacts.csv"), ws=example_ws)
    invoke("contacts", "import", str(DATA / "contacts_broken.csv"), ws=example_ws)
    first = list_csv(example_ws)
    header = first.splitlines()[0].split(",")
    assert header[: len(COLUMNS)] == list(COLUMNS)  # the registry's columns, then the custom ones
    assert header[len(COLUMNS) :] == ["employees", "region"]
    exported = write(tmp_path / "exported.csv", first)

    other = tmp_path / "other"
    shutil.copytree(example_ws, other, ignore=shutil.ignore_patterns("outreach.db*"))
    result = invoke("contacts", "import", str(exported), ws=other)
    assert result.stdout.splitlines()[0] == "Contacts: 43 imported, 0 updated, 0 rejected"
    assert list_csv(other) == first
    # and into the same database: every row is an update, nothing changes
    result = invoke("contacts", "import", str(exported), ws=example_ws)
    assert result.stdout.splitlines()[0] == "Contacts: 0 imported, 43 updated, 0 rejected"
    assert list_csv(example_ws) == first


def test_list_csv_of_a_segment(tmp_path: Path, example_ws: Path) -> None:
    small = write_csv(tmp_path / "small.csv", CONTACT_HEADER, CONTACT_ROWS)
    invoke("contacts", "import", str(small), ws=example_ws)
    out = list_csv(example_ws, "--segment", "existing-customers")
    assert [line.split(",")[0] for line in out.splitlines()[1:]] == [
        "dedi@delta.example.com",
        "eka@epsilon.example.com",
    ]


def test_list_table(tmp_path: Path, example_ws: Path) -> None:
    small = write_csv(tmp_path / "small.csv", CONTACT_HEADER, CONTACT_ROWS)
    invoke("contacts", "import", str(small), ws=example_ws)
    result = invoke("contacts", "list", ws=example_ws)
    assert result.exit_code == 0
    out = result.stdout.splitlines()
    assert out[0].split() == ["email", "name", "company", "city", "status", "owner", "last",
                              "contacted"]  # fmt: skip
    assert out[-1] == "6 contact(s)"
    assert "citra@gamma.example.com" in result.stdout and "never" in out[3]


def test_list_bad_format_is_usage_error(example_ws: Path) -> None:
    result = invoke("contacts", "list", "--format", "xlsx", ws=example_ws)
    assert result.exit_code == 2
    assert "Invalid value for '--format'" in result.stderr
