"""The kept per-campaign counts always equal a full recount of the outbox and the events.

After every kind of change — a build, sends through a faulty relay (retries, refusals, dropped connections),
bounces and replies ingested, leases expired, resend-uncertain, a cancel, a suppression found at claim, rows
held for their window, an edit by hand — on SQLite and on PostgreSQL; after SIGKILLed senders restarted at
once, and with two senders at once on PostgreSQL; and after the migration on a database that had data.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from alembic import command
from engine_support import Faults, FaultySink, bulk_workspace, dsn_bounce, prepare, reply, running
from helpers import Spawned, wait_for
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from outreach.campaigns.builder import build_campaign
from outreach.campaigns.status import campaign_status, resend_uncertain, set_lifecycle
from outreach.sending.engine import send_campaign
from outreach.settings.tokens import workspace_signer
from outreach.storage import alembic_config, counts, outbox, transaction, utcnow
from outreach.storage.models import Campaign, CampaignCount, Event, Outbox, Suppression
from outreach.tracking.ingest import ingest

FAST = "throttle: {rate: 2000/s, connections: 3}\nretry: {attempts: 3, backoff: 0.01s, max_backoff: 0.02s}\n"


def campaign_ids(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return list(session.scalars(select(Campaign.id)))


def assert_exact(engine: Engine, when: str) -> dict[str, int]:
    """Kept == recounted for every campaign, both read in one snapshot (a sender may be running), then read
    as the status reads them (folds included)."""
    level = "REPEATABLE READ" if engine.dialect.name == "postgresql" else "SERIALIZABLE"
    with engine.connect().execution_options(isolation_level=level) as conn, Session(bind=conn) as session:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN")  # pysqlite starts no transaction for reads: one snapshot for both
        for cid in campaign_ids(engine):
            kept = dict(session.execute(select(CampaignCount.key, func.sum(CampaignCount.n))
                                        .where(CampaignCount.campaign_id == cid).group_by(CampaignCount.key)).all())
            assert {k: v for k, v in kept.items() if v} == counts.recount(session, cid), (when, cid)
        first = counts.recount(session, campaign_ids(engine)[0])
        conn.rollback()
    for cid in campaign_ids(engine):
        with transaction(engine) as session:
            counts.read(session, cid)  # the readers' fold keeps them equal (checked again at the next call)
    return first


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        monkeypatch.setenv("OUTREACH_DATABASE_URL", url)
        return url
    return "sqlite"


def test_every_kind_of_change_keeps_the_counts_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     database: str) -> None:  # fmt: skip
    n = 60
    root = bulk_workspace(tmp_path / "ws", n, FAST)
    (root / "campaigns" / "second.yaml").write_text("segment: all\ncontent: year-end-licensing.md\nsender: sari\n")
    dead = frozenset({"user00003@co3.example.com", "user00010@co3.example.com"})
    with running(FaultySink(Faults(temp_rate=0.2, dead=dead, drop_rate=0.05, seed=11))) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        try:
            assert assert_exact(engine, "build") == {"queued": n}
            with transaction(engine) as session:  # a suppression found when the row is claimed
                session.add(Suppression(email="user00007@co0.example.com", reason="unsubscribed", created_at=utcnow()))
            asyncio.run(send_campaign(ws, engine, "blast"))
            for _ in range(5):  # again, as the worker would, until nothing is left (it may pause on failures)
                if not assert_exact(engine, "send with faults").get("queued"):
                    break
                set_lifecycle(engine, "blast", "resume") if campaign_status(engine, "blast").state == "paused" else None
                asyncio.run(send_campaign(ws, engine, "blast"))
            after_send = assert_exact(engine, "sent")
            assert sum(v for k, v in after_send.items() if not k.startswith("ev:")) == n and after_send["sent"] > 10

            with transaction(engine) as session:
                rows = list(session.scalars(select(Outbox).where(Outbox.state == "sent").order_by(Outbox.id)))
            signer = workspace_signer(engine, ws)
            mail = [reply(rows[0], "Tertarik, tolong telepon saya.", 1), reply(rows[0], "Juga: kirim brosur.", 2),
                    reply(rows[1], "Boleh.", 3),
                    dsn_bounce(rows[2], 4, status="5.1.1", diagnostic="550 5.1.1 User unknown", text="no",
                               prefix="b")]  # fmt: skip
            ingest(engine, mail, signer)
            kept = assert_exact(engine, "ingest")
            assert kept["ev:replied"] == 2 and kept["ev:bounced"] == 1  # two replies to one message count once

            with transaction(engine) as session:  # a sender died mid-transaction: its lease runs out
                ids = list(session.scalars(select(Outbox.id).where(Outbox.state == "sent").limit(3)))
                session.execute(update(Outbox).where(Outbox.id.in_(ids)).values(
                    state="sending", lease_owner="dead:1", lease_expires_at=utcnow() - timedelta(seconds=5)))
            assert_exact(engine, "marked sending")
            assert campaign_status(engine, "blast").counts["uncertain"] == 3  # the status expires the leases
            assert_exact(engine, "leases expired")
            assert resend_uncertain(engine, "blast") == 3
            assert_exact(engine, "resend uncertain")

            later = utcnow() + timedelta(hours=5)
            with transaction(engine) as session:  # held for the window
                session.execute(update(Outbox).where(Outbox.state == "queued").values(next_attempt_at=later))
            status = campaign_status(engine, "blast")
            assert status.counts["waiting_window"] == 3 and status.window_opens is not None
            assert_exact(engine, "window")

            build_campaign(ws, engine, "second", ignore_policy=True)
            assert_exact(engine, "second build")
            set_lifecycle(engine, "second", "cancel")
            assert_exact(engine, "cancel")

            with transaction(engine) as session:  # edits by hand: a delete, an event's kind changed
                session.execute(text("DELETE FROM outbox WHERE id = "
                                     "(SELECT min(id) FROM outbox WHERE state = 'cancelled')"))
                event_id = session.scalar(select(Event.id).where(Event.kind == "bounced"))
                session.execute(update(Event).where(Event.id == event_id).values(kind="complained"))
            kept = assert_exact(engine, "by hand")
            assert "ev:bounced" not in kept and kept["ev:complained"] == 1
            with transaction(engine) as session:
                session.execute(text("DELETE FROM events WHERE kind = 'complained'"))
            assert "ev:complained" not in assert_exact(engine, "an event deleted")
        finally:
            engine.dispose()


def _sender(root: Path, port: int) -> Spawned:
    return Spawned(["-w", str(root), "campaign", "send", "blast", "--yes"], {"OUTREACH_SMTP_PORT": str(port)})


def test_sigkilled_senders_restarted_at_once_leave_the_counts_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   database: str) -> None:  # fmt: skip
    n = 240
    root = bulk_workspace(tmp_path / "ws", n, "throttle: {rate: 200/s, connections: 2}\n"
                          "retry: {attempts: 3, backoff: 0.05s, max_backoff: 0.1s}\n", settings_extra="lease: 3s\n")
    with running(FaultySink(Faults(temp_rate=0.05, seed=5))) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        try:
            senders = [_sender(root, sink.port)]
            if database != "sqlite":
                senders.append(_sender(root, sink.port))  # two senders at once on one PostgreSQL database
            wait_for(lambda: len(sink.received) >= 40, what="40 messages at the sink")
            for sender in senders:
                sender.kill()
            assert_exact(engine, "right after SIGKILL")
            restarted = [_sender(root, sink.port) for _ in senders]
            wait_for(lambda: len(sink.received) >= 120, what="120 messages at the sink")
            restarted[0].kill()  # one more crash while the other goes on
            assert_exact(engine, "second SIGKILL")
            last = _sender(root, sink.port)
            for sender in (*restarted[1:], last):
                assert sender.finish(180) == 0, sender.output()
            kept = assert_exact(engine, "finished")
            assert kept.get("sent", 0) + kept.get("uncertain", 0) + kept.get("failed", 0) == n, kept
            assert campaign_status(engine, "blast").state == "done"
        finally:
            engine.dispose()


def test_the_migration_fills_the_counts_of_a_database_in_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             database: str) -> None:  # fmt: skip
    root = bulk_workspace(tmp_path / "ws", 30, FAST)
    with running(FaultySink(Faults(temp_rate=0.3, seed=3))) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        try:
            asyncio.run(send_campaign(ws, engine, "blast"))
            with transaction(engine) as session:
                row = session.scalars(select(Outbox).where(Outbox.state == "sent")).first()
            assert row is not None
            ingest(engine, [reply(row, "Ya.", 1)], workspace_signer(engine, ws))
            before = assert_exact(engine, "sent")
            command.downgrade(alembic_config(engine), "0010_content_history")  # as a database was before this migration
            with transaction(engine) as session:  # and changed meanwhile by an older outreach
                session.execute(update(Outbox).where(Outbox.state == "retry").values(state="queued"))
            command.upgrade(alembic_config(engine), "head")
            with Session(engine) as session:
                assert session.scalar(select(CampaignCount.slot).limit(1)) == 0
            after = assert_exact(engine, "migrated")
            assert after["ev:replied"] == 1 and after.get("sent") == before.get("sent")
        finally:
            engine.dispose()


def test_postgres_rows_of_many_transactions_fold_into_one_per_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  pg_url: str) -> None:  # fmt: skip
    monkeypatch.setenv("OUTREACH_DATABASE_URL", pg_url)
    root = bulk_workspace(tmp_path / "ws", 100, FAST)
    ws, engine = prepare(root, 1, monkeypatch)
    try:
        (cid,) = campaign_ids(engine)
        for _ in range(80):  # 80 transactions, each a row per key it touched
            with transaction(engine) as session:
                session.execute(update(Outbox).where(Outbox.id == select(Outbox.id).where(
                    Outbox.campaign_id == cid, Outbox.state == "queued").order_by(Outbox.id).limit(1)
                    .scalar_subquery()).values(state="cancelled"))  # fmt: skip
        with Session(engine) as session:
            assert session.scalar(select(text("count(*)")).select_from(CampaignCount)) > counts.FOLD_AT
        with transaction(engine) as session:
            assert counts.read(session, cid) == {"queued": 20, "cancelled": 80}  # read, then folded
        with Session(engine) as session:
            assert session.scalar(select(text("count(*)")).select_from(CampaignCount)) == 2
            assert counts.read(session, cid) == counts.recount(session, cid) == {"queued": 20, "cancelled": 80}
        outbox.expire_leases(engine, utcnow(), cid)
    finally:
        engine.dispose()
