"""The callers' list as an Excel workbook: exported, edited as a caller would, imported back."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from engine_support import TODAY, contact, reply
from helpers import invoke
from openpyxl import load_workbook
from sqlalchemy import select

from outreach.followups.promotion import promote
from outreach.followups.queue import CSV_COLUMNS, ITEM_COLUMNS, list_items
from outreach.storage import transaction
from outreach.storage.models import Contact
from outreach.tracking.ingest import ingest


def test_xlsx_round_trip_with_a_hostile_cell(sent, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ws, engine, rows, signer = sent
    with transaction(engine) as session:
        c = session.scalar(select(Contact).where(Contact.email == contact(0)))
        c.title = '=HYPERLINK("http://evil.example/","klik")'
    ingest(engine, [reply(rows[contact(0)], "Please call me.", 1), reply(rows[contact(1)], "Call me.", 2)], signer)
    promote(engine, ws, TODAY)
    out = tmp_path / "calls.xlsx"
    result = invoke("followups", "export", "--queue", "call", "--out", str(out), "--format", "xlsx", ws=ws.root)
    assert result.exit_code == 0 and result.stdout == f"Wrote 2 follow-up(s) to {out}\n"

    book = load_workbook(out)
    sheet = book.active
    columns = [*CSV_COLUMNS, "payment_terms"]  # and the example workspace's derived field, for callers
    assert [c.value for c in sheet[1]] == columns
    hostile = next(c for c in sheet["F"][1:] if str(c.value).startswith("=HYPERLINK"))
    assert hostile.data_type == "s"  # shown as text, never run as a formula
    for row in sheet.iter_rows(min_row=2):  # every cell is text, as in the CSV: the id and the priority too
        cells = dict(zip(columns, row, strict=True))
        assert cells["id"].data_type == cells["priority"].data_type == "s"
        assert str(cells["id"].value).isdigit() and isinstance(cells["priority"].value, str)
    by_email = {row[6].value: row for row in sheet.iter_rows(min_row=2)}
    by_email[contact(0)][14].value = "visit_scheduled"
    by_email[contact(0)][15].value = "kunjungan 7/12/2026 jam 10.00"
    by_email[contact(1)][14].value = "reached"
    book.save(out)

    result = invoke("followups", "import", str(out), ws=ws.root)
    assert result.exit_code == 0, result.output
    assert result.stdout == "Outcomes: 2 applied, 0 unchanged\n"
    (visit,) = list_items(engine, "visit")
    assert visit.email == contact(0) and visit.visit_at == datetime(2026, 12, 7, 10, 0)
    # the visit list carries visit_at as callers type it back
    visits = tmp_path / "visits.xlsx"
    assert invoke("followups", "export", "--queue", "visit", "--out", str(visits), ws=ws.root).exit_code == 0
    sheet = load_workbook(visits).active
    header = [c.value for c in sheet[1]]
    assert header == columns and header[len(ITEM_COLUMNS) - 1] == "visit_at"  # the contract's last
    row = {h: c for h, c in zip(header, sheet[2], strict=True)}
    assert row["visit_at"].value == "2026-12-07 10:00"


def test_a_broken_workbook_is_a_clear_error(sent, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    ws, *_ = sent
    bad = tmp_path / "calls.xlsx"
    bad.write_bytes(b"PK\x03\x04 not really a workbook")
    result = invoke("followups", "import", str(bad), ws=ws.root)
    assert result.exit_code == 1
    assert result.stderr == f"Error: {bad}: not a readable .xlsx workbook (BadZipFile)\n"
