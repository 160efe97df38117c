"""Real exports' headers: Outlook, Google Contacts, HubSpot, Salesforce, LinkedIn, Excel, Indonesian sheets.

Each sample has the column names its tool writes (see outreach/audience/headers.py
for where they come from); the rows are made up.
"""

from __future__ import annotations

import csv
import importlib.util
import io
from pathlib import Path
from types import ModuleType

import pytest
from helpers import invoke

from outreach.audience.cells import parse_phone, split_name
from outreach.audience.contacts import ContactView, get_contact
from outreach.audience.headers import normalise, plan_header
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine

BENCH = Path(__file__).resolve().parents[2] / "bench"


def engine_of(ws: Path):  # type: ignore[no-untyped-def]
    return open_engine(load_workspace(ws).database_url)


def sheet(path: Path, header: list[str], *rows: list[str], preamble: str = "", encoding: str = "utf-8") -> Path:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([header, *rows])
    path.write_bytes((preamble + buf.getvalue()).encode(encoding))
    return path


def imported(ws: Path, path: Path, *options: str) -> tuple[list[str], list[str]]:
    result = invoke("contacts", "import", str(path), *options, ws=ws)
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines(), result.stderr.splitlines()


def contact(ws: Path, email: str) -> ContactView:
    found = get_contact(engine_of(ws), email)
    assert found is not None, email
    return found


def fields(c: ContactView) -> tuple[str, ...]:
    return (c.first_name, c.last_name, c.company, c.title, c.phone, c.city)


def _bench_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MESSY_OUTLOOK = _bench_module("messy_outlook")  # the generator of issue 11's closing note
OUTLOOK = MESSY_OUTLOOK.OUTLOOK_HEADER  # Outlook's whole CSV header, in its order


def outlook_row(**cells: str) -> list[str]:
    return [cells.get(h, "") for h in OUTLOOK]


def test_an_outlook_export(tmp_path: Path, example_ws: Path) -> None:
    """Outlook's whole header, in ANSI; "Title" there is Mr./Ibu, the job is "Job Title"."""
    f = sheet(tmp_path / "outlook.csv", OUTLOOK,
              outlook_row(**{"First Name": "Budi", "Middle Name": "Hartono", "Last Name": "Santoso", "Title": "Bapak",
                             "E-mail Address": "Budi.Santoso@MajuJaya.example.co.id", "Mobile Phone": "0812-3456-7890",
                             "Business Phone": "(021) 555-0100", "Company": "PT Maju Jaya", "Job Title": "IT Manager",
                             "Department": "TI", "Business City": "Jakarta Selatan", "Categories": "Prospek;Jaringan"}),
              outlook_row(**{"First Name": "André", "E-mail Address": "andre@cafe.example.com",
                             "Business Phone": "021 5550 1234", "Home City": "Bandung"}),
              encoding="cp1252")  # fmt: skip
    out, err = imported(example_ws, f)
    assert out == [
        "Contacts: 2 imported, 0 updated, 0 rejected",
        "Columns read as: 'E-mail Address' -> email, 'First Name' -> first_name, 'Last Name' -> last_name, "
        "'Job Title' -> title, 'Mobile Phone' -> phone, 'Business Phone' -> phone, 'Primary Phone' -> phone, "
        "'Company Main Phone' -> phone, 'Business Phone 2' -> phone, 'Home Phone' -> phone, 'Other Phone' -> phone, "
        "'Business City' -> city, 'Home City' -> city, 'Other City' -> city, 'Categories' -> tags, "
        "'Middle Name' -> middle_name",
        "Kept as custom fields: Title (custom.salutation), department",
        f"Skipped {len(OUTLOOK) - 18 - 2} column(s) empty in every row",  # 18 read as fields, 2 kept
    ]
    assert err == []
    budi = contact(example_ws, "budi.santoso@majujaya.example.co.id")
    assert fields(budi) == ("Budi", "Hartono Santoso", "PT Maju Jaya", "IT Manager", "+6281234567890",
                            "Jakarta Selatan")  # fmt: skip
    assert budi.custom == {"salutation": "Bapak", "department": "TI"}
    assert budi.tags == ("jaringan", "prospek")
    andre = contact(example_ws, "andre@cafe.example.com")
    assert (andre.first_name, andre.phone, andre.city) == ("André", "+622155501234", "Bandung")  # the fallbacks


