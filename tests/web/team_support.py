"""A team's workspace for the web app's tests: contacts, a sent campaign with replies, an unbuilt one, accounts.

Made once per test session (sending and argon2 hashing take a moment) and
copied per test. Everything is real: the campaign went through an aiosmtpd
server, the replies were ingested as .eml files, the accounts were made by
the library face, like ``outreach users add`` does.
"""

from __future__ import annotations

import re
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from helpers import OVERRIDES, SmtpController, SmtpServer, invoke, make_workspace, write
from sqlalchemy import select
from starlette.testclient import TestClient

from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine, transaction
from outreach.storage.models import Outbox
from outreach.web.app import create_app, make_server
from outreach.web.server import Server
from outreach.workspace import Workspace

PASSWORDS = {"boss": "boss-password-1", "wina": "wina-password-1", "cali": "cali-password-1",
             "cala": "cala-password-1", "ada": "ada-password-1", "sari": "sari-password-1"}  # fmt: skip
ROLES = {"boss": "executive", "wina": "writer", "cali": "caller", "cala": "caller", "ada": "admin", "sari": "admin"}
WRITER_EMAIL = "wina@contoh-solusi.co.id"
REPLIERS = ("ani@alpha.example.com", "budi@beta.example.com", "citra@gamma.example.com")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def settle(root: Path) -> None:
    """Fold SQLite's write-ahead log into the database file, so the folder can be copied."""
    engine = open_engine(load_workspace(root).database_url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def reply_file(folder: Path, row: Outbox, n: int, text: str) -> Path:
    raw = (f"From: <{row.email}>\r\nTo: awang@contoh-solusi.co.id\r\nSubject: Re: penawaran\r\n"
           f"Date: Tue, 01 Dec 2026 10:00:00 +0700\r\nMessage-ID: <reply-{n}@customer.example.com>\r\n"
           f"In-Reply-To: <{row.message_id}>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n")  # fmt: skip
    path = folder / f"reply-{n}.eml"
    path.write_bytes(raw.encode())
    return path


def build_template(base: Path) -> Path:
    """promo built, sent and answered by three contacts; ``launch`` defined but not built; four accounts."""
    server = SmtpServer()
    controller = SmtpController(server)
    controller.start()
    server.port = controller.port
    root = base / "team"
    try:
        with pytest.MonkeyPatch.context() as mp:
            for var in OVERRIDES:
                mp.delenv(var, raising=False)
            mp.setenv("OUTREACH_SMTP_PORT", str(server.port))
            make_workspace(root)
            with (root / "outreach.yaml").open("a") as fh:
                fh.write("followups:\n  existing_to_visit: false\n  visit_keywords: [kunjungan]\n")
            write(root / "segments" / "customers.yaml", "description: existing customers\nwhere:\n  status: existing\n")
            write(root / "campaigns" / "launch.yaml", "segment: customers\ncontent: promo.md\nsender: awang\n"
                                                      "throttle: {rate: 1000/s}\n")  # fmt: skip
            assert invoke("contacts", "import", str(root / "small.csv"), ws=root).exit_code == 0
            with Workspace.open(root) as ws:
                ws.build("promo")
                assert ws.send("promo").sent == 4
                with transaction(ws.engine) as session:
                    rows = {r.email: r for r in session.scalars(select(Outbox))}
                inbox = base / "inbox"
                inbox.mkdir()
                texts = ("Tolong telepon saya minggu depan.", "Boleh, kirim brosurnya dulu.",
                         "Silakan atur kunjungan ke kantor kami.")  # fmt: skip
                answers = enumerate(zip(REPLIERS, texts, strict=True))
                ws.ingest([reply_file(inbox, rows[a], n, t) for n, (a, t) in answers])
                for name, role in ROLES.items():
                    ws.add_user(name, role, PASSWORDS[name], email=WRITER_EMAIL if role == "writer" else None,
                                sender="awang" if name == "cala" else None)  # fmt: skip
            settle(root)
    finally:
        controller.stop()
    return root


def copy_template(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


# -- talking to the app ----------------------------------------------------------------------


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match, page[:2000]
    return match.group(1)


def log_in(client: httpx2.Client | TestClient, name: str, password: str | None = None) -> httpx2.Response:
    """The login form as a browser fills it: GET (session and CSRF token), then POST."""
    form = client.get("/app/login")
    assert form.status_code == 200, form.text
    return client.post("/app/login", data={"username": name, "password": password or PASSWORDS[name],
                                           "csrf_token": csrf_of(form.text)}, follow_redirects=False)  # fmt: skip


@contextmanager
def app_client(root: Path, name: str | None = None) -> Iterator[TestClient]:
    """A TestClient on the whole app (its lifespan runs: the click recorder), logged in as ``name``."""
    with Workspace.open(root) as ws, TestClient(create_app(ws), follow_redirects=False) as client:
        if name is not None:
            assert log_in(client, name).status_code == 303
        yield client


@dataclass
class Running:
    """``outreach serve``'s server on a free 127.0.0.1 port, in a thread."""

    server: Server
    thread: threading.Thread

    @property
    def base(self) -> str:
        return self.server.url.rstrip("/")


@contextmanager
def running_server(root: Path) -> Iterator[Running]:
    ws = load_workspace(root)
    engine = open_engine(ws.database_url)
    server = make_server(ws, engine, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Running(server, thread)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(30)
        engine.dispose()
