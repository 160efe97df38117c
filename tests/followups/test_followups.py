"""Follow-ups: a reply becomes a call item; callers export the list and import outcomes."""

from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest
from helpers import (
    OVERRIDES,
    PROMO_SUBJECT,
    SendWorkspace,
    SmtpController,
    SmtpServer,
    free_port,
    make_workspace,
    write,
    write_csv,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.followups.outcomes import import_outcomes
from outreach.followups.queue import CARD_EXTRA, CSV_COLUMNS, list_items
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine
from outreach.storage.models import Contact, FollowUp
from outreach.workdays import BusinessCalendar

JAKARTA = ZoneInfo("Asia/Jakarta")
CONTRACT_COLUMNS = [
    "id", "queue", "priority", "company", "contact_name", "title", "email", "phone", "owner",
    "reason", "campaign", "last_subject", "reply_excerpt", "due_date", "outcome", "notes", "visit_at",
]  # fmt: skip
# the list's columns: the contract's, then each field callers see that the contract does not name (the registry's)
EXPORT_COLUMNS = [*CONTRACT_COLUMNS, *CARD_EXTRA]
REPLY_TEXT = "Terima kasih atas informasinya. Tolong hubungi saya lagi minggu depan."
REPLY_INTENT = "interested"  # "hubungi saya lagi minggu depan": a call back


EVERYONE = ["ani@alpha.example.com", "budi@beta.example.com", "citra@gamma.example.com",
            "dedi@delta.example.com", "eka@epsilon.example.com", "fajar@zeta.example.com"]  # fmt: skip


def settle(root: Path) -> None:
    """Fold SQLite's write-ahead log into the database file, so the folder can be copied."""
    engine = open_engine(load_workspace(root).database_url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Sent once per module, copied per test: the campaign `everyone` went to all six contacts
    through a real SMTP server; a second copy also has a reply from each of them ingested."""
    base = tmp_path_factory.mktemp("followups")
    server = SmtpServer()
    controller = SmtpController(server)
    controller.start()
    server.port = controller.port
    try:
        with pytest.MonkeyPatch.context() as mp:
            for var in OVERRIDES:
                mp.delenv(var, raising=False)
            mp.setenv("OUTREACH_SMTP_PORT", str(server.port))
            sw = SendWorkspace(make_workspace(base / "sent"), server)
            # these tests are about the callers' round trip: every reply is a call here
            # (the promotion rules that send some straight to a visit: test_promotion.py)
            with (sw.root / "outreach.yaml").open("a") as fh:
                fh.write("followups:\n  existing_to_visit: false\n  visit_keywords: []\n")
            assert sw.run("contacts", "import", str(sw.root / "small.csv")).exit_code == 0
            write(sw.root / "segments" / "everyone.yaml", "description: everyone\n")
            write(sw.root / "campaigns" / "everyone.yaml",
                  "segment: everyone\ncontent: promo.md\nsender: awang\nthrottle: {rate: 1000/s}\n")  # fmt: skip
            assert sw.run("campaign", "build", "everyone").exit_code == 0
            result = sw.run("campaign", "send", "everyone", "--yes")
            assert result.exit_code == 0, result.output
            assert sorted(server.recipients()) == sorted(EVERYONE)
            settle(sw.root)
            shutil.copytree(sw.root, base / "items")
            with_items = SendWorkspace(base / "items", server)
            inbox = base / "inbox"
            inbox.mkdir()
            for n, addr in enumerate(EVERYONE):
                reply_eml(with_items, addr, inbox, n)
            assert ingest(with_items, inbox)[-1] == "6 new follow-up(s) for callers"
            ids = {e: i.id for e, i in items(with_items).items()}  # type: ignore[attr-defined]
            settle(with_items.root)
    finally:
        controller.stop()
    return {"sent": sw.root, "items": with_items.root, "received": list(server.received), "ids": ids}


@pytest.fixture
def sent_ws(templates: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SendWorkspace:
    """A fresh copy of the sent workspace; its server object holds what was received."""
    root = tmp_path / "ws"
    shutil.copytree(templates["sent"], root)
    server = SmtpServer(port=free_port())  # nothing listens: these tests send nothing
    server.received.extend(templates["received"])
    monkeypatch.setenv("OUTREACH_SMTP_PORT", str(server.port))
    return SendWorkspace(root, server)


def reply_eml(sw: SendWorkspace, address: str, folder: Path, n: int = 1) -> Path:
    """A customer's reply to what the server received for ``address``, as a mail client writes it."""
    (rec,) = sw.server.to(address)
    sent = rec.message
    msg = EmailMessage()
    msg["From"] = sent["To"]
    msg["To"] = sent["From"]
    msg["Subject"] = f"Re: {sent['Subject']}"
    msg["Date"] = format_datetime(datetime(2026, 12, 1, 10, 0, tzinfo=JAKARTA))
    msg["Message-ID"] = f"<reply-{n}-{address}>"
    msg["In-Reply-To"] = sent["Message-ID"]
    msg["References"] = sent["Message-ID"]
    msg.set_content(
        f"{REPLY_TEXT}\n\nSalam,\n{sent['To'].addresses[0].display_name}\n\n"
        f"Pada 1 Des 2026, {sent['From']} menulis:\n> Yth. Bapak/Ibu,\n> penawaran lama\n"
    )
    path = folder / f"reply-{n}-{address.split('@')[0]}.eml"
    path.write_bytes(bytes(msg))
    return path


def ingest(sw: SendWorkspace, *paths: Path) -> list[str]:
    result = sw.run("track", "ingest", *map(str, paths))
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def items(sw: SendWorkspace, queue: str | None = "call") -> dict[str, object]:
    return {i.email: i for i in list_items(sw.engine(), queue)}


def test_reply_becomes_a_call_item_for_the_owner(sent_ws: SendWorkspace, tmp_path: Path) -> None:
    out = ingest(sent_ws, reply_eml(sent_ws, "ani@alpha.example.com", tmp_path))
    assert out == [
        "Read 1 message(s): 1 reply; 0 unmatched, 0 already recorded, 0 contact(s) suppressed",
        f"Replies: 1 {REPLY_INTENT}",
        "1 new follow-up(s) for callers",
    ]
    (item,) = list_items(sent_ws.engine(), "call")
    assert item.email == "ani@alpha.example.com"
    assert item.owner == "sari"  # Ani's owner, not the campaign's sender
    assert (item.queue, item.reason, item.campaign) == ("call", f"replied ({REPLY_INTENT})", "everyone")
    assert (item.company, item.contact_name, item.title) == ("PT Alpha Teknik", "Ani Lestari", "IT Manager")
    assert item.last_subject == PROMO_SUBJECT
    assert item.reply_excerpt.startswith(REPLY_TEXT)
    assert "penawaran lama" not in item.reply_excerpt  # quoted history is not the reply
    today = datetime.now(JAKARTA).date()
    jakarta = BusinessCalendar("ID")  # the workspace's calendar: public holidays and cuti bersama are off
    assert item.due_date in {jakarta.add(today, 1).isoformat(),
                             jakarta.add(today + timedelta(days=1), 1).isoformat()}  # fmt: skip
    result = sent_ws.run("campaign", "status", "everyone", "--json")
    assert '"replied": 1' in result.stdout


def test_contacts_without_owner_go_to_the_least_loaded_sender(sent_ws: SendWorkspace, tmp_path: Path) -> None:
    # Budi (owner awang) first; then Citra, no owner: sari has fewer open items;
    # then Fajar, no owner: both have one, the first by name wins
    for n, addr in enumerate(["budi@beta.example.com", "citra@gamma.example.com", "fajar@zeta.example.com"]):
        ingest(sent_ws, reply_eml(sent_ws, addr, tmp_path, n))
    owners = {e: i.owner for e, i in items(sent_ws).items()}  # type: ignore[attr-defined]
    assert owners == {
        "budi@beta.example.com": "awang",
        "citra@gamma.example.com": "sari",
        "fajar@zeta.example.com": "awang",
    }


def test_the_same_reply_twice_is_recorded_once(sent_ws: SendWorkspace, tmp_path: Path) -> None:
    eml = reply_eml(sent_ws, "ani@alpha.example.com", tmp_path)
    ingest(sent_ws, eml)
    assert ingest(sent_ws, eml) == [
        "Read 1 message(s): 1 reply; 0 unmatched, 1 already recorded, 0 contact(s) suppressed"
    ]
    assert len(items(sent_ws)) == 1


def test_second_reply_updates_the_open_item(sent_ws: SendWorkspace, tmp_path: Path) -> None:
    ingest(sent_ws, reply_eml(sent_ws, "ani@alpha.example.com", tmp_path, 1))
    second = reply_eml(sent_ws, "ani@alpha.example.com", tmp_path, 2)
    second.write_bytes(second.read_bytes().replace(b"Terima kasih atas", b"Maaf, sekali lagi"))
    out = ingest(sent_ws, second)
    assert not any("follow-up" in line for line in out)  # no new item
    (item,) = list_items(sent_ws.engine(), "call")
    assert item.reply_excerpt.startswith("Maaf, sekali lagi")


def export(sw: SendWorkspace, path: Path, queue: str = "call", fmt: str = "csv") -> str:
    result = sw.run("followups", "export", "--queue", queue, "--out", str(path), "--format", fmt)
    assert result.exit_code == 0, result.output
    return result.stdout


def read_export(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == [*EXPORT_COLUMNS, "payment_terms"]  # the example workspace's derived field, for callers
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_export_csv_columns_bom_and_content(sent_ws: SendWorkspace, tmp_path: Path) -> None:
    assert list(CSV_COLUMNS) == EXPORT_COLUMNS
    ingest(sent_ws, reply_eml(sent_ws, "dedi@delta.example.com", tmp_path))
    out = tmp_path / "calls.csv"
    assert export(sent_ws, out) == f"Wrote 1 follow-up(s) to {out}\n"
    (row,) = read_export(out)
    (item,) = list_items(sent_ws.engine(), "call")
    assert row == {
        "id": str(item.id), "queue": "call", "priority": "70", "company": "PT Delta Medika",
        "contact_name": "Dedi Kurniawan", "title": "Head of IT", "email": "dedi@delta.example.com",
        "phone": "+622155500004", "owner": "awang", "reason": f"replied ({REPLY_INTENT})", "campaign": "everyone",
        "last_subject": PROMO_SUBJECT, "reply_excerpt": item.reply_excerpt,
        "due_date": item.due_date, "outcome": "", "notes": "", "visit_at": "",
        **{column: "" for column in CARD_EXTRA},  # the registry's other fields callers see: Dedi has none
        "payment_terms": "30 hari",  # outreach.yaml's fields: an existing customer's terms
    }  # fmt: skip
    assert out.read_bytes().count(b"\r\n") == 2


def test_export_neutralises_formula_cells(sent_ws: SendWorkspace, tmp_path: Path) -> None:
    hostile = write_csv(
        tmp_path / "hostile.csv",
        ["email", "company", "title", "first_name", "last_name", "phone"],
        [["ani@alpha.example.com", '=HYPERLINK("http://evil.example/","klik")', "+Direktur", "-1+1",
          "@Lestari", "-1+1"]],
    )  # fmt: skip
    result = sent_ws.run("contacts", "import", str(hostile))
    assert result.exit_code == 0
    # a phone cell is read as a phone number: a formula is none, so the stored number stays
    assert result.stderr == ("1 warning(s) (1 phone); those contacts were imported:\n"
                             "  row 2: phone '-1+1' is not a valid "
                             "phone number (default region ID); the contact was kept without it\n")
    ingest(sent_ws, reply_eml(sent_ws, "ani@alpha.example.com", tmp_path, 1),
           reply_eml(sent_ws, "budi@beta.example.com", tmp_path, 2))  # fmt: skip
    ids = {e: i.id for e, i in items(sent_ws).items()}  # type: ignore[attr-defined]
    outcomes = write_csv(
        tmp_path / "outcomes.csv",
        ["id", "outcome", "notes"],
        [[ids["ani@alpha.example.com"], "callback", "\t=1+2"],
         [ids["budi@beta.example.com"], "no_answer", "\r=SUM(A1)"]],
    )  # fmt: skip
    assert sent_ws.run("followups", "import", str(outcomes)).exit_code == 0
    out = tmp_path / "calls.csv"
    export(sent_ws, out)
    rows = {r["email"]: r for r in read_export(out)}
    ani, budi = rows["ani@alpha.example.com"], rows["budi@beta.example.com"]
    assert ani["company"] == '\'=HYPERLINK("http://evil.example/","klik")'
    assert ani["title"] == "'+Direktur"
    assert ani["contact_name"] == "'-1+1 @Lestari"
    assert ani["phone"] == "+622155500001"  # E.164 is no formula: written as it is
    assert ani["notes"] == "'\t=1+2"
    assert budi["notes"] == "'\r=SUM(A1)"
    for row in rows.values():
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")) or re.fullmatch(r"\+\d+", value), value


def outcomes_file(path: Path, rows: list[list[object]]) -> Path:
    return write_csv(path, ["id", "outcome", "notes", "visit_at"], rows)


@pytest.fixture
def six_items(sent_ws: SendWorkspace, templates: dict[str, Any]) -> dict[str, int]:
    """Each of the six contacts replied: six call items (ids by e-mail)."""
    for f in sent_ws.root.glob("outreach.db*"):
        f.unlink()
    for f in templates["items"].glob("outreach.db*"):
        shutil.copyfile(f, sent_ws.root / f.name)
    return dict(templates["ids"])


def all_followups(sw: SendWorkspace) -> list[FollowUp]:
    with Session(sw.engine()) as s:
        return list(s.scalars(select(FollowUp).order_by(FollowUp.id)))


def test_import_applies_every_outcome(sent_ws: SendWorkspace, six_items: dict[str, int], tmp_path: Path) -> None:
    ids = six_items
    f = outcomes_file(tmp_path / "o.csv", [
        [ids["ani@alpha.example.com"], "reached", "Sudah dihubungi", ""],
        [ids["budi@beta.example.com"], "no_answer", "Tidak diangkat", ""],
        [ids["citra@gamma.example.com"], "callback", "Telepon lagi Senin", ""],
        [ids["dedi@delta.example.com"], "visit_scheduled", "Presentasi di kantor", "2026-12-10 10:00"],
        [ids["eka@epsilon.example.com"], "not_interested", "Sudah punya vendor", ""],
        [ids["fajar@zeta.example.com"], "wrong_contact", "Sudah pindah kerja", ""],
    ])  # fmt: skip
    friday = date(2026, 12, 4)
    assert import_outcomes(sent_ws.engine(), sent_ws.ws, f, today=friday) == {"applied": 6, "unchanged": 0}
    by_id = {f.id: f for f in all_followups(sent_ws)}
    ani, budi, citra, dedi, eka, fajar = (by_id[ids[e]] for e in sorted(ids))
    assert (ani.state, ani.outcome, ani.notes) == ("done", "reached", "Sudah dihubungi")
    assert (budi.state, budi.due_date) == ("open", date(2026, 12, 7))  # next business day
    assert (citra.state, citra.due_date) == ("open", date(2026, 12, 8))  # two business days
    assert (dedi.state, dedi.visit_at) == ("done", datetime(2026, 12, 10, 10, 0))
    (visit,) = [f for f in by_id.values() if f.queue == "visit"]
    assert (visit.contact_id, visit.state, visit.owner) == (dedi.contact_id, "open", dedi.owner)
    assert (visit.visit_at, visit.due_date, visit.notes) == (
        datetime(2026, 12, 10, 10, 0),
        date(2026, 12, 10),
        "Presentasi di kantor",
    )
    assert eka.state == "done" and fajar.state == "done"
    with Session(sent_ws.engine()) as s:
        eka_c = s.scalar(select(Contact).where(Contact.email == "eka@epsilon.example.com"))
        fajar_c = s.scalar(select(Contact).where(Contact.email == "fajar@zeta.example.com"))
        assert eka_c.cooling_until == friday + timedelta(days=90)
        assert fajar_c.needs_cleanup and "Sudah pindah kerja" in fajar_c.needs_cleanup
    # what stays on the call list: the two to call again
    assert sorted(items(sent_ws)) == ["budi@beta.example.com", "citra@gamma.example.com"]
    assert list(items(sent_ws, "visit")) == ["dedi@delta.example.com"]


def test_import_is_idempotent(sent_ws: SendWorkspace, six_items: dict[str, int], tmp_path: Path) -> None:
    ids = six_items
    f = outcomes_file(tmp_path / "o.csv", [
        [ids["dedi@delta.example.com"], "visit_scheduled", "Presentasi", "2026-12-10T10:00"],
        [ids["budi@beta.example.com"], "no_answer", "", ""],
        [ids["citra@gamma.example.com"], "callback", "Telepon lagi Rabu", "2026-12-09 09:00"],  # a dated callback
    ])  # fmt: skip
    result = sent_ws.run("followups", "import", str(f))
    assert (result.exit_code, result.stdout) == (0, "Outcomes: 3 applied, 0 unchanged\n")
    before = [(x.id, x.state, x.outcome, x.due_date, x.visit_at) for x in all_followups(sent_ws)]
    result = sent_ws.run("followups", "import", str(f))
    assert (result.exit_code, result.stdout) == (
        0, "Outcomes: 0 applied, 3 unchanged; nothing changed: every outcome in the file was already recorded\n")
    after = [(x.id, x.state, x.outcome, x.due_date, x.visit_at) for x in all_followups(sent_ws)]
    assert after == before
    assert sum(1 for x in all_followups(sent_ws) if x.queue == "visit") == 1


def test_import_reads_its_own_export(sent_ws: SendWorkspace, six_items: dict[str, int], tmp_path: Path) -> None:
    out = tmp_path / "calls.csv"
    export(sent_ws, out)
    text = out.read_text(encoding="utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for r in rows:
        r["outcome"] = "reached"
        r["notes"] = "=ok"  # a caller's note that looks like a formula
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=[*EXPORT_COLUMNS, "payment_terms"], lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    back = tmp_path / "back.csv"
    back.write_text(buf.getvalue(), encoding="utf-8-sig")
    result = sent_ws.run("followups", "import", str(back))
    assert (result.exit_code, result.stdout) == (0, "Outcomes: 6 applied, 0 unchanged\n")
    assert items(sent_ws) == {}
    assert {x.notes for x in all_followups(sent_ws)} == {"=ok"}


def snapshot(sw: SendWorkspace) -> list[tuple[object, ...]]:
    return [(x.id, x.queue, x.state, x.outcome, x.notes, x.due_date, x.visit_at) for x in all_followups(sw)]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([["{ani}", "reached", "ok", ""], ["999", "reached", "", ""]], "row 3: no follow-up with id 999"),
        ([["{ani}", "reached", "ok", ""], ["{budi}", "maybe", "", ""]],
         "row 3: outcome 'maybe' is not one of reached, no_answer, callback, visit_scheduled, "
         "not_interested, wrong_contact (calls and visits) or confirmed, updated, left_company, wrong_number, "
         "no_answer (verify)"),
        ([["abc", "reached", "", ""]], "row 2: id 'abc' is not a follow-up id"),
        ([["{ani}", "visit_scheduled", "", ""]],
         "row 2: visit_scheduled needs a date: a visit_at column (YYYY-MM-DD HH:MM) or a date in the notes "
         "(2026-12-07 10:00 or 7/12/2026 10.00)"),
        ([["{ani}", "visit_scheduled", "", "besok pagi"]],
         "row 2: visit_at 'besok pagi' is not an ISO date-time"),
    ],
)  # fmt: skip
def test_import_rejects_bad_rows_and_changes_nothing(
    sent_ws: SendWorkspace, six_items: dict[str, int], tmp_path: Path, rows: list[list[str]], message: str
) -> None:
    names = {"ani": six_items["ani@alpha.example.com"], "budi": six_items["budi@beta.example.com"]}
    f = outcomes_file(tmp_path / "o.csv", [[c.format(**names) for c in r] for r in rows])
    before = snapshot(sent_ws)
    result = sent_ws.run("followups", "import", str(f))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: {f}, {message}\n"
    assert snapshot(sent_ws) == before


def test_import_needs_id_and_outcome_columns(sent_ws: SendWorkspace, tmp_path: Path) -> None:
    f = write(tmp_path / "o.csv", "id,result\n1,reached\n")
    result = sent_ws.run("followups", "import", str(f))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {f}, line 1: no 'outcome' column (columns: id, result)\n"


def test_visits_export_as_calendar_events(sent_ws: SendWorkspace, six_items: dict[str, int], tmp_path: Path) -> None:
    ids = six_items
    f = outcomes_file(tmp_path / "o.csv", [
        [ids["dedi@delta.example.com"], "visit_scheduled", "Presentasi", "2026-12-10 10:00"],
        [ids["ani@alpha.example.com"], "visit_scheduled", "Demo produk", "2026-12-11 14:30"],
        [ids["budi@beta.example.com"], "callback", "", ""],
    ])  # fmt: skip
    assert sent_ws.run("followups", "import", str(f)).exit_code == 0
    out = tmp_path / "visits.ics"
    assert export(sent_ws, out, "visit", "ics") == f"Wrote 2 visit(s) to {out}\n"
    cal = icalendar.Calendar.from_ical(out.read_bytes())
    events = list(cal.walk("VEVENT"))
    assert len(events) == 2
    starts = sorted(ev.decoded("dtstart") for ev in events)
    assert starts == [datetime(2026, 12, 10, 10, 0, tzinfo=JAKARTA), datetime(2026, 12, 11, 14, 30, tzinfo=JAKARTA)]
    summaries = sorted(str(ev["summary"]) for ev in events)
    assert summaries == ["Visit: PT Alpha Teknik", "Visit: PT Delta Medika"]
    assert len({str(ev["uid"]) for ev in events}) == 2
    # the TZID the events name is defined in the file itself (Outlook needs the VTIMEZONE to place them)
    (zone,) = list(cal.walk("VTIMEZONE"))
    assert str(zone["tzid"]) == "Asia/Jakarta"
    assert all(ev["dtstart"].params["TZID"] == "Asia/Jakarta" for ev in events)
    # the call queue has no visits: an empty calendar, still valid
    calls = tmp_path / "calls.ics"
    assert export(sent_ws, calls, "call", "ics") == f"Wrote 0 visit(s) to {calls}\n"
    assert list(icalendar.Calendar.from_ical(calls.read_bytes()).walk("VEVENT")) == []


def test_followups_list(sent_ws: SendWorkspace, six_items: dict[str, int]) -> None:
    result = sent_ws.run("followups", "list", "--queue", "call", "--owner", "sari")
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0].split() == ["id", "queue", "prio", "due", "owner", "company", "contact", "phone", "reply"]
    assert out[-1] == f"{len(out) - 2} open follow-up(s)"
    assert all(" sari " in line for line in out[1:-1])
    with Session(sent_ws.engine()) as s:
        sari = s.scalar(select(func.count()).select_from(FollowUp).where(FollowUp.owner == "sari"))
    assert len(out) - 2 == sari


def test_export_needs_queue(sent_ws: SendWorkspace, tmp_path: Path) -> None:
    result = sent_ws.run("followups", "export", "--out", str(tmp_path / "x.csv"))
    assert result.exit_code == 2
    one_line = "Error: Missing option '--queue'. Choose from: call, visit, verify."
    assert result.stderr.splitlines()[-1] == one_line


def test_rescheduling_a_visit_keeps_one_visit(
    sent_ws: SendWorkspace, six_items: dict[str, int], tmp_path: Path
) -> None:
    dedi = six_items["dedi@delta.example.com"]
    first = outcomes_file(tmp_path / "a.csv", [[dedi, "visit_scheduled", "Presentasi", "2026-12-10 10:00"]])
    moved = outcomes_file(tmp_path / "b.csv", [[dedi, "visit_scheduled", "Presentasi", "2026-12-14 09:00"]])
    assert sent_ws.run("followups", "import", str(first)).exit_code == 0
    result = sent_ws.run("followups", "import", str(moved))
    assert (result.exit_code, result.stdout) == (0, "Outcomes: 1 applied, 0 unchanged\n")
    visits = [f for f in all_followups(sent_ws) if f.queue == "visit"]
    assert [(v.state, v.visit_at, v.due_date) for v in visits] == [
        ("open", datetime(2026, 12, 14, 9, 0), date(2026, 12, 14))
    ]


def test_import_rows_are_numbered_from_the_line_they_start_on(
    sent_ws: SendWorkspace, six_items: dict[str, int], tmp_path: Path
) -> None:
    ani = six_items["ani@alpha.example.com"]
    f = outcomes_file(tmp_path / "o.csv", [[ani, "callback", "Telepon lagi\nSenin pagi", ""], [ani, "nope", "", ""]])
    result = sent_ws.run("followups", "import", str(f))
    assert result.stderr.startswith(f"Error: {f}, row 4: outcome 'nope' is not one of ")  # the file's line 4
    f = outcomes_file(tmp_path / "p.csv", [[ani, "nope", "Telepon lagi\nSenin pagi", ""]])
    result = sent_ws.run("followups", "import", str(f))
    assert result.stderr.startswith(f"Error: {f}, row 2: outcome 'nope' is not one of ")


def test_import_of_a_broken_csv_is_an_error(sent_ws: SendWorkspace, tmp_path: Path) -> None:
    f = write(tmp_path / "o.csv", "id,outcome,notes\n1,reached," + "x" * 200_000 + "\n")
    result = sent_ws.run("followups", "import", str(f))
    assert result.exit_code == 1
    assert result.stderr == f"Error: {f}, line 2: field larger than field limit (131072)\n"


def test_import_reports_every_bad_row(sent_ws: SendWorkspace, six_items: dict[str, int], tmp_path: Path) -> None:
    ani = six_items["ani@alpha.example.com"]
    f = outcomes_file(tmp_path / "o.csv", [[ani, "reached", "", ""], ["x1", "reached", "", ""], [ani, "maybe", "", ""],
                                           ["99999", "callback", "", ""], [ani, "visit_scheduled", "", "besok"]])
    before = snapshot(sent_ws)
    result = sent_ws.run("followups", "import", str(f))
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {f}: 4 bad rows; nothing was changed (fix them and import the file again):\n"
        "  row 3: id 'x1' is not a follow-up id\n"
        "  row 4: outcome 'maybe' is not one of reached, no_answer, callback, visit_scheduled, not_interested, "
        "wrong_contact (calls and visits) or confirmed, updated, left_company, wrong_number, no_answer (verify)\n"
        "  row 5: no follow-up with id 99999\n"
        "  row 6: visit_at 'besok' is not an ISO date-time\n"
    )
    assert snapshot(sent_ws) == before


def test_phone_numbers_are_not_quoted_but_formulas_are() -> None:
    from outreach.sheets import neutralise, unneutralise

    assert neutralise("+6281234567890") == "+6281234567890"
    assert neutralise("+62 21 5550 1234") == "+62 21 5550 1234"
    for hostile in ("+62-21-555", "+cmd|' /C calc'!A0", "=1+2", "-1+1", "@SUM(A1)", "+", "+ 62"):
        assert neutralise(hostile) == "'" + hostile
        assert unneutralise(neutralise(hostile)) == hostile