@pytest.mark.parametrize(
    ("header", "row", "expected"),
    [
        pytest.param(  # Google Contacts, the current layout; several values in a cell are " ::: " separated
            ["First Name", "Middle Name", "Last Name", "Nickname", "Organization Name", "Organization Title",
             "Labels", "E-mail 1 - Label", "E-mail 1 - Value", "Phone 1 - Label", "Phone 1 - Value",
             "Address 1 - City"],
            ["Siti", "", "Nurhaliza", "Siti", "PT Cahaya", "Direktur", "* myContacts ::: Pelanggan", "* Work",
             "siti@cahaya.example.co.id ::: siti.home@example.com", "Mobile", "+62 811-1920-3344", "Surabaya"],
            ("Siti", "Nurhaliza", "PT Cahaya", "Direktur", "+6281119203344", "Surabaya"), id="google"),
        pytest.param(  # Google Contacts, the older layout
            ["Name", "Given Name", "Additional Name", "Family Name", "E-mail 1 - Type", "E-mail 1 - Value",
             "Phone 1 - Type", "Phone 1 - Value", "Organization 1 - Name", "Organization 1 - Title"],
            ["Siti Nurhaliza", "Siti", "", "Nurhaliza", "* Work", "siti@cahaya.example.co.id", "Mobile",
             "0811 1920 3344", "PT Cahaya", "Direktur"],
            ("Siti", "Nurhaliza", "PT Cahaya", "Direktur", "+6281119203344", ""), id="google-legacy"),
        pytest.param(
            ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number", "Company Name",
             "Job Title", "City", "Contact owner", "Last Contacted", "Lifecycle Stage"],
            ["1201", "Siti", "Nurhaliza", "siti@cahaya.example.co.id", "", "62811-1920-3344", "PT Cahaya",
             "Direktur", "Surabaya", "Awang Prasetyo", "2026-05-02 10:00", "lead"],
            ("Siti", "Nurhaliza", "PT Cahaya", "Direktur", "+6281119203344", "Surabaya"), id="hubspot"),
        pytest.param(
            ["First Name", "Last Name", "Title", "Account Name", "Mailing City", "Phone", "Mobile", "Email",
             "Contact Owner", "Lead Source"],
            ["Siti", "Nurhaliza", "Direktur", "PT Cahaya", "Surabaya", "(031) 555-0100", "",
             "siti@cahaya.example.co.id", "awang", "Web"],
            ("Siti", "Nurhaliza", "PT Cahaya", "Direktur", "+62315550100", "Surabaya"), id="salesforce"),
        pytest.param(
            ["Nama Lengkap", "Alamat Email", "Perusahaan", "Jabatan", "No. HP", "Telepon Kantor", "Kota", "Bahasa"],
            ["Ir. Siti Nurhaliza, M.M.", "siti@cahaya.example.co.id", "PT Cahaya", "Direktur", "",
             "021-5550-1234", "Surabaya", "Indonesia"],
            ("Siti", "Nurhaliza", "PT Cahaya", "Direktur", "+622155501234", "Surabaya"), id="indonesian"),
        pytest.param(
            ["Nama Depan", "Nama Belakang", "E-mail", "Perusahaan", "Jabatan", "HP", "Kota"],
            ["Siti", "Nurhaliza", "siti@cahaya.example.co.id", "PT Cahaya", "Direktur", "0811-1920-3344", "Surabaya"],
            ("Siti", "Nurhaliza", "PT Cahaya", "Direktur", "+6281119203344", "Surabaya"), id="indonesian-split"),
        pytest.param(  # what people type in Excel themselves
            ["NAME", "E-MAIL ADDRESS", "Company", "Position", "Mobile Phone", "City "],
            ["Santoso, Siti", "SITI@CAHAYA.EXAMPLE.CO.ID", "PT Cahaya", "Direktur", "811 1920 3344", "Surabaya"],
            ("Siti", "Santoso", "PT Cahaya", "Direktur", "+6281119203344", "Surabaya"), id="excel"),
    ],
)  # fmt: skip
def test_common_exports(tmp_path: Path, example_ws: Path, header: list[str], row: list[str],
                        expected: tuple[str, ...]) -> None:  # fmt: skip
    out, err = imported(example_ws, sheet(tmp_path / "export.csv", header, row))
    assert out[0] == "Contacts: 1 imported, 0 updated, 0 rejected"
    assert err == []
    assert fields(contact(example_ws, "siti@cahaya.example.co.id")) == expected


def test_hubspot_owner_name_and_last_contacted(tmp_path: Path, example_ws: Path) -> None:
    f = sheet(tmp_path / "hubspot.csv", ["Email", "Contact owner", "Last Contacted", "Preferred language"],
              ["a@x.example.com", "Sari Wulandari", "2026-05-02 10:00", "English"],
              ["b@x.example.com", "awang@contoh-solusi.example", "", "id-ID"],
              ["c@x.example.com", "Joko", "", "Français"])  # fmt: skip
    out, err = imported(example_ws, f)
    assert out[0] == "Contacts: 3 imported, 0 updated, 0 rejected"
    assert err == [
        "2 warning(s) (1 owner, 1 language); those contacts were imported:",
        "  row 4: owner 'Joko' is not a sender in outreach.yaml (senders: awang, sari); kept as written",
        "  row 4: language 'Français' is not id or en; the workspace's language is used",
    ]
    a, b, c = (contact(example_ws, f"{x}@x.example.com") for x in "abc")
    assert (a.owner, str(a.last_contacted_at), a.language) == ("sari", "2026-05-02", "en")
    assert (b.owner, b.language) == ("awang", "id")
    assert (c.owner, c.language) == ("Joko", "")


