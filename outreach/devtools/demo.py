"""``outreach demo``: the whole flow on the embedded example, with nothing to configure.

A temporary workspace from the example, a local SMTP sink in-process, a blast
to the Jakarta prospects, one customer reply and one bounce read back, and
the callers' list written out.

The workspace stays, so its files can be looked at afterwards; only the last
one does: each run removes the demo folders earlier runs of this user left in
the temporary directory (``new_demo_folder``). A demo still running holds a
lock on its folder's marker file and is never removed from under itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import mailbox
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import format_datetime, parseaddr
from pathlib import Path

from outreach.audience.fields import fields_of
from outreach.audience.importer import import_contacts
from outreach.campaigns.builder import build_campaign
from outreach.campaigns.status import Status, campaign_status
from outreach.devtools.sink import Sink, free_port
from outreach.followups.exports import export_csv
from outreach.followups.promotion import promote
from outreach.followups.queue import csv_columns, list_items
from outreach.sending.engine import SendReport, send_campaign
from outreach.settings.tokens import workspace_signer
from outreach.settings.workspace import WorkspaceConfig, init_workspace, load_workspace
from outreach.storage import open_engine, utcnow
from outreach.tracking.ingest import IngestReport, ingest
from outreach.tracking.sources import iter_messages

CAMPAIGN = "solusi-jaringan"
PREFIX = "outreach-demo-"
MARKER = ".outreach-demo"  # in every demo folder; locked while its demo runs

REPLY = """\
From: {name} <{addr}>
To: {sender}
Subject: Re: {subject}
Date: {date}
Message-ID: <demo-reply-1@customer.example.co.id>
In-Reply-To: <{mid}>
References: <{mid}>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

Selamat siang Pak Awang,

Terima kasih atas informasinya. Kami sedang merencanakan peremajaan jaringan
kantor pusat tahun depan, sekitar 40 access point. Silakan telepon saya hari
Kamis untuk membahas kebutuhan kami lebih lanjut.

Salam,
{name}

Pada {date}, {sender} menulis:
> Yth. Bapak/Ibu {name},
>
> Jaringan kantor yang lambat atau rentan serangan ...
"""

BOUNCE = """\
From: Mail Delivery System <MAILER-DAEMON@mx.customer.example.net>
To: {sender}
Subject: Undelivered Mail Returned to Sender
Date: {date}
Message-ID: <demo-bounce-1@mx.customer.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.customer.example.net.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<{addr}>: host mx.customer.example.net said: 550 5.1.1 <{addr}>:
    Recipient address rejected: User unknown in virtual mailbox table

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.example.net
Arrival-Date: {date}

Final-Recipient: rfc822; {addr}
Original-Recipient: rfc822;{addr}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.customer.example.net
Diagnostic-Code: smtp; 550 5.1.1 <{addr}>: Recipient address rejected: User
    unknown in virtual mailbox table

--BOUNDARY
Content-Type: text/rfc822-headers

From: {sender}
To: {addr}
Subject: {subject}
Message-ID: <{mid}>

--BOUNDARY--
"""


@dataclass
class DemoResult:
    workspace: Path
    imported: int
    built: int
    report: SendReport
    ingest: IngestReport
    status: Status
    call_list: Path
    call_items: int
    maildir: Path
    inbox: Path


def _fill(template: str, msg: email.message.Message) -> bytes:
    name, addr = parseaddr(str(msg["To"]))
    values = {
        "name": name or addr, "addr": addr, "sender": str(msg["From"]),
        "subject": str(msg["Subject"]), "mid": str(msg["Message-ID"]).strip("<>"),
        "date": format_datetime(utcnow()),
    }  # fmt: skip
    return template.format(**values).replace("\n", "\r\n").encode("utf-8")


def new_demo_folder(parent: Path | None = None) -> tuple[Path, list[Path]]:
    """A new temporary folder for a demo, and the earlier demo folders it replaces, now removed: only
    the last demo's files are kept. Only this user's folders that are demos (the marker, or a demo's own
    files for those of earlier versions) and not in use are touched."""
    parent = Path(parent or tempfile.gettempdir())
    removed = []
    for old in sorted(parent.glob(PREFIX + "*")):
        if _a_demo_of_ours(old) and not _in_use(old):
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    target = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    (target / MARKER).write_text("made by `outreach demo`; removed by the next one\n", encoding="utf-8")
    return target, removed


def _a_demo_of_ours(folder: Path) -> bool:
    try:
        mine = not hasattr(os, "getuid") or folder.stat().st_uid == os.getuid()
        if not mine or folder.is_symlink() or not folder.is_dir():
            return False
    except OSError:
        return False
    return (folder / MARKER).is_file() or all((folder / f).exists() for f in ("outreach.yaml", "sink-maildir", "inbox"))


def _in_use(folder: Path) -> bool:
    """A demo is running there: it holds the lock on the marker (POSIX; elsewhere nothing is known to be)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return False
    try:
        with (folder / MARKER).open("rb") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return False


@contextlib.contextmanager
def holding(folder: Path) -> Iterator[None]:
    """While the demo runs in ``folder``: its marker locked, so another demo does not remove it."""
    marker = folder / MARKER
    if not marker.is_file():
        yield
        return
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with marker.open("rb") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def run_demo(target: Path) -> DemoResult:
    init_workspace(target)
    maildir = target / "sink-maildir"
    port = free_port()
    base = load_workspace(target)
    ws = WorkspaceConfig(target, base.settings.model_copy(
        update={"smtp": base.settings.smtp.model_copy(update={"host": "127.0.0.1", "port": port,
                                                              "security": "none"}),
                "database_url": "sqlite:///outreach.db"}))  # fmt: skip
    engine = open_engine(ws.database_url)
    imported = import_contacts(engine, target / "contacts.csv")
    built = build_campaign(ws, engine, CAMPAIGN)
    with Sink(maildir, port=port):
        report = asyncio.run(send_campaign(ws, engine, CAMPAIGN))
    inbox = target / "inbox"
    inbox.mkdir(exist_ok=True)
    delivered = [
        email.message_from_bytes(box_msg, policy=email.policy.compat32)
        for _, box_msg in sorted(
            ((k, mailbox.Maildir(maildir, create=False).get_bytes(k))
             for k in mailbox.Maildir(maildir, create=False).iterkeys()),
        )
    ]  # fmt: skip
    delivered.sort(key=lambda m: str(m["To"]))
    if len(delivered) >= 2:
        (inbox / "reply.eml").write_bytes(_fill(REPLY, delivered[0]))
        (inbox / "bounce.eml").write_bytes(_fill(BOUNCE, delivered[1]))
    signer = workspace_signer(engine, ws)
    ingested = ingest(engine, iter_messages([inbox]), signer)
    promote(engine, ws)
    fields = fields_of(ws)  # the example's derived payment_terms too: the callers' list shows it
    items = list_items(engine, queue="call", registry=fields)
    call_list = target / "call-list.csv"
    export_csv(items, call_list, csv_columns("call", fields))
    return DemoResult(
        workspace=target, imported=imported.imported + imported.updated, built=built.added,
        report=report, ingest=ingested, status=campaign_status(engine, CAMPAIGN),
        call_list=call_list, call_items=len(items), maildir=maildir, inbox=inbox,
    )  # fmt: skip
