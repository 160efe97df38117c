"""A workspace whose promo campaign goes to the test's SMTP server and whose events go to a real receiver."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import SmtpServer, invoke, make_workspace
from sqlalchemy import select
from webhook_receiver import Receiver, receiving

from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine, transaction
from outreach.storage.models import Outbox

SECRET = b"webhook-test-secret-1"
SECRET_ENV = "OUTREACH_TEST_WEBHOOK_SECRET"


@dataclass
class Hooked:
    root: Path
    receiver: Receiver

    def sent_rows(self) -> dict[str, Outbox]:
        engine = open_engine(load_workspace(self.root).database_url)
        try:
            with transaction(engine) as session:
                return {r.email: r for r in session.scalars(select(Outbox))}
        finally:
            engine.dispose()

    def reply(self, folder: Path, to: Outbox, n: int, text: str) -> Path:
        """A real reply to the message ``to``, as an .eml file (In-Reply-To its Message-ID)."""
        raw = (f"From: <{to.email}>\r\nTo: awang@contoh-solusi.co.id\r\nSubject: Re: penawaran\r\n"
               f"Date: Tue, 01 Dec 2026 10:00:00 +0700\r\nMessage-ID: <hook-reply-{n}@customer.example.com>\r\n"
               f"In-Reply-To: <{to.message_id}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
               f"{text}\r\n")  # fmt: skip
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"reply-{n}.eml"
        path.write_bytes(raw.encode())
        return path


def hook_yaml(url: str, events: str = "[sent, failed, bounce, complaint, reply, unsubscribe, outcome]",
              extra: str = "") -> str:  # fmt: skip
    return (f"webhooks:\n  - url: {url}\n    events: {events}\n    secret_env: {SECRET_ENV}\n"
            f"    timeout: 1s\n    backoff: 1m\n    max_backoff: 1h\n    retry_for: 24h\n{extra}")


@pytest.fixture
def hooked(tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hooked]:
    monkeypatch.setenv("OUTREACH_SMTP_PORT", str(smtp_server.port))
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())
    with receiving(SECRET) as receiver:
        root = make_workspace(tmp_path / "ws")
        with (root / "outreach.yaml").open("a", encoding="utf-8") as fh:
            fh.write(hook_yaml(receiver.url))
        assert invoke("contacts", "import", str(root / "small.csv"), ws=root).exit_code == 0
        yield Hooked(root, receiver)
