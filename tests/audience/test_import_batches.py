"""Large imports: read as a stream, written in batches, rows parsed in worker processes.

Whatever the batch size and however many workers parse, an import gives what one
row at a time gave: the same contacts, rejects (with the first line of a
duplicate), warnings, ids in file order, and nothing at all when the file breaks
half-way. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from helpers import BROKEN_REJECTS, DATA, invoke, write, write_csv
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.audience import importer
from outreach.audience.contacts import count_contacts, get_contact, iter_contacts
from outreach.audience.headers import plan_header
from outreach.audience.importer import ImportOptions, RowLog, import_contacts
from outreach.audience.workers import WorkerError, Workers
from outreach.errors import InputError
from outreach.sheets import open_spreadsheet, spreadsheet_encoding
from outreach.storage import open_engine
from outreach.storage.models import Company


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'outreach.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    return open_engine(url)


def rejects(result: importer.ImportResult) -> list[tuple[int, str]]:
    return [(line, reason) for line, reason, _row in result.rejected]


@pytest.mark.parametrize(("batch", "workers"), [(1, 0), (3, 0), (2, 1), (500, 2)])
def test_any_batch_size_and_workers_give_the_same_import(engine: Engine, monkeypatch: pytest.MonkeyPatch,
                                                         batch: int, workers: int) -> None:  # fmt: skip
    monkeypatch.setattr(importer, "BATCH", batch)
    result = import_contacts(engine, DATA / "contacts_broken.csv", ImportOptions(workers=workers))
    assert (result.imported, result.updated) == (3, 0)
    assert rejects(result) == BROKEN_REJECTS
    assert result.rejected[6][2]["first_name"] == "Gita\r\nBcc: victim@evil.example"
    assert [c.email for c in iter_contacts(engine)] == ["good1@example.com", "good2@example.com",
                                                         "user@xn--bcher-kva.de"]  # fmt: skip
    good2 = get_contact(engine, "good2@example.com")
    assert good2 is not None
    assert (good2.last_contacted_at, good2.custom, good2.timezone) == (date(2026, 1, 15), {"region": "east"},
                                                                        "Asia/Makassar")  # fmt: skip


def test_duplicates_name_the_first_line_across_batches(engine: Engine, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(importer, "BATCH", 2)
    f = write_csv(tmp_path / "dups.csv", ["email", "first_name"], [
        ["a@x.example.com", "A"],      # line 2
        ["b@x.example.com", "B"],      # 3
        ["A@X.example.com", "A2"],     # 4: duplicate of 2, in the next batch
        ["c@x.example.com", "C"],      # 5
        ["b@x.example.com", "B2"],     # 6: duplicate of 3
        ["c@x.example.com", "C2"],     # 7: duplicate of 5, in the same batch
        ["not-an-email", "X"],         # 8
        ["a@x.example.com", "A3"],     # 9: still a duplicate of 2, not of 4
    ])  # fmt: skip
    result = import_contacts(engine, f)
    assert rejects(result) == [
        (4, "duplicate of line 2 (a@x.example.com)"),
        (6, "duplicate of line 3 (b@x.example.com)"),
        (7, "duplicate of line 5 (c@x.example.com)"),
        (8, "invalid email 'not-an-email': An email address must have an @-sign."),
        (9, "duplicate of line 2 (a@x.example.com)"),
    ]
    assert [(c.email, c.first_name) for c in iter_contacts(engine)] == [
        ("a@x.example.com", "A"), ("b@x.example.com", "B"), ("c@x.example.com", "C")]


def test_reimport_keeps_what_a_cell_leaves_empty(engine: Engine, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(importer, "BATCH", 2)
    header = ["email", "first_name", "title", "company", "industry", "city", "status", "transactions",
              "last_contacted_at", "tags", "employees", "npwp"]  # fmt: skip
    first = write_csv(tmp_path / "a.csv", header, [
        ["ani@example.com", "Ani", "CTO", "PT  Satu", "", "Jakarta", "existing", "3", "2026-01-02", "vip", "120", ""],
        ["budi@example.com", "Budi", "", "pt satu", "Retail", "Bandung", "", "", "", "", "", "01.2"],
        ["citra@example.com", "Citra", "", "", "", "", "", "", "", "", "", ""],
    ])  # fmt: skip
    again = write_csv(tmp_path / "b.csv", header, [
        ["ANI@example.com", "", "", "", "", "Surabaya", "prospect", "0", "", "", "", "9.9"],
        ["dewi@example.com", "Dewi", "", "PT Dua", "", "", "", "", "", "", "", ""],
        ["citra@example.com", "", "Buyer", "PT SATU", "Banking", "", "", "", "", "*myContacts", "", ""],
    ])  # fmt: skip
    assert import_contacts(engine, first).summary() == "3 imported, 0 updated, 0 rejected"
    assert import_contacts(engine, again).summary() == "1 imported, 2 updated, 0 rejected"

    def row(email: str) -> tuple[Any, ...]:
        c = get_contact(engine, email)
        assert c is not None
        return (c.first_name, c.title, c.company, c.industry, c.city, c.status, c.transactions,
                c.last_contacted_at, c.tags, c.custom)  # fmt: skip

    assert row("ani@example.com") == ("Ani", "CTO", "PT  Satu", "", "Surabaya", "prospect", 0, date(2026, 1, 2),
                                      ("vip",), {"employees": "120", "npwp": "9.9"})  # fmt: skip
    assert row("budi@example.com") == ("Budi", "", "PT  Satu", "Retail", "Bandung", "prospect", 0, None, (),
                                       {"npwp": "01.2"})  # fmt: skip
    assert row("citra@example.com") == ("Citra", "Buyer", "PT  Satu", "Banking", "", "prospect", 0, None, (), {})
    assert row("dewi@example.com")[:3] == ("Dewi", "", "PT Dua")
    with Session(engine) as s:
        companies = {c.key: (c.name, c.industry, c.city) for c in s.scalars(select(Company))}
    # one company for "PT  Satu", "pt satu" and "PT SATU": its first name; its fields from the first
    # row that had them (Ani's city, Budi's industry), never overwritten by later rows
    assert companies == {"pt satu": ("PT  Satu", "Retail", "Jakarta"), "pt dua": ("PT Dua", None, None)}


def test_new_contacts_get_ids_in_file_order(engine: Engine, tmp_path: Path) -> None:
    rows = [[f"p{n}@example.com", "" if n % 3 else "Nama", "" if n % 2 else "Jakarta", "" if n % 5 else "7"]
            for n in range(12)]  # rows with different empty cells, so different columns to set  # fmt: skip
    f = write_csv(tmp_path / "order.csv", ["email", "first_name", "city", "transactions"], rows)
    import_contacts(engine, f)
    assert [c.email for c in iter_contacts(engine)] == [r[0] for r in rows]


@pytest.mark.parametrize("workers", [0, 1])
def test_a_file_broken_after_many_batches_imports_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          workers: int) -> None:  # fmt: skip
    monkeypatch.setattr(importer, "BATCH", 2)
    engine = open_engine(f"sqlite:///{tmp_path / 'outreach.db'}")
    good = "".join(f"p{n}@example.com,Nama\n" for n in range(9))
    f = write(tmp_path / "broken.csv", f"email,first_name\n{good}late@example.com,{'x' * 200_000}\n")
    with pytest.raises(InputError, match=r"broken.csv, line 11: field larger than field limit"):
        import_contacts(engine, f, ImportOptions(workers=workers))
    assert count_contacts(engine) == 0


def test_thousands_of_rejects_all_reach_the_rejects_file(example_ws: Path, tmp_path: Path) -> None:
    """Past the first thousand, rejects wait in a temporary file: every one is written, in order."""
    bad = [[f"nobody{n}", f"Nama {n}"] for n in range(1500)]
    f = write_csv(tmp_path / "bad.csv", ["email", "first_name"], [["ok@example.com", "Ok"], *bad])
    out = tmp_path / "rejects.csv"
    result = invoke("contacts", "import", str(f), "--rejects", str(out), ws=example_ws)
    assert result.stdout.splitlines() == ["Contacts: 1 imported, 0 updated, 1500 rejected",
                                          f"Rejected rows written to {out}"]  # fmt: skip
    assert result.stderr.splitlines()[-1] == "  ... and 1495 more (--rejects FILE.csv lists every one)"
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"), newline="")))
    assert [r[0] for r in rows[1:]] == [str(n) for n in range(3, 1503)]
    assert rows[-1] == ["1502", "invalid email 'nobody1499': An email address must have an @-sign.", "nobody1499",
                        "Nama 1499"]  # fmt: skip


def test_row_log_keeps_the_first_in_memory_and_the_rest_on_disk() -> None:
    log: RowLog[tuple[int, str]] = RowLog(keep=3)
    log.extend((n, f"row {n}") for n in range(8))
    assert len(log) == 8
    assert list(log) == [(n, f"row {n}") for n in range(8)]
    assert list(log) == list(log)  # read again from the start
    log.append((8, "row 8"))  # and appended to after reading
    assert [n for n, _ in log] == list(range(9))
    assert (log[1], log[6], log[-1]) == ((1, "row 1"), (6, "row 6"), (8, "row 8"))
    assert log[2:5] == [(2, "row 2"), (3, "row 3"), (4, "row 4")]


def test_progress_follows_the_bytes_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "BATCH", 50)
    f = write_csv(tmp_path / "p.csv", ["email"], [[f"p{n}@example.com"] for n in range(400)])
    seen: list[tuple[int, int]] = []
    import_contacts(open_engine(f"sqlite:///{tmp_path / 'o.db'}"), f, progress=lambda done, total: seen.append(
        (done, total)))  # fmt: skip
    assert len(seen) == 8
    assert {total for _done, total in seen} == {f.stat().st_size}
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1][0] == f.stat().st_size


# -- the workers ------------------------------------------------------------------------------


def test_workers_answer_in_order_and_pass_errors_on() -> None:
    plan = plan_header(["email", "first_name"])
    pool = Workers(2, plan, ImportOptions())
    try:
        batches = [[(n, [f"p{n}@example.com", f"N{n}"], None)] for n in range(2, 7)]
        answers = [pool.submit(batch) for batch in batches]
        assert [a()[0][0]["first_name"] for a in answers] == ["N2", "N3", "N4", "N5", "N6"]
        assert pool.submit([(7, ["bad", "X"], None), (8, ["", ""], "more cells than header columns")])() == [
            "invalid email 'bad': An email address must have an @-sign.", "more cells than header columns"]
        broken = pool.submit([(9, None, None)])  # a bug in parsing is raised here, as it would be in-process
        with pytest.raises(TypeError):
            broken()
    finally:
        pool.close()


def test_a_worker_that_dies_stops_the_import() -> None:
    pool = Workers(1, plan_header(["email"]), ImportOptions())
    try:
        assert pool.submit([(2, ["a@example.com"], None)])()[0][0] == {"email": "a@example.com"}
        proc = pool._procs[0]
        proc.kill()
        proc.wait()
        with pytest.raises(WorkerError, match=r"a process parsing the rows stopped \(exit code -9\)"):
            pool.submit([(3, ["b@example.com"], None)])()
    finally:
        pool.close()


# -- reading a file of any size in any encoding --------------------------------------------------


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 3, 7, 1 << 20])
def test_encoding_is_found_whatever_the_chunks(size: int) -> None:
    text = "email,name\nsiti@example.co.id,Siti Nurhaliza\njose@example.com,José Müller ✓\n" * 20
    assert spreadsheet_encoding(chunks(text.encode("utf-8"), size), "f.csv") == "utf-8-sig"
    assert spreadsheet_encoding(chunks(b"\xef\xbb\xbf" + text.encode("utf-8"), size), "f.csv") == "utf-8-sig"
    assert spreadsheet_encoding(chunks(text.encode("utf-16"), size), "f.csv") == "utf-16"
    late_cp1252 = text.encode("utf-8") + "Société Générale\n".encode("cp1252")
    assert spreadsheet_encoding(chunks(late_cp1252, size), "f.csv") == "cp1252"
    with pytest.raises(InputError, match=r"f.csv: this is not a CSV text file \(it holds binary data\)"):
        spreadsheet_encoding(chunks(late_cp1252 + b"\x00\x01", size), "f.csv")


@pytest.mark.parametrize("size", [1, 4, 1 << 20])
def test_broken_utf16_names_the_byte(size: int) -> None:
    data = "email\na@example.com\n".encode("utf-16") + b"\x00\xd8\x41\x00"  # a lone high surrogate
    with pytest.raises(UnicodeDecodeError) as direct:
        data.decode("utf-16")
    with pytest.raises(InputError, match=rf"f.csv: broken UTF-16 text at byte {direct.value.start}$"):
        spreadsheet_encoding(chunks(data, size), "f.csv")


def test_a_file_is_decoded_as_its_whole_bytes_say(tmp_path: Path) -> None:
    """A CP1252 byte far into the file (after the first chunk) makes it all CP1252."""
    f = tmp_path / "cp.csv"
    text = "email,company\n" + "".join(f"p{n}@example.com,PT {n}\n" for n in range(50)) + "q@example.com,Société\n"
    f.write_bytes(text.encode("cp1252"))
    with open_spreadsheet(f, chunk=64) as fh:
        assert fh.read() == text