def test_linkedin_notes_above_the_header(tmp_path: Path, example_ws: Path) -> None:
    notes = ('Notes:\r\n"When exporting your connection data, you may notice that some of the email addresses '
             'are missing."\r\n\r\n')  # fmt: skip
    f = sheet(tmp_path / "Connections.csv",
              ["First Name", "Last Name", "URL", "Email Address", "Company", "Position", "Connected On"],
              ["Siti", "Nurhaliza", "https://www.linkedin.com/in/siti", "siti@cahaya.example.co.id", "PT Cahaya",
               "Direktur", "07 Dec 2025"],
              ["Tanpa", "Email", "https://www.linkedin.com/in/tanpa", "", "PT X", "CEO", "01 Jan 2026"],
              preamble=notes)  # fmt: skip
    result = invoke("contacts", "import", str(f), ws=example_ws)
    assert result.stdout.splitlines()[:2] == [
        "Contacts: 1 imported, 0 updated, 1 rejected",
        "Header on line 4; the 3 line(s) above it were skipped",
    ]
    assert result.stderr.splitlines() == ["  row 6: email is empty"]
    siti = contact(example_ws, "siti@cahaya.example.co.id")
    assert (siti.title, siti.custom) == ("Direktur", {"url": "https://www.linkedin.com/in/siti",
                                                      "connected_on": "07 Dec 2025"})  # fmt: skip


def test_map_names_the_columns_no_synonym_knows(tmp_path: Path, example_ws: Path) -> None:
    f = sheet(tmp_path / "crm.csv", ["Surel PIC", "Nama PIC", "Kode Pelanggan", "Catatan Internal", "Wilayah"],
              ["siti@cahaya.example.co.id", "Ibu Siti Nurhaliza", "C-0042", "jangan ditelepon", "Jawa Timur"])
    out, _ = imported(example_ws, f, "--map", "Surel PIC=email", "--map", "nama pic=full_name",
                      "--map", "Kode Pelanggan=custom.kode", "--map", "Catatan Internal=ignore")  # fmt: skip
    assert out == [
        "Contacts: 1 imported, 0 updated, 0 rejected",
        "Columns read as: 'Surel PIC' -> email, 'Nama PIC' -> full_name",
        "Kept as custom fields: Kode Pelanggan (custom.kode), wilayah",
        "Ignored (--map ...=ignore): Catatan Internal",
    ]
    siti = contact(example_ws, "siti@cahaya.example.co.id")
    assert (siti.first_name, siti.last_name, siti.custom) == ("Siti", "Nurhaliza",
                                                             {"kode": "C-0042", "wilayah": "Jawa Timur"})


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("Nope=email", "--map names no column of this file: 'nope' (columns: Surel PIC, Nama)"),
        ("Surel PIC=e-mail", "--map 'Surel PIC=e-mail': 'e-mail' is not a field (fields: email, first_name,"),
        ("Surel PIC", "--map 'Surel PIC': write COLUMN=FIELD, e.g. --map 'Nama PIC=full_name'"),
    ],
)
def test_bad_map_is_an_error_that_writes_nothing(tmp_path: Path, example_ws: Path, mapping: str, message: str) -> None:
    f = sheet(tmp_path / "crm.csv", ["Surel PIC", "Nama"], ["siti@cahaya.example.co.id", "Siti"])
    result = invoke("contacts", "import", str(f), "--map", mapping, ws=example_ws)
    assert result.exit_code == 1
    assert message in result.stderr and result.stderr.startswith("Error: ")
    assert get_contact(engine_of(example_ws), "siti@cahaya.example.co.id") is None


