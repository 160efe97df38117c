"""Support for the sending-engine tests: a fault-injecting SMTP server and bulk workspaces.

The server is a real aiosmtpd on 127.0.0.1. Faults are decided per delivery
attempt from a seeded RNG: temporary 451s, permanent 550s for chosen
addresses, a dropped connection in the middle of DATA (the message is *not*
stored: the server never said 250), and slow answers.
"""

from __future__ import annotations

import asyncio
import csv
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import pytest
from helpers import SmtpController

from outreach.audience.importer import import_contacts
from outreach.campaigns.builder import build_campaign
from outreach.settings.workspace import init_workspace, load_workspace
from outreach.storage import open_engine
from outreach.storage.models import Outbox


@dataclass
class Faults:
    temp_rate: float = 0.0  # 451 at RCPT
    dead: frozenset[str] = frozenset()  # 550 5.1.1 at RCPT
    policy: frozenset[str] = frozenset()  # 550 5.7.1 at RCPT
    drop_rate: float = 0.0  # connection closed during DATA, nothing stored
    slow_rate: float = 0.0
    slow_seconds: float = 0.05
    seed: int = 7


@dataclass
class FaultySink:
    faults: Faults = field(default_factory=Faults)
    received: list[tuple[str, list[str], str]] = field(default_factory=list)  # (mail_from, rcpts, message-id)
    raw: list[bytes] = field(default_factory=list)
    attempts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.faults.seed)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        self.attempts[address] += 1
        if address in self.faults.dead:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address in self.faults.policy:
            return "550 5.7.1 Message rejected for policy reasons"
        if self.rng.random() < self.faults.temp_rate:
            return "451 4.3.0 Temporary local problem, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.rng.random() < self.faults.slow_rate:
            await asyncio.sleep(self.faults.slow_seconds)
        if self.rng.random() < self.faults.drop_rate:
            server.transport.close()  # gone before the 250: the client must retry
            return "421 closing"
        headers = BytesHeaderParser().parsebytes(envelope.original_content or envelope.content)
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), str(headers["Message-ID"])))
            self.raw.append(envelope.original_content or envelope.content)
        return "250 OK queued"

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(mid.strip("<>") for _, _, mid in self.received)


class running:
    """Context manager: the sink on a free port in a background thread."""

    def __init__(self, sink: FaultySink) -> None:
        self.sink = sink
        self.controller = SmtpController(sink)

    def __enter__(self) -> FaultySink:
        self.controller.start()
        self.sink.port = self.controller.port
        return self.sink

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def bulk_workspace(root: Path, n: int, campaign_extra: str = "", settings_extra: str = "",
                   timezone: str = "") -> Path:  # fmt: skip
    """The example workspace plus ``n`` contacts in segment ``all`` and campaign ``blast``."""
    init_workspace(root)
    with (root / "bulk.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name", "last_name", "company", "status", "timezone"])
        for i in range(n):
            w.writerow([f"user{i:05d}@co{i % 7}.example.com", f"Nama{i}", "Santoso", f"PT Co {i % 7}",
                        "prospect", timezone])  # fmt: skip
    (root / "segments" / "all.yaml").write_text("description: everyone\nwhere:\n  status: prospect\n")
    (root / "campaigns" / "blast.yaml").write_text(
        "segment: all\ncontent: year-end-licensing.md\nsender: sari\n" + campaign_extra
    )
    if settings_extra:
        with (root / "outreach.yaml").open("a") as fh:
            fh.write(settings_extra)
    return root


# -- a prepared bulk campaign, and inbound mail about it ----------------------------------


def prepare(root: Path, port: int, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OUTREACH_SMTP_PORT", str(port))
    ws = load_workspace(root)
    engine = open_engine(ws.database_url)
    import_contacts(engine, root / "bulk.csv")
    build_campaign(ws, engine, "blast")
    return ws, engine


TODAY = date(2026, 11, 30)  # a Monday


def contact(n: int) -> str:
    return f"user{n:05d}@co{n % 7}.example.com"


def reply(row: Outbox, text: str, n: int, extra: str = "") -> tuple[str, bytes]:
    raw = (
        f"From: <{row.email}>\r\nTo: sari@contoh-solusi.co.id\r\nSubject: Re: licensing\r\n{extra}"
        f"Message-ID: <r{n}@customer.example.com>\r\nIn-Reply-To: <{row.message_id}>\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    )
    return (f"r{n}", raw.encode())


def dsn_bounce(row: Outbox, n: int, *, status: str, diagnostic: str, text: str, prefix: str,
               to: str = "sari@contoh-solusi.co.id") -> tuple[str, bytes]:  # fmt: skip
    """A Postfix-style RFC 3464 bounce of ``row``: (a name for it, its bytes)."""
    raw = (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: {to}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <{prefix}{n}@mx.example.com>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        f"--B\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {row.email}\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{row.message_id}>\r\n--B--\r\n"
    )
    return (f"{prefix}{n}", raw.encode())


def soft_bounce(row: Outbox, n: int) -> tuple[str, bytes]:
    return dsn_bounce(row, n, status="5.2.2", diagnostic="552 5.2.2 Mailbox full, quota exceeded",
                      text="Mailbox full.", prefix="b")  # fmt: skip
