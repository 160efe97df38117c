"""What a bounce does once read: events per failed recipient, suppression, the report, auto-pause.

Real parts: a campaign sent through a real SMTP sink into a real SQLite file,
then bounces ingested the way `outreach track ingest` does.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from engine_support import FaultySink, bulk_workspace, prepare, running
from helpers import wait_for
from sqlalchemy import select

from outreach.campaigns.status import campaign_status
from outreach.reports.campaign import campaign_report, campaign_text
from outreach.reports.html import campaign_html
from outreach.sending.engine import send_campaign
from outreach.sending.recording import Health
from outreach.settings.tokens import Signer, workspace_secret
from outreach.storage import transaction
from outreach.storage.models import Event, Outbox, Suppression
from outreach.tracking.ingest import SoftBouncePolicy, ingest


def contact(n: int) -> str:
    return f"user{n:05d}@co{n % 7}.example.com"


def dsn(n: int, blocks: list[tuple[str, str, str]], original_id: str | None = None) -> tuple[str, bytes]:
    """A Postfix-style DSN; each block is (address, status, diagnostic)."""
    fields = "".join(
        f"\r\nFinal-Recipient: rfc822; {a}\r\nAction: failed\r\nStatus: {s}\r\nDiagnostic-Code: smtp; {d}\r\n"
        for a, s, d in blocks
    )
    original = f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{original_id}>\r\n" if original_id else ""
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: sari@contoh-solusi.co.id\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn{n}@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nThis is the mail system at host mx.example.com.\r\n"
        f"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n{fields}"
        f"{original}--B--\r\n"
    )
    return (f"dsn{n}", raw.encode())


def spam_bounce(row: Outbox, n: int) -> tuple[str, bytes]:
    return dsn(n, [(row.email, "5.7.1", "550 5.7.1 Message rejected as spam")], row.message_id)


def dmarc_report(row: Outbox, n: int) -> tuple[str, bytes]:
    raw = (
        f"From: dmarc-noreply@isp.example\r\nTo: dmarc@contoh-solusi.co.id\r\nSubject: DMARC failure report\r\n"
        f'Message-ID: <dmarc{n}@isp.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; '
        'report-type=feedback-report; boundary="F"\r\n\r\n--F\r\nContent-Type: text/plain\r\n\r\n'
        "This is an authentication failure report for an email message received from IP 192.0.2.7.\r\n"
        "--F\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: auth-failure\r\nUser-Agent: dmarc/1.0\r\n"
        f"Version: 1\r\nAuth-Failure: dmarc\r\nOriginal-Rcpt-To: {row.email}\r\n"
        f"--F\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{row.message_id}>\r\nTo: {row.email}\r\n"
        "--F--\r\n"
    )
    return (f"dmarc{n}", raw.encode())


def events(engine) -> list[Event]:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return list(session.scalars(select(Event).where(Event.kind.in_(("bounced", "auth_failure")))))


def suppressions(engine) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with transaction(engine) as session:
        return {s.email: s.reason for s in session.scalars(select(Suppression))}


def test_multi_recipient_bounce_records_each_failure_against_its_own_row(sent) -> None:  # type: ignore[no-untyped-def]
    _ws, engine, rows, signer = sent  # six messages sent (conftest.py)
    bounce = dsn(1, [
        (contact(0), "5.1.1", "550 5.1.1 <x>: Recipient address rejected: User unknown (in reply to RCPT TO command)"),
        (contact(1), "5.7.1", "550 5.7.1 Message rejected as spam"),
    ])  # fmt: skip
    report = ingest(engine, [bounce], signer)
    assert (report.unmatched, report.suppressed) == (0, 1)
    found = {e.outbox_id: e.detail for e in events(engine)}
    assert set(found) == {rows[contact(0)].id, rows[contact(1)].id}
    first, second = found[rows[contact(0)].id], found[rows[contact(1)].id]
    assert (first["reason"], first["hard"], first["category"], first["stage"]) == ("user_unknown", True, "dead", "rcpt")
    assert (second["reason"], second["hard"], second["category"]) == ("spam", False, "sender")
    assert suppressions(engine) == {contact(0): "hard_bounce:user_unknown"}
    again = ingest(engine, [bounce], signer)
    assert again.duplicates == 1 and len(events(engine)) == 2  # the same bounce twice records nothing twice


def test_sender_side_bounces_never_suppress_even_when_they_persist(sent) -> None:  # type: ignore[no-untyped-def]
    _ws, engine, rows, signer = sent  # six messages sent (conftest.py)
    policy = SoftBouncePolicy(limit=3, spread=timedelta(days=7))
    start = datetime(2026, 11, 1, 9, 0)
    for i, days in enumerate((0, 4, 8)):
        ingest(engine, [spam_bounce(rows[contact(2)], 10 + i)], signer, policy, now=start + timedelta(days=days))
    assert suppressions(engine) == {}
    assert [e.detail["category"] for e in events(engine)] == ["sender"] * 3


def test_dmarc_failure_report_counts_for_the_sender_and_suppresses_no_one(sent) -> None:  # type: ignore[no-untyped-def]
    _ws, engine, rows, signer = sent  # six messages sent (conftest.py)
    report = ingest(engine, [dmarc_report(rows[contact(3)], 1)], signer)
    assert (report.counts["other"], report.unmatched, report.suppressed) == (1, 0, 0)
    (event,) = events(engine)
    assert (event.kind, event.outbox_id) == ("auth_failure", rows[contact(3)].id)
    assert (event.detail["reason"], event.detail["category"]) == ("auth_failure", "sender")
    assert suppressions(engine) == {}


def test_campaign_report_shows_the_senders_problems(sent) -> None:  # type: ignore[no-untyped-def]
    _ws, engine, rows, signer = sent  # six messages sent (conftest.py)
    ingest(engine, [spam_bounce(rows[contact(0)], 1), spam_bounce(rows[contact(1)], 2),
                    dmarc_report(rows[contact(2)], 3),
                    dsn(4, [(contact(4), "5.1.1", "550 5.1.1 User unknown")], rows[contact(4)].message_id)],
           signer)  # fmt: skip
    report = campaign_report(engine, "blast")
    assert report.sender_problems == {"spam": 2, "auth_failure": 1}
    text = campaign_text(report)
    assert text.split("\n\n")[-1].splitlines() == [
        "Sender's problems (relay, domain or content; no recipient suppressed)",
        "  spam                       2",
        "  auth failure               1",
    ]
    page = campaign_html(report, "PT Contoh Solusi", datetime(2026, 12, 1, 9, 0))
    assert "<h2>Sender's problems<small>" in page
    assert '<tr><td>spam</td><td class="num">2</td></tr>' in page


def test_health_counts_late_sender_bounces_as_failed_attempts() -> None:
    health = Health(window=10, rate=0.3, minimum=10)
    for _ in range(10):
        assert health.add(False) is None
    assert health.add_late(3) is None  # 3 of 10: not above the rate
    assert health.add_late(1) == "4 of the last 10 attempts failed (40%)"
    assert health.add_late(50) == "10 of the last 10 attempts failed (100%)"


def test_auto_pause_when_bounces_blaming_the_sender_come_back_during_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = bulk_workspace(tmp_path / "ws", 300, "throttle: {rate: 40/s, connections: 1}\n")
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        signer = Signer(workspace_secret(engine, ws.settings.unsubscribe.secret_env))
        thread = threading.Thread(target=lambda: asyncio.run(send_campaign(ws, engine, "blast")))
        thread.start()

        def forty_sent() -> list[Outbox]:
            with transaction(engine) as session:
                rows = list(session.scalars(select(Outbox).where(Outbox.state == "sent").limit(40)))
            return rows if len(rows) >= 40 else []

        sent_rows = wait_for(forty_sent, what="40 messages sent")
        ingest(engine, [spam_bounce(row, n) for n, row in enumerate(sent_rows[:30])], signer)
        thread.join(60)
    status = campaign_status(engine, "blast")
    assert status.state == "paused"
    assert status.reason is not None and status.reason.startswith("paused automatically:")
    assert status.counts["queued"] > 0  # it stopped before the end


def test_opt_out_report_unsubscribes_the_reported_recipient(sent) -> None:  # type: ignore[no-untyped-def]
    _ws, engine, rows, signer = sent  # six messages sent (conftest.py)
    _name, raw = dmarc_report(rows[contact(5)], 9)
    raw = raw.replace(b"Feedback-Type: auth-failure", b"Feedback-Type: opt-out")
    raw = raw.replace(b"Auth-Failure: dmarc\r\n", b"")
    report = ingest(engine, [("optout", raw)], signer)
    assert (report.counts["unsubscribe"], report.suppressed) == (1, 1)
    assert suppressions(engine) == {contact(5): "unsubscribe"}
