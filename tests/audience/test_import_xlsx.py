"""Importing an Excel workbook directly: before, an .xlsx was "not a CSV text file".

The workbooks are made by openpyxl as Excel saves them: typed cells (numbers,
dates), a title row of notes above the header, a formula, an empty row.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from helpers import invoke
from openpyxl import Workbook

from outreach.audience.contacts import get_contact
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine


def workbook(path: Path, rows: list[list[object]], *, other_sheet: bool = False) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Kontak"
    for row in rows:
        sheet.append(row)
    if other_sheet:
        book.create_sheet("Catatan").append(["email"])
    book.save(path)
    return path


def test_a_workbook_imports_like_its_csv(tmp_path: Path, example_ws: Path) -> None:
    sheet = workbook(tmp_path / "Kontak Jakarta.xlsx", [
        ["Daftar prospek Q4 (diekspor dari CRM)"],  # notes above the header, as LinkedIn and CRMs write
        ["E-mail Address", "Nama Depan", "Perusahaan", "HP", "Terakhir Dihubungi", "Transaksi", "Status",
         "Jumlah Karyawan"],
        ["siti@cahaya.example.co.id", "Siti", "PT Cahaya", 81119203344, datetime(2026, 5, 12), 3, "existing", 120],
        [],
        ["joko@bumi.example.co.id", "Joko", "CV Bumi", "+62 21 5550 0009", date(2026, 1, 2), 0.0, "prospect", 8.5],
        ["bukan-email", "Rudi", "PT Salah", None, None, None, "prospect", None],
    ], other_sheet=True)  # fmt: skip
    rejects = tmp_path / "rejects.csv"
    result = invoke("contacts", "import", str(sheet), "--rejects", str(rejects), ws=example_ws)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Contacts: 2 imported, 0 updated, 1 rejected",
        "Header on line 2; the 1 line(s) above it were skipped",
        "Columns read as: 'E-mail Address' -> email, 'Nama Depan' -> first_name, 'HP' -> phone, 'Perusahaan' -> "
        "company, 'Terakhir Dihubungi' -> last_contacted_at, 'Transaksi' -> transactions",
        "Kept as custom fields: Jumlah Karyawan (custom.jumlah_karyawan)",
        f"Rejected rows written to {rejects}",
    ]
    # rows are numbered as the sheet numbers them: the bad address is on row 6 in Excel
    assert result.stderr == "  row 6: invalid email 'bukan-email': An email address must have an @-sign.\n"
    engine = open_engine(load_workspace(example_ws).database_url)
    siti = get_contact(engine, "siti@cahaya.example.co.id")
    assert siti is not None
    assert (siti.first_name, siti.company, siti.phone, siti.last_contacted_at, siti.transactions, siti.status) == (
        "Siti", "PT Cahaya", "+6281119203344", date(2026, 5, 12), 3, "existing")  # fmt: skip
    assert siti.custom == {"jumlah_karyawan": "120"}  # a whole number, not "120.0"
    joko = get_contact(engine, "joko@bumi.example.co.id")
    assert joko is not None and joko.last_contacted_at == date(2026, 1, 2) and joko.custom == {"jumlah_karyawan": "8.5"}


def test_a_workbook_named_csv_is_still_read_as_a_workbook(tmp_path: Path, example_ws: Path) -> None:
    sheet = workbook(tmp_path / "export.csv", [["email"], ["a@x.example.com"]])
    result = invoke("contacts", "import", str(sheet), ws=example_ws)
    assert (result.exit_code, result.stdout) == (0, "Contacts: 1 imported, 0 updated, 0 rejected\n")


def test_broken_and_old_workbooks_are_clear_errors(tmp_path: Path, example_ws: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 cut off in the download")
    result = invoke("contacts", "import", str(broken), ws=example_ws)
    assert (result.exit_code, result.stderr) == (1, f"Error: {broken}: not a readable .xlsx workbook (BadZipFile)\n")
    old = tmp_path / "old.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    result = invoke("contacts", "import", str(old), ws=example_ws)
    assert (result.exit_code, result.stderr) == (1, f"Error: {old}: an Excel 97-2003 workbook (.xls) or a "
                                                 "password-protected one, which cannot be read; open it in Excel or "
                                                 "LibreOffice and save it as .xlsx or CSV\n")  # fmt: skip
    empty = workbook(tmp_path / "empty.xlsx", [])
    result = invoke("contacts", "import", str(empty), ws=example_ws)
    assert (result.exit_code, result.stderr) == (1, f"Error: {empty}: the file is empty; it needs a header line with "
                                                 "an email column\n")  # fmt: skip
