"""The event feed: one event per thing that happened, written with the change it records, read after a cursor.

A real bulk campaign through the fault-injecting SMTP server (one address
dead: 550), then real inbound mail (a DSN bounce, an ARF complaint, a reply),
an unsubscribe link and a caller's outcome; the feed must show each, once, in
order, with the data a CRM needs, and no other part of outreach may count
the new ``sent`` events as something else.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import date
from pathlib import Path

import pytest
from engine_support import Faults, FaultySink, bulk_workspace, contact, dsn_bounce, prepare, reply, running
from sqlalchemy import create_engine, func, select, text

from outreach.campaigns.status import campaign_status
from outreach.events.feed import read_feed
from outreach.followups.history import contact_history
from outreach.followups.outcomes import save_outcome
from outreach.followups.promotion import promote
from outreach.sending.engine import send_campaign
from outreach.settings.tokens import Signer, workspace_secret
from outreach.storage import open_engine, transaction
from outreach.storage.models import Event, FollowUp, Outbox
from outreach.tracking.ingest import ingest
from outreach.tracking.unsubscribe import unsubscribe

DATA = Path(__file__).resolve().parents[1] / "data" / "inbound"


def complaint(row: Outbox) -> tuple[str, bytes]:
    raw = (DATA / "arf_complaint.eml").read_bytes()
    raw = raw.replace(b"Fajar.Nugroho@yahoo.co.id", row.email.encode()).replace(b"fajar.nugroho@yahoo.co.id",
                                                                                  row.email.encode())  # fmt: skip
    return "arf", raw.replace(b"<abc203@contoh-solusi.co.id>", f"<{row.message_id}>".encode())


def test_every_kind_of_event_is_in_the_feed_once_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 8, "throttle: {rate: 2000/s}\nretry: {attempts: 1}\n")
    with running(FaultySink(Faults(dead=frozenset({contact(7)})))) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        report = asyncio.run(send_campaign(ws, engine, "blast"))
    assert (report.sent, report.failed) == (7, 1)
    with transaction(engine) as session:
        rows = {r.email: r for r in session.scalars(select(Outbox))}
    signer = Signer(workspace_secret(engine, ws.settings.unsubscribe.secret_env))
    bounce = dsn_bounce(rows[contact(1)], 1, status="5.1.1", diagnostic="550 5.1.1 User unknown",
                        text="User unknown", prefix="b")  # fmt: skip
    ingest(engine, [bounce, complaint(rows[contact(2)]), reply(rows[contact(3)], "Boleh, kirim penawaran.", 3)],
           signer)  # fmt: skip
    unsubscribe(engine, signer, signer.sign(rows[contact(4)].contact_id, rows[contact(4)].campaign_id))
    promote(engine, ws)
    with transaction(engine) as session:
        item = session.scalars(select(FollowUp)).one()
    save_outcome(engine, ws, item.id, item.version, "reached", "sudah ditelepon", None, today=date(2026, 12, 1))

    page = read_feed(engine, 0, 1000, tz=ws.tz)
    kinds = [e.type for e in page.events]
    assert sorted(kinds[:8]) == ["failed"] + ["sent"] * 7  # recorded by the engine as the relay answered
    assert kinds[8:] == ["bounce", "complaint", "reply", "unsubscribe", "outcome"]
    ids = [e.id for e in page.events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and page.next == ids[-1]
    by_type = {e.type: e for e in page.events}
    assert by_type["failed"].contact == contact(7) and by_type["failed"].data["code"] == 550
    assert by_type["bounce"].data["hard"] is True and by_type["bounce"].data["reason"] == "user_unknown"
    assert by_type["complaint"].contact == contact(2) and by_type["complaint"].data["reason"] == "abuse"
    assert by_type["reply"].data["text"].startswith("Boleh, kirim penawaran") and "intent" in by_type["reply"].data
    assert by_type["unsubscribe"].data == {"email": contact(4), "message_id": f"<{rows[contact(4)].message_id}>",
                                           "step": 0, "via": "one-click"}  # fmt: skip
    assert by_type["outcome"].data["outcome"] == "reached" and by_type["outcome"].contact == contact(3)
    sent = by_type["sent"]
    assert sent.campaign == "blast" and sent.data["message_id"] == f"<{rows[sent.contact].message_id}>"
    assert all(e.as_dict()["at"].endswith("Z") for e in page.events)

    # a cursor in the middle gives the rest; at the end, nothing and the same cursor
    assert [e.id for e in read_feed(engine, ids[3], 1000).events] == ids[4:]
    assert (read_feed(engine, page.next).events, read_feed(engine, page.next).next) == ([], page.next)
    assert [e.type for e in read_feed(engine, 0, 1000, types=["reply", "outcome"]).events] == ["reply", "outcome"]

    # what counted events before counts them as before: the status, a contact's history
    status = campaign_status(engine, "blast", ws)
    assert (status.counts["sent"], status.counts["bounced"], status.counts["replied"]) == (7, 1, 1)
    history = contact_history(engine, rows[contact(3)].contact_id)
    assert [h.what for h in history].count("sent") == 1
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).where(Event.kind == "sent")) == 7


@pytest.mark.postgres
def test_on_postgresql_event_ids_become_visible_in_their_order(pg_url: str) -> None:
    """A transaction that inserts an event holds the feed's lock until it commits: a later one waits for it,
    so a reader that saw id N can never see a smaller id appear afterwards."""
    engine = open_engine(pg_url)
    first = engine.connect()
    second = engine.connect()
    watcher = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    try:
        started = first.begin()
        early = first.execute(text("INSERT INTO events (kind, at, detail) VALUES ('sent', now(), '{}') "
                                   "RETURNING id")).scalar_one()  # fmt: skip
        late: dict[str, int] = {}

        def insert_later() -> None:
            with second.begin():
                late["id"] = second.execute(text("INSERT INTO events (kind, at, detail) VALUES ('replied', now(), "
                                                 "'{}') RETURNING id")).scalar_one()  # fmt: skip

        thread = threading.Thread(target=insert_later)
        thread.start()

        def waiting() -> bool:
            with watcher.connect() as conn:
                return bool(conn.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND wait_event = 'advisory'")).scalar())  # fmt: skip

        from helpers import wait_for

        wait_for(waiting, what="the second insert waiting for the feed's lock")
        assert read_feed(engine, 0).events == []  # neither is visible yet, and the second has no id yet
        started.commit()
        thread.join(60)
        assert late["id"] > early
        assert [e.id for e in read_feed(engine, 0).events] == [early, late["id"]]
    finally:
        first.close()
        second.close()
        watcher.dispose()
        engine.dispose()
