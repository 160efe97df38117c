"""Guardrails (complaints, hard bounces) pause a campaign; a warming-up sender's daily allowance grows.

Real SQLite files, real ARF complaints and DSN bounces through ingest, the real engine
against an aiosmtpd sink; only the clock is fixed (``SendOptions.now``).
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from engine_support import FaultySink, bulk_workspace, dsn_bounce, prepare, running
from helpers import invoke
from sqlalchemy import select

from outreach.guardrails import warmup_allowance
from outreach.reports.campaign import campaign_report
from outreach.sending.engine import SendOptions, send_campaign
from outreach.settings.tokens import workspace_signer
from outreach.storage import transaction
from outreach.storage.models import Event, Outbox
from outreach.tracking.ingest import IngestReport, ingest, record_message

AUTH = ("Authentication-Results: mta1.mail.yahoo.com; dkim=pass header.d=contoh-solusi.example; "
        "spf=pass smtp.mailfrom=contoh-solusi.example; dmarc=pass header.from=contoh-solusi.example")  # fmt: skip


def complaint(row: Outbox, n: int) -> tuple[str, bytes]:
    raw = (
        "From: Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>\r\nTo: fbl@contoh-solusi.example\r\n"
        f"Subject: FW: offer\r\nMessage-ID: <arf-{n}@arf.mail.yahoo.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="A"\r\n\r\n'
        "--A\r\nContent-Type: text/plain\r\n\r\nAn abuse report.\r\n"
        "--A\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nVersion: 1\r\n"
        f"Original-Rcpt-To: {row.email}\r\n\r\n"
        f"--A\r\nContent-Type: message/rfc822\r\n\r\n{AUTH}\r\nFrom: Sari <sari@contoh-solusi.example>\r\n"
        f"To: {row.email}\r\nSubject: offer\r\nMessage-ID: <{row.message_id}>\r\n\r\nHello\r\n--A--\r\n"
    )
    return (f"arf{n}", raw.encode())


def hard_bounce(row: Outbox, n: int) -> tuple[str, bytes]:
    return dsn_bounce(row, n, status="5.1.1", diagnostic=f"550 5.1.1 <{row.email}>: Recipient address rejected: "
                      "User unknown", text="User unknown.", prefix="hb", to="sari@contoh-solusi.example")  # fmt: skip


def sent_rows(engine) -> list[Outbox]:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return list(session.scalars(select(Outbox).where(Outbox.state == "sent").order_by(Outbox.id)))


GUARDS = "guardrails: {complaint_rate: 0.003, hard_bounce_rate: 0.05, min_delivered: 20}\n"


def test_complaints_past_the_guardrail_pause_the_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 30, "throttle: {rate: 2000/s}\n", settings_extra=GUARDS)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        asyncio.run(send_campaign(ws, engine, "blast"))
    rows = sent_rows(engine)
    with transaction(engine) as session:  # as if more were still to send
        session.execute(Outbox.__table__.update().where(Outbox.id.in_([r.id for r in rows[25:]]))
                        .values(state="queued", sent_at=None))  # fmt: skip
        session.execute(Event.__table__.delete())
    from outreach.storage.models import Campaign

    with transaction(engine) as session:
        session.execute(Campaign.__table__.update().values(state="sending"))
    signer = workspace_signer(engine, ws)
    report = ingest(engine, [complaint(rows[0], 1)], signer, limits=ws.settings.guardrails)
    assert report.summary().endswith("1 contact(s) suppressed\nGuardrail: campaign blast paused automatically: "
                                     "complaints at 4.00% of delivered (1 of 25), above the 0.30% guardrail; find "
                                     "the cause (the list, the content) before `outreach campaign resume`")  # fmt: skip
    status = json.loads(invoke("campaign", "status", "blast", "--json", ws=root).stdout)
    assert status["state"] == "paused"
    assert status["reason"].startswith("paused automatically: complaints at 4.00% of delivered (1 of 25)")
    refused = invoke("campaign", "send", "blast", "--yes", ws=root)
    assert refused.exit_code == 1
    assert "is paused (paused automatically: complaints at 4.00%" in refused.stderr
    with transaction(engine) as session:
        assert session.scalar(select(Event.detail).where(Event.kind == "guardrail")) == {
            "reason": "complaints at 4.00% of delivered (1 of 25), above the 0.30% guardrail"}
    deliverability = campaign_report(engine, "blast", ws).deliverability
    assert deliverability is not None
    assert deliverability.auth == {"dkim": {"pass": 1}, "dmarc": {"pass": 1}, "spf": {"pass": 1}}


def test_hard_bounces_below_the_sample_do_not_trip_then_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 30, "throttle: {rate: 2000/s}\n", settings_extra=GUARDS)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        asyncio.run(send_campaign(ws, engine, "blast"))
    rows = sent_rows(engine)
    signer = workspace_signer(engine, ws)
    from outreach.storage.models import Campaign

    with transaction(engine) as session:
        session.execute(Campaign.__table__.update().values(state="sending"))
    ingest(engine, [hard_bounce(rows[0], 1)], signer, limits=ws.settings.guardrails)  # 1 of 30: 3.3%
    assert invoke("campaign", "status", "blast", ws=root).stdout.startswith("Campaign blast: sending\n")
    report = ingest(engine, [hard_bounce(rows[1], 2)], signer, limits=ws.settings.guardrails)  # 2 of 30: 6.7%
    assert report.paused == ["campaign blast paused automatically: hard bounces at 6.67% of sent (2 of 30), above "
                             "the 5.00% guardrail; find the cause (the list, the content) before "
                             "`outreach campaign resume`"]  # fmt: skip


def test_the_engine_trips_when_the_sample_grows_past_the_minimum(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Complaints recorded early (below min_delivered) trip nothing; the engine pauses once enough went out."""
    root = bulk_workspace(tmp_path / "ws", 60, "throttle: {rate: 20/s, daily_cap: 10}\n", settings_extra=GUARDS)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        assert asyncio.run(send_campaign(ws, engine, "blast")).sent == 10  # the cap stops the first run
        rows = sent_rows(engine)
        signer = workspace_signer(engine, ws)
        for n, row in enumerate(rows[:3]):
            record_message(engine, complaint(row, n)[1], signer, IngestReport())  # 3 of 10: below the sample
        assert invoke("campaign", "status", "blast", ws=root).stdout.startswith("Campaign blast: sending")
        campaign = root / "campaigns" / "blast.yaml"
        campaign.write_text(campaign.read_text().replace(", daily_cap: 10", ""))
        report = asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(guardrail_every=0.05)))
    assert report.state == "paused"
    assert report.reason.startswith("paused automatically: complaints at ")
    assert len(sent_rows(engine)) < 60


