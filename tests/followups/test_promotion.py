"""Promotion rules, out-of-office holds, soft-bounce suppression, callers' dates and cooling-off."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from engine_support import TODAY, contact, reply, soft_bounce
from sqlalchemy import select

from outreach.followups.outcomes import import_outcomes, visit_from_notes
from outreach.followups.promotion import promote
from outreach.followups.queue import list_items
from outreach.settings.workspace import load_workspace
from outreach.storage import transaction
from outreach.storage.models import Contact, Suppression
from outreach.tracking.ingest import SoftBouncePolicy, ingest


def test_replies_are_promoted_by_the_rules(sent) -> None:  # type: ignore[no-untyped-def]
    ws, engine, rows, signer = sent
    with transaction(engine) as session:
        existing = session.scalar(select(Contact).where(Contact.email == contact(2)))
        existing.status = "existing"
        big = session.scalar(select(Contact).where(Contact.email == contact(3)))
        big.custom = {"employees": "1,000"}
    ingest(engine, [
        reply(rows[contact(0)], "Terima kasih, info yang menarik. Silakan telepon saya.", 1),
        reply(rows[contact(1)], "Mohon kirimkan penawaran harganya untuk 40 unit.", 2),
        reply(rows[contact(2)], "Thanks, noted.", 3),
        reply(rows[contact(3)], "Could we meet next week to discuss pricing?", 4),
    ], signer)  # fmt: skip
    assert promote(engine, ws, TODAY) == 4
    items = {i.email: i for i in list_items(engine)}
    first = items[contact(0)]
    assert (first.queue, first.priority, first.reason) == ("call", 50, "replied (interested)")
    assert (items[contact(1)].queue, items[contact(1)].priority) == ("visit", 65)
    assert items[contact(1)].reason == "replied (interested): asks for a meeting or a price"
    assert (items[contact(2)].queue, items[contact(2)].priority) == ("visit", 70)
    assert items[contact(2)].reason == "replied (other): existing customer"
    assert (items[contact(3)].queue, items[contact(3)].priority) == ("visit", 80)  # 50 + 15 asks + 15 size
    assert {i.due_date for i in items.values()} == {"2026-12-01"}  # one business day
    assert [i.email for i in list_items(engine)][:2] == [contact(3), contact(2)]  # highest priority first


def test_one_open_item_per_contact_and_auto_replies_never_promoted(sent) -> None:  # type: ignore[no-untyped-def]
    ws, engine, rows, signer = sent
    ooo = "Auto-Submitted: auto-replied\r\n"
    ingest(engine, [reply(rows[contact(0)], "I am out of the office until 15 December 2026.", 1, ooo)], signer)
    assert promote(engine, ws, TODAY) == 0
    ingest(engine, [reply(rows[contact(1)], "Please call me.", 2), reply(rows[contact(1)], "Any news?", 3)], signer)
    assert promote(engine, ws, TODAY) == 1
    (item,) = list_items(engine)
    assert item.reply_excerpt == "Any news?"  # the one item carries the newest reply


def test_out_of_office_with_return_date_holds_the_follow_up(sent) -> None:  # type: ignore[no-untyped-def]
    ws, engine, rows, signer = sent
    ingest(engine, [reply(rows[contact(0)], "Please call me next week.", 1)], signer)
    promote(engine, ws, TODAY)
    ooo = "Auto-Submitted: auto-replied\r\n"
    ingest(engine, [reply(rows[contact(0)], "Saya sedang cuti sampai 15 Desember 2026.", 2, ooo)], signer)
    promote(engine, ws, TODAY)
    (item,) = list_items(engine)
    assert item.due_date == "2026-12-15"


def test_soft_bounces_suppress_only_when_they_persist(sent) -> None:  # type: ignore[no-untyped-def]
    _ws, engine, rows, signer = sent
    policy = SoftBouncePolicy(limit=3, spread=timedelta(days=7))
    start = datetime(2026, 11, 1, 9, 0)
    for i, days in enumerate((0, 1, 2)):  # three within two days: not yet
        ingest(engine, [soft_bounce(rows[contact(0)], 10 + i)], signer, policy, now=start + timedelta(days=days))
    for i, days in enumerate((0, 4, 8)):  # three over eight days: suppressed
        ingest(engine, [soft_bounce(rows[contact(1)], 20 + i)], signer, policy, now=start + timedelta(days=days))
    with transaction(engine) as session:
        suppressed = {s.email: s.reason for s in session.scalars(select(Suppression))}
    assert suppressed == {contact(1): "soft_bounces:mailbox_full"}


@pytest.mark.parametrize(
    ("notes", "expected"),
    [
        ("visit on 2026-12-07 14:30 with the IT team", datetime(2026, 12, 7, 14, 30)),
        ("kunjungan 7/12/2026 jam 09.15", datetime(2026, 12, 7, 9, 15)),
        ("ketemu 2026-12-08", datetime(2026, 12, 8, 10, 0)),
        ("minggu depan", None),
        ("31/02/2026", None),
    ],
)
def test_visit_date_from_the_notes(notes: str, expected: datetime | None) -> None:
    assert visit_from_notes(notes) == expected


def test_import_takes_the_visit_date_from_notes_and_cooling_off_from_settings(sent, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws, engine, rows, signer = sent
    with (ws.root / "outreach.yaml").open("a") as fh:
        fh.write("followups:\n  cooling_off: 30d\n")
    ws = load_workspace(ws.root)
    ingest(engine, [reply(rows[contact(0)], "Please call.", 1), reply(rows[contact(1)], "Call me.", 2)], signer)
    promote(engine, ws, TODAY)
    ids = {i.email: i.id for i in list_items(engine)}
    path = tmp_path / "outcomes.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "outcome", "notes"])
        w.writerow([ids[contact(0)], "visit_scheduled", "kunjungan 7/12/2026 jam 10.00, bawa brosur"])
        w.writerow([ids[contact(1)], "not_interested", "sudah punya vendor"])
    assert import_outcomes(engine, ws, path, TODAY) == {"applied": 2, "unchanged": 0}
    (visit,) = list_items(engine, "visit")
    assert visit.visit_at == datetime(2026, 12, 7, 10, 0)
    with transaction(engine) as session:
        cooled = session.scalar(select(Contact.cooling_until).where(Contact.email == contact(1)))
    assert cooled == TODAY + timedelta(days=30)