def test_invalid_phones_are_reported_per_row_and_the_contact_kept(tmp_path: Path, example_ws: Path) -> None:
    f = sheet(tmp_path / "p.csv", ["email", "phone"],
              ["a@x.example.com", "0812-3456-7890"], ["b@x.example.com", "12345"],
              ["c@x.example.com", "6.28123E+11"], ["d@x.example.com", "0812 3456 7890 / 021 5550 1234"],
              ["e@x.example.com", "021 5550 1234 ext. 12"])  # fmt: skip
    warnings = tmp_path / "warnings.csv"
    result = invoke("contacts", "import", str(f), "--warnings", str(warnings), ws=example_ws)
    assert result.stdout.splitlines() == ["Contacts: 5 imported, 0 updated, 0 rejected",
                                          f"Warnings written to {warnings}"]  # fmt: skip
    assert result.stderr.splitlines() == [
        "3 warning(s) (3 phone); those contacts were imported:",
        "  row 3: phone '12345' is not a valid phone number (default region ID); the contact was kept without it",
        "  row 4: phone '6.28123E+11' is not a valid phone number (default region ID); the contact was kept "
        "without it",
        "  row 6: phone '021 5550 1234 ext. 12': extension 12 is not kept (stored +622155501234)",
    ]
    phones = [contact(example_ws, f"{x}@x.example.com").phone for x in "abcde"]
    assert phones == ["+6281234567890", "", "", "+6281234567890", "+622155501234"]
    rows = list(csv.reader(io.StringIO(warnings.read_text(encoding="utf-8-sig"))))
    assert rows[0] == ["row", "warning"] and [r[0] for r in rows[1:]] == ["3", "4", "6"]


def test_the_default_region_is_a_setting(tmp_path: Path, example_ws: Path) -> None:
    settings = example_ws / "outreach.yaml"
    settings.write_text(settings.read_text(encoding="utf-8") + "contacts:\n  default_region: SG\n", encoding="utf-8")
    imported(example_ws, sheet(tmp_path / "p.csv", ["email", "phone"], ["a@x.example.com", "6123 4567"]))
    assert contact(example_ws, "a@x.example.com").phone == "+6561234567"
    settings.write_text(settings.read_text(encoding="utf-8").replace("SG", "Singapore"), encoding="utf-8")
    result = invoke("contacts", "import", str(tmp_path / "p.csv"), ws=example_ws)
    assert result.exit_code == 1
    assert result.stderr.endswith("contacts.default_region: 'Singapore' is not a country code like ID, SG or MY\n")


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("+62 812 3456 7890", "+6281234567890"), ("0812-3456-7890", "+6281234567890"),
        ("62812 3456 7890", "+6281234567890"), ("812 3456 7890", "+6281234567890"),
        ("(021) 555-0100", "+62215550100"), ("+65 6123 4567", "+6561234567"), ("12345", None), ("-", None),
        ("Pak Budi", None), ("0812 3456 7890 atau 021 555 0100", "+6281234567890"),
    ],
)  # fmt: skip
def test_phone_numbers(cell: str, expected: str | None) -> None:
    assert parse_phone([cell], "ID").e164 == expected


@pytest.mark.parametrize(
    ("full", "expected"),
    [
        ("Budi Santoso", ("Budi", "Santoso")), ("Suharto", ("Suharto", "")),
        ("Ir. Budi Santoso, M.M.", ("Budi", "Santoso")), ("Santoso, Budi", ("Budi", "Santoso")),
        ("Bapak Hendra Wijaya", ("Hendra", "Wijaya")), ("Ibu Dr. Ratna Dewi, S.E., M.Sc.", ("Ratna", "Dewi")),
        ("Muhammad Rizky Pratama", ("Muhammad", "Rizky Pratama")), ("  ", ("", "")), ("Pak", ("Pak", "")),
    ],
)  # fmt: skip
def test_full_names_are_split(full: str, expected: tuple[str, str]) -> None:
    assert split_name(full) == expected


def test_headers_compare_without_case_space_or_punctuation() -> None:
    assert normalise(" E-Mail Address [Required]") == normalise("email_address") == "emailaddress"
    plan = plan_header(["E_MAIL", "first-name", "JOB TITLE", "Jumlah Karyawan"])
    assert dict(plan.fields) == {"email": (0,), "first_name": (1,), "title": (2,)}
    assert dict(plan.custom) == {3: "jumlah_karyawan"}


def test_a_messy_outlook_export_of_a_thousand(tmp_path: Path, example_ws: Path) -> None:
    """The generator of the issue's closing note: every row is imported, rejected or warned about."""
    f = MESSY_OUTLOOK.write_outlook_csv(tmp_path / "outlook.csv", 1000, 11)
    result = invoke("contacts", "import", str(f), "--map", "User 1=owner", ws=example_ws)
    assert result.exit_code == 0
    first = result.stdout.splitlines()[0]
    imported_n, rejected_n = int(first.split()[1]), int(first.split()[5])
    assert imported_n + rejected_n == 1000 and 800 < imported_n < 950
    build = invoke("campaign", "build", "solusi-jaringan", ws=example_ws)
    assert build.exit_code == 0, build.output
    # the segment's 50 (limit: 50), less the one without a first name (require: [first_name])
    assert build.stdout == (
        "Campaign solusi-jaringan: 49 added to the outbox, 0 already there, 0 skipped (suppressed); 49 in the outbox\n"
        "Held out by require: 1 missing a required field\n"
        "  1 without first_name: kontak7171@elektronik.example.co.id\n"
    )
