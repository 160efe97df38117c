"""Test helpers: the recording SMTP server, workspaces, the small contact set, the CLI runner.

Nothing of the world is mocked: messages go over TCP to an aiosmtpd server on
127.0.0.1 that records what arrives, and every workspace is a folder in
``tmp_path`` with its own ``outreach.db``. Only clocks are fixed, by passing
``today=`` where the API takes it. Fixtures live in conftest.py.

Tests wait for events — N messages at the server, a state in the database, a
line from a process — with ``wait_for`` and a generous deadline, never for a
fixed time, so the suite holds on a slow, busy machine.
"""

from __future__ import annotations

import contextlib
import csv
import email
import email.policy
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from sqlalchemy import Engine

from outreach.cli import cli
from outreach.settings.workspace import WorkspaceConfig, init_workspace, load_workspace
from outreach.storage import open_engine

DATA = Path(__file__).parent / "data" / "foundation"
# what importing DATA / "contacts_broken.csv" rejects, row by row, with the exact reasons
BROKEN_REJECTS = [
    (3, "invalid email 'not-an-email': An email address must have an @-sign."),
    (4, "status 'lead' is not one of: prospect, existing"),
    (5, "transactions 'dua' is not a whole number"),
    (6, "last_contacted_at '12/05/2026' is not an ISO date (YYYY-MM-DD)"),
    (7, "timezone 'Asia/Jakart' is not an IANA timezone name"),
    (8, "duplicate of line 2 (good1@example.com)"),
    (9, "first_name contains a line break"),
    (11, "more cells than header columns"),
    (12, "invalid email '用户@例子.广告': internationalised address (SMTPUTF8) is not supported"),
    (13, "invalid email 'josé@example.com': internationalised address (SMTPUTF8) is not supported"),
]

OVERRIDES = (
    "OUTREACH_DATABASE_URL",
    "OUTREACH_SMTP_HOST",
    "OUTREACH_SMTP_PORT",
    "OUTREACH_SMTP_SECURITY",
    "OUTREACH_WORKSPACE",
    "OUTREACH_SECRET",
    "OUTREACH_SMTP_PASSWORD",
    "OUTREACH_METRICS_TOKEN",
)

USER_UNKNOWN = "550 5.1.1 <{addr}>: Recipient address rejected: User unknown"
TRY_LATER = "451 4.3.0 try later"


# -- the SMTP server -------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One message the server accepted (its reply to DATA was 250)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)  # type: ignore[return-value]