def test_warmup_allowance_grows_each_good_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 40, "throttle: {rate: 2000/s}\n",
                          settings_extra="warmup: {start: 5, factor: 2}\n")  # fmt: skip
    text = (root / "outreach.yaml").read_text().replace("    title: Senior Account Manager\n",
                                                        "    title: Senior Account Manager\n    warmup: true\n")
    (root / "outreach.yaml").write_text(text)
    day1 = datetime(2026, 11, 30, 2, 0)  # 09:00 in Jakarta
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        first = asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(now=lambda: day1)))
        assert (first.sent, first.reason) == (5, "warm-up allowance of 5 for sender sari reached; the rest waits "
                                                 "for tomorrow")  # fmt: skip
        day2 = day1 + timedelta(days=1)
        second = asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(now=lambda: day2)))
        assert second.sent == 10
        with transaction(engine) as session:  # a guardrail tripped on day 2: it does not count
            session.add(Event(kind="guardrail", at=day2, campaign_id=1, detail={"reason": "test"}))
        day3 = day2 + timedelta(days=1)
        allowance = warmup_allowance(engine, ws, "sari", day3)
        assert allowance is not None and (allowance.good_days, allowance.limit) == (1, 10)
        day4 = day3 + timedelta(days=1)
        third = asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(now=lambda: day4)))
        assert third.sent == 10  # day 3 sent nothing, day 2 tripped: still 1 good day
    assert warmup_allowance(engine, ws, "awang", day4) is None


def test_status_shows_todays_allowance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 3, settings_extra="warmup: {start: 50}\n")
    text = (root / "outreach.yaml").read_text().replace("    title: Senior Account Manager\n",
                                                        "    title: Senior Account Manager\n    warmup: true\n")
    (root / "outreach.yaml").write_text(text)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
    out = invoke("campaign", "status", "blast", ws=root).stdout
    assert out.splitlines()[-1] == "  today's allowance: 50 (warm-up day 1 of sender sari; 0 sent today, 50 left)"
    data = json.loads(invoke("campaign", "status", "blast", "--json", ws=root).stdout)
    assert data["allowance"] == {"sender": "sari", "limit": 50, "sent_today": 0, "day": 1, "left": 50}
