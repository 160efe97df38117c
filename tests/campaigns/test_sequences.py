"""Follow-up steps under a mocked clock: due in business days, stopped by a reply, threaded."""

from __future__ import annotations

import asyncio
import email
import email.policy
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from engine_support import FaultySink, bulk_workspace, prepare, running
from sqlalchemy import select

from outreach.campaigns.definition import load_campaign
from outreach.campaigns.sequences import add_delay, schedule_steps
from outreach.campaigns.status import campaign_status
from outreach.sending.engine import SendOptions, send_campaign
from outreach.settings.tokens import Signer, workspace_secret
from outreach.storage import transaction
from outreach.storage.models import Campaign, Outbox
from outreach.tracking.ingest import ingest
from outreach.workdays import BusinessCalendar

STEPS = (
    "throttle: {rate: 2000/s}\n"
    "steps:\n  - after: 3 business days\n    content: follow-up.md\n"
)
FOLLOW_UP = """---
subject: "Re: licensing for {{ contact.company }}"
---
Dear {{ contact.first_name }}, a short reminder of our year-end offer.

{{ sender.name }}
"""
FRIDAY = datetime(2026, 11, 27, 3, 0)  # 10:00 in Jakarta


def reply(to_row: Outbox, n: int) -> bytes:
    return (
        f"From: Someone <{to_row.email}>\r\nTo: sari@contoh-solusi.co.id\r\nSubject: Re: offer\r\n"
        f"Message-ID: <reply{n}@customer.example.com>\r\nIn-Reply-To: <{to_row.message_id}>\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\nYes please, send me a quotation.\r\n"
    ).encode()


def test_add_delay_counts_business_days_in_the_contacts_timezone() -> None:
    jkt = ZoneInfo("Asia/Jakarta")
    assert add_delay(FRIDAY, 3, True, jkt) == datetime(2026, 12, 2, 3, 0)  # Mon, Tue, Wed
    assert add_delay(FRIDAY, 3, False, jkt) == datetime(2026, 11, 30, 3, 0)
    late_friday_utc = datetime(2026, 11, 27, 18, 0)  # already Saturday 01:00 in Jakarta
    assert add_delay(late_friday_utc, 1, True, jkt) == datetime(2026, 11, 29, 18, 0)  # Monday 01:00 WIB


def test_business_days_skip_indonesian_holidays_and_cuti_bersama() -> None:
    jkt, indonesia = ZoneInfo("Asia/Jakarta"), BusinessCalendar("ID")
    before_lebaran = datetime(2026, 3, 19, 2, 0)  # Thursday 09:00 WIB, Nyepi; Lebaran and cuti bersama follow
    assert add_delay(before_lebaran, 1, True, jkt, indonesia) == datetime(2026, 3, 25, 2, 0)  # Wednesday
    assert add_delay(before_lebaran, 1, True, jkt) == datetime(2026, 3, 20, 2, 0)  # Mon-Fri only: Friday


def test_steps_follow_up_only_those_who_did_not_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 8, STEPS, timezone="Asia/Jakarta")
    (root / "campaigns" / "follow-up.md").write_text(FOLLOW_UP)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        report = asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(now=lambda: FRIDAY)))
        assert report.sent == 8
        assert report.state == "sending" and report.reason == "8 follow-up step(s) not due yet"
        with transaction(engine) as session:
            first = {r.email: r for r in session.scalars(select(Outbox).where(Outbox.step == 0))}
            for r in first.values():
                r.sent_at = FRIDAY  # the mocked clock
        # user00001 answers; user00000 answers, which stops user00007 at the same company (PT Co 0)
        signer = Signer(workspace_secret(engine, ws.settings.unsubscribe.secret_env))
        ingest(engine, [("a", reply(first["user00001@co1.example.com"], 1)),
                        ("b", reply(first["user00000@co0.example.com"], 2))], signer)  # fmt: skip
        spec = load_campaign(ws, "blast")
        with transaction(engine) as session:
            cid = session.scalar(select(Campaign.id))
        sunday = datetime(2026, 11, 29, 3, 0)
        assert schedule_steps(ws, engine, spec, cid, sunday).created == 0
        wednesday = datetime(2026, 12, 2, 3, 0, 1)
        report = asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(now=lambda: wednesday)))
    assert report.sent == 5
    assert campaign_status(engine, "blast").state == "done"
    follow_ups = [email.message_from_bytes(m, policy=email.policy.default) for m in sink.raw[8:]]
    to = sorted(str(m["To"]).split("<")[1].rstrip(">") for m in follow_ups)
    assert to == [f"user{i:05d}@co{i}.example.com" for i in (2, 3, 4, 5, 6)]
    for m in follow_ups:
        addr = str(m["To"]).split("<")[1].rstrip(">")
        assert m["In-Reply-To"] == f"<{first[addr].message_id}>"
        assert str(m["Subject"]).startswith("Re: licensing for PT Co ")
    with transaction(engine) as session:
        steps = session.scalars(select(Outbox.step).where(Outbox.state == "sent")).all()
    assert sorted(steps) == [0] * 8 + [1] * 5


def test_out_of_office_holds_the_step_until_the_return_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = bulk_workspace(tmp_path / "ws", 2, STEPS, timezone="Asia/Jakarta")
    (root / "campaigns" / "follow-up.md").write_text(FOLLOW_UP)
    with running(FaultySink()) as sink:
        ws, engine = prepare(root, sink.port, monkeypatch)
        asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(now=lambda: FRIDAY)))
        with transaction(engine) as session:
            row = session.scalar(select(Outbox).where(Outbox.email == "user00000@co0.example.com"))
        ooo = reply(row, 0).replace(b"Subject: Re: offer", b"Subject: Out of Office").replace(
            b"Yes please, send me a quotation.", b"I am out of the office until 7 December 2026.")
        signer = Signer(workspace_secret(engine, ws.settings.unsubscribe.secret_env))
        ingest(engine, [("ooo", ooo.replace(b"Content-Type", b"Auto-Submitted: auto-replied\r\nContent-Type"))],
               signer)  # fmt: skip
        wednesday = datetime(2026, 12, 2, 3, 0, 1)
        report = asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(now=lambda: wednesday)))
        assert report.sent == 1  # only the one who is in the office
        assert report.state == "sending" and report.reason == "1 follow-up step(s) not due yet"
        tuesday = datetime(2026, 12, 8, 3, 0)
        report = asyncio.run(send_campaign(ws, engine, "blast", options=SendOptions(now=lambda: tuesday)))
    assert report.sent == 1 and report.state == "done"