@dataclass
class SmtpServer:
    """A recording aiosmtpd handler with fault injection, plus its port.

    ``fail_rcpt(addr, response, times)`` answers RCPT TO for ``addr`` with
    ``response`` (e.g. a 550 or a 451) ``times`` times (None: always);
    ``drop_after_data = n`` closes the connection after the next n DATA
    transfers without answering them (the client cannot know if we took it).
    """

    port: int = 0
    received: list[Received] = field(default_factory=list)
    dropped: list[Received] = field(default_factory=list)
    rcpt_attempts: Counter[str] = field(default_factory=Counter)
    drop_after_data: int = 0
    _faults: dict[str, list[Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_rcpt(self, address: str, response: str, times: int | None = None) -> None:
        with self._lock:
            self._faults[address.lower()] = [response.format(addr=address), times]

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address.lower() in (a.lower() for a in r.rcpt_tos)]

    def recipients(self) -> list[str]:
        return sorted(a.lower() for r in self.received for a in r.rcpt_tos)

    # aiosmtpd hooks

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        with self._lock:
            self.rcpt_attempts[address.lower()] += 1
            fault = self._faults.get(address.lower())
            if fault is not None:
                response, times = fault
                if times is not None:
                    fault[1] = times - 1
                    if fault[1] <= 0:
                        del self._faults[address.lower()]
                return response
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        rec = Received(envelope.mail_from, tuple(envelope.rcpt_tos), bytes(envelope.original_content))
        with self._lock:
            drop = self.drop_after_data > 0
            if drop:
                self.drop_after_data -= 1
                self.dropped.append(rec)
            else:
                self.received.append(rec)
        if drop:
            server.transport.abort()  # no reply to DATA ever reaches the client
            return "421 4.3.0 connection dropped"
        return "250 2.0.0 OK queued"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago, for a server that must be told its port (dovecot,
    knotd, postgres). Something may take it before that server binds it, so starting one retries on another
    port when the bind fails; a server we can hand a socket (``SmtpController``) or that picks its own port
    (``serve --port 0``: ``served_port``) has no such window at all.

    Under pytest-xdist each worker only takes ports of its own share (``_worker_share``), so two workers of
    one run never pick the same port however close together they ask.
    """
    worker, workers = _worker_share()
    port = 0
    for _attempt in range(1000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if (port // 2) % workers == worker:  # // 2: Linux hands bind(0) mostly odd ports, connect() even ones
            return port
    return port


def _worker_share() -> tuple[int, int]:
    """This pytest-xdist worker's index and the number of workers (``gw3`` of 4: (3, 4)); (0, 1) without xdist."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    if name.startswith("gw") and name[2:].isdigit() and count.isdigit() and int(count) > 0:
        return int(name[2:]) % int(count), int(count)
    return 0, 1


class SmtpController(Controller):
    """aiosmtpd's threaded server on 127.0.0.1, on a socket bound before it starts: its port is known at once
    (``.port``) and never was free for another process to take (``Controller(port=free_port())`` leaves a
    window between the pick and the bind, which parallel test runs hit)."""

    def __init__(self, handler: Any, sock: socket.socket | None = None, **kwargs: Any) -> None:
        """``sock``: a socket already bound to 127.0.0.1 (and refusing, not listening: a relay that is down),
        which the server then listens on; by default a new one on a port the kernel picks."""
        if sock is None:
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
        self._sock: socket.socket | None = sock
        kwargs.setdefault("ready_timeout", DEADLINE)
        super().__init__(handler, hostname="127.0.0.1", port=int(sock.getsockname()[1]), **kwargs)

    def _create_server(self) -> Any:
        sock, self._sock = self._sock, None
        assert sock is not None, "an aiosmtpd Controller starts once"
        return self.loop.create_server(self._factory_invoker, sock=sock, ssl=self.ssl_context)

    def stop(self, no_assert: bool = False) -> None:
        if self._sock is not None:  # never started
            self._sock.close()
            self._sock = None
        super().stop(no_assert=no_assert)


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that refuses every connection for as long as this lasts: bound, never listening.

    For "nothing listens there": a fixed port (1025, where the `outreach sink` the README suggests may run)
    or a port found free and let go (which another process on a busy machine may take meanwhile) can each
    answer; this one cannot.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


@contextlib.contextmanager
def silent_udp_port() -> Iterator[int]:
    """A UDP port on 127.0.0.1 where datagrams arrive and are never answered (a DNS server that is down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


# -- environment and workspaces ------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def png(width: int, height: int) -> bytes:
    """A real PNG picture of one colour (stdlib only): for the images of messages."""
    raw = b"".join(b"\x00" + b"\x0b\x5c\xab" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def write_csv(path: Path, header: list[str], rows: list[list[Any]], **kwargs: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\r\n", **kwargs)
        w.writerow(header)
        w.writerows(rows)
    return path


# A small, fully known contact set: what the send, follow-up and segment tests use.
CONTACT_HEADER = [
    "email",
    "first_name",
    "last_name",
    "title",
    "phone",
    "company",
    "industry",
    "city",
    "timezone",
    "status",
    "owner",
    "last_contacted_at",
    "transactions",
    "tags",
    "region",
]
CONTACT_ROWS = [
    [
        "ani@alpha.example.com",
        "Ani",
        "Lestari",
        "IT Manager",
        "+62 21 5550 0001",
        "PT Alpha Teknik",
        "Manufacturing",
        "Jakarta",
        "Asia/Jakarta",
        "prospect",
        "sari",
        "2026-01-01",
        "0",
        "network;security",
        "west",
    ],
    [
        "budi@beta.example.com",
        "Budi",
        "Santoso",
        "Purchasing",
        "+62 21 5550 0002",
        "PT Beta Niaga",
        "Government",
        "Tangerang",
        "Asia/Jakarta",
        "prospect",
        "awang",
        "2026-06-01",
        "1",
        "security",
        "west",
    ],
    [
        "citra@gamma.example.com",
        "Citra",
        "Wijaya",
        "",
        "+62 22 5550 0003",
        "CV Gamma Ritel",
        "Retail",
        "Bandung",
        "Asia/Jakarta",
        "prospect",
        "",
        "",
        "2",
        "",
        "west",
    ],
    [
        "dedi@delta.example.com",
        "Dedi",
        "Kurniawan",
        "Head of IT",
        "+62 21 5550 0004",
        "PT Delta Medika",
        "Healthcare",
        "Jakarta",
        "Asia/Jakarta",
        "existing",
        "awang",
        "2026-06-25",
        "5",
        "network;cloud",
        "west",
    ],
    [
        "eka@epsilon.example.com",
        "Eka",
        "Putri",
        "CFO",
        "+62 31 5550 0005",
        "PT Epsilon Logistik",
        "Logistics",
        "Surabaya",
        "Asia/Jakarta",
        "existing",
        "sari",
        "2025-12-31",
        "3",
        "cloud",
        "east",
    ],
    [
        "fajar@zeta.example.com",
        "Fajar",
        "Nugroho",
        "Owner",
        "+62 21 5550 0006",
        "PT Zeta Finansial",
        "Finance",
        "JAKARTA",
        "Asia/Jakarta",
        "prospect",
        "",
        "2026-03-31",
        "0",
        "network",
        "west",
    ],
]
PROSPECTS = [
    "ani@alpha.example.com",
    "budi@beta.example.com",
    "citra@gamma.example.com",
    "fajar@zeta.example.com",
]

PROMO_SUBJECT = "Penawaran spesial — Tahun Baru 2027 ✓"
PROMO_MD = """\
---
subject: "Penawaran spesial — Tahun Baru 2027 ✓"
preheader: "Diskon akhir tahun untuk {{ contact.company }}"
lang: id
---
Yth. {{ contact.full_name }},

Kami menawarkan **diskon 20%** untuk {{ contact.company }} di {{ contact.city }}.

Lihat [katalog kami](https://www.example.com/promo?c={{ campaign.name }}).

Salam,
{{ sender.name }}
"""


@dataclass
class SendWorkspace:
    root: Path
    server: SmtpServer

    @property
    def ws(self) -> WorkspaceConfig:
        return load_workspace(self.root)

    def engine(self) -> Engine:
        return open_engine(self.ws.database_url)

    def run(self, *args: str, input: str | None = None) -> Result:
        return invoke(*args, ws=self.root, input=input)


def prospects_workspace(root: Path) -> Path:
    """The example workspace with the six known contacts (four prospects) imported and a ``prospects`` segment."""
    init_workspace(root)
    write(root / "segments" / "prospects.yaml", "where:\n  status: prospect\n")
    result = invoke("contacts", "import", str(write_csv(root.parent / "known-contacts.csv", CONTACT_HEADER,
                                                        CONTACT_ROWS)), ws=root)  # fmt: skip
    assert result.exit_code == 0, result.output
    return root


def make_workspace(root: Path) -> Path:
    """The example workspace with the small contact set, a segment per purpose, and campaigns."""
    init_workspace(root)
    write_csv(root / "small.csv", CONTACT_HEADER, CONTACT_ROWS)
    write(
        root / "segments" / "prospects.yaml",
        "description: all prospects\nwhere:\n  status: prospect\n",
    )
    write(root / "campaigns" / "promo.md", PROMO_MD)
    write(
        root / "campaigns" / "promo.yaml",
        (
            "segment: prospects\ncontent: promo.md\nsender: awang\n"
            "throttle: {rate: 1000/s}\n"
            "retry: {attempts: 3, backoff: 0.05s, max_backoff: 0.1s}\n"
        ),
    )
    return root


# -- the CLI -------------------------------------------------------------------------


def invoke(*args: str, ws: Path | None = None, input: str | None = None) -> Result:
    """Run ``outreach ARGS -w WS`` in-process; stdout and stderr stay separate."""
    argv = [*args, *(["-w", str(ws)] if ws is not None else [])]
    return CliRunner().invoke(cli, argv, input=input, catch_exceptions=False)


def lines(text: str) -> list[str]:
    return text.splitlines()


# -- waiting for events, and real processes ------------------------------------------

T = TypeVar("T")
DEADLINE = 60.0  # seconds: generous, it only matters when something is broken


def wait_for(predicate: Callable[[], T], timeout: float = DEADLINE, what: str = "the condition",
             context: Callable[[], str] | None = None) -> T:  # fmt: skip
    """Poll ``predicate`` until it returns something truthy, and return that.

    A deadline, not a delay: on a fast machine this returns at once, on a busy one it
    waits as long as needed, and only a real failure takes the whole ``timeout``.
    ``context`` says more when it fails (a process's output, say).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}" + (f"\n{context()}" if context else ""))
        time.sleep(0.02)


def catches(pid: int, signum: int) -> bool:
    """The process has installed a handler for ``signum`` (Linux: SigCgt in /proc/PID/status)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    match = re.search(r"^SigCgt:\s*([0-9a-f]+)$", text, re.M)
    return bool(match and int(match.group(1), 16) >> (signum - 1) & 1)


class Spawned:
    """A real ``outreach`` process; its stdout and stderr are collected line by line as they come.

    Every one started is killed after its test (conftest.py), so a failed wait leaks nothing.
    """

    started: ClassVar[list[Spawned]] = []

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "outreach", *args], env=full_env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]  # fmt: skip
        for reader in self._readers:
            reader.start()
        Spawned.started.append(self)

    @staticmethod
    def _read(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        return "\n".join(["--- stdout", *self.out, "--- stderr", *self.err])

    def wait_line(self, pattern: str, stream: str = "out", timeout: float = DEADLINE) -> str:
        """The first line (of stdout, or ``stream="err"``) matching the regex ``pattern``."""
        lines = self.out if stream == "out" else self.err

        def found() -> str | None:
            if self.proc.poll() is not None and not any(r.is_alive() for r in self._readers):
                return next((x for x in lines if re.search(pattern, x)), None) or _exited(self, pattern)
            return next((x for x in lines if re.search(pattern, x)), None)

        return wait_for(found, timeout, f"a line matching {pattern!r}", self.output)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = DEADLINE) -> int:
        """Wait for the exit (and the last of its output); the exit status."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"the process did not exit within {timeout:g}s\n{self.output()}") from None
        for reader in self._readers:
            reader.join(timeout)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for reader in self._readers:
            reader.join(DEADLINE)


def served_port(server: Spawned, stream: str = "out") -> int:
    """The port of an ``outreach serve --port 0`` (any free port, picked by the kernel at bind: nothing can take
    it first), from its "Serving on http://HOST:PORT/" line (``stream="err"`` with ``--log-format json``)."""
    line = server.wait_line(r"Serving on http://[^:/]+:\d+/", stream=stream)
    match = re.search(r"Serving on http://[^:/]+:(\d+)/", line)
    assert match is not None, line
    return int(match.group(1))


def _exited(spawned: Spawned, pattern: str) -> str:
    raise AssertionError(f"the process exited ({spawned.proc.returncode}) without a line matching {pattern!r}\n"
                         f"{spawned.output()}")
