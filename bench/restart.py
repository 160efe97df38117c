"""Crash and restart: SIGKILL ``outreach campaign send`` mid-blast, start it again at once, time the end.

    python bench/restart.py [-n 1000] [--rate 100] [--kill-after 200] [--lease 45s]
    python bench/restart.py --table [--lease 10s]

What systemd, a cron retry or an impatient executive does. The restarted
sender sends what the dead one had not claimed, waits on the dead one's rows
until their lease runs out (the default: 45 s after its last renewal), takes
them over — never attempted: queued again and sent; mid-attempt: uncertain —
and finishes. Prints the time from the restart to the campaign's end, the
counts of sent and uncertain messages, and the duplicates that reached the
sink (a recording aiosmtpd in this process). The promise: done within the
lease plus one minute, no duplicate; and uncertain rows the relay never
received at most one per SMTP connection (``--table`` prints them at 3/s and
400/s, as issue 20 measured them).
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class Sink:
    """Counts every Message-ID it accepts, so a message that arrives twice shows."""

    def __init__(self) -> None:
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        mid = str(BytesHeaderParser().parsebytes(envelope.original_content)["Message-ID"])
        with self.lock:
            self.ids[mid] += 1
        return "250 OK"

    def received(self) -> int:
        with self.lock:
            return sum(self.ids.values())


def make_workspace(n: int, rate: float, lease: str | None) -> Path:
    from outreach.audience.importer import import_contacts
    from outreach.campaigns.builder import build_campaign
    from outreach.settings.workspace import init_workspace, load_workspace
    from outreach.storage import open_engine

    root = Path(tempfile.mkdtemp(prefix="outreach-restart-"))
    init_workspace(root)
    with (root / "bench.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name", "company", "status"])
        for i in range(n):
            w.writerow([f"user{i}@co{i % 50}.example.com", f"Nama{i}", f"PT Contoh {i % 50}", "prospect"])
    (root / "segments" / "bench.yaml").write_text("description: everyone\nwhere:\n  status: prospect\n")
    (root / "campaigns" / "bench.yaml").write_text(
        f"segment: bench\ncontent: solusi-jaringan.md\nsender: awang\nthrottle: {{rate: {rate:g}/s, connections: 2}}\n"
    )
    if lease:
        with (root / "outreach.yaml").open("a") as fh:
            fh.write(f"lease: {lease}\n")
    ws = load_workspace(root)
    engine = open_engine(ws.database_url)
    import_contacts(engine, root / "bench.csv")
    build_campaign(ws, engine, "bench")
    engine.dispose()
    return root


def send(root: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "OUTREACH_SMTP_PORT": str(port)}
    return subprocess.Popen([sys.executable, "-m", "outreach", "-w", str(root), "campaign", "send", "bench", "--yes"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def states(root: Path) -> Counter[str]:
    from sqlalchemy import select

    from outreach.settings.workspace import load_workspace
    from outreach.storage import open_engine, transaction
    from outreach.storage.models import Outbox

    engine = open_engine(load_workspace(root).database_url)
    try:
        with transaction(engine) as session:
            return Counter(session.scalars(select(Outbox.state)))
    finally:
        engine.dispose()


@dataclass
class Crash:
    """One crash and restart: what the sink got and what the outbox says at the end."""

    n: int
    rate: float
    held: Counter[str]
    final: Counter[str]
    ids: Counter[str]
    uncertain_ids: list[str]
    elapsed: float
    code: int
    output: str

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.ids.values() if n > 1)

    @property
    def uncertain_received(self) -> int:
        return sum(1 for mid in self.uncertain_ids if self.ids[f"<{mid}>"])


def crash(n: int, rate: float, kill_after: int, lease: str | None) -> Crash:
    """SIGKILL a send once ``kill_after`` messages reached the sink, restart it at once, let it finish."""
    from aiosmtpd.controller import Controller

    from outreach.devtools.sink import free_port

    root = make_workspace(n, rate, lease)
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), ready_timeout=30)
    controller.start()
    try:
        first = send(root, controller.port)
        while sink.received() < kill_after:
            if first.poll() is not None:
                sys.exit(f"the first sender exited early: {first.stderr.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.01)
        first.send_signal(signal.SIGKILL)
        first.wait()
        held = states(root)
        restarted = time.monotonic()
        second = send(root, controller.port)
        out, err = second.communicate()
        elapsed = time.monotonic() - restarted
    finally:
        controller.stop()
    with sink.lock:
        ids = Counter(sink.ids)
    return Crash(n, rate, held, states(root), ids, uncertain_ids(root), elapsed, second.returncode,
                 (out + err).decode())  # fmt: skip


def uncertain_ids(root: Path) -> list[str]:
    from sqlalchemy import select

    from outreach.settings.workspace import load_workspace
    from outreach.storage import open_engine, transaction
    from outreach.storage.models import Outbox

    engine = open_engine(load_workspace(root).database_url)
    try:
        with transaction(engine) as session:
            return list(session.scalars(select(Outbox.message_id).where(Outbox.state == "uncertain")))
    finally:
        engine.dispose()


def table(lease: str) -> None:
    """The issue's table: 2 connections, SIGKILL mid-send at 3/s and at 400/s, then sending again to the end."""
    print(f"2 SMTP connections, SIGKILL mid-send, restarted at once (lease {lease}), sent to the end:\n")
    print("| rate | messages | left uncertain | of those, ever received by the relay | duplicates | exit |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n, rate, kill_after in ((45, 3.0, 10), (3000, 400.0, 1000)):
        c = crash(n, rate, kill_after, lease)
        print(f"| {rate:g} a second | {n:,} | {c.final['uncertain']} | {c.uncertain_received} | {c.duplicates} "
              f"| {c.code} |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="messages/second (throttle.rate)")
    parser.add_argument("--kill-after", type=int, default=200, help="SIGKILL once this many reached the sink")
    parser.add_argument("--lease", default=None, help="the workspace's lease setting (default: 45s)")
    parser.add_argument("--table", action="store_true",
                        help="the crash table at 3/s (45 messages) and 400/s (3,000); --lease default 10s")
    args = parser.parse_args()
    if args.table:
        table(args.lease or "10s")
        return
    c = crash(args.n, args.rate, args.kill_after, args.lease)
    print(f"{args.n} messages at {args.rate:g}/s, lease {args.lease or '45s (default)'}")
    print(f"SIGKILL after {args.kill_after} at the sink; then {c.held['claimed']} claimed and {c.held['sending']} in "
          f"flight with live leases, {c.held['queued']} queued")
    print(f"restart to the campaign's end: {c.elapsed:.1f} s (exit {c.code})")
    print(f"sent {c.final['sent']}, uncertain {c.final['uncertain']} (of those received by the relay "
          f"{c.uncertain_received}), duplicates at the sink {c.duplicates}, "
          f"other states {dict((k, v) for k, v in c.final.items() if k not in ('sent', 'uncertain'))}")
    print("restarted sender said:", *c.output.splitlines(), sep="\n  ")


if __name__ == "__main__":
    main()
