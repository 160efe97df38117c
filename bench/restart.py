"""Crash and restart: SIGKILL ``outreach campaign send`` mid-blast, start it again at once, time the end.

    python bench/restart.py [-n 1000] [--rate 100] [--kill-after 200] [--lease 45s]

What systemd, a cron retry or an impatient executive does. The restarted
sender sends what the dead one had not claimed, waits on the dead one's rows
until their lease runs out (the default: 45 s after its last renewal), takes
them over — never attempted: queued again and sent; mid-attempt: uncertain —
and finishes. Prints the time from the restart to the campaign's end, the
counts of sent and uncertain messages, and the duplicates that reached the
sink (a recording aiosmtpd in this process). The promise: done within the
lease plus one minute, no duplicate.
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


def main() -> None:
    from aiosmtpd.controller import Controller

    from outreach.devtools.sink import free_port

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="messages/second (throttle.rate)")
    parser.add_argument("--kill-after", type=int, default=200, help="SIGKILL once this many reached the sink")
    parser.add_argument("--lease", default=None, help="the workspace's lease setting (default: 45s)")
    args = parser.parse_args()

    root = make_workspace(args.n, args.rate, args.lease)
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=free_port(), ready_timeout=30)
    controller.start()
    try:
        first = send(root, controller.port)
        while sink.received() < args.kill_after:
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
    final = states(root)
    duplicates = sum(n - 1 for n in sink.ids.values() if n > 1)
    print(f"workspace {root}; {args.n} messages at {args.rate:g}/s, lease {args.lease or '45s (default)'}")
    print(f"SIGKILL after {args.kill_after} at the sink; then {held['claimed']} claimed and {held['sending']} in flight"
          f" with live leases, {held['queued']} queued")
    print(f"restart to the campaign's end: {elapsed:.1f} s (exit {second.returncode})")
    print(f"sent {final['sent']}, uncertain {final['uncertain']}, duplicates at the sink {duplicates}, "
          f"other states {dict((k, v) for k, v in final.items() if k not in ('sent', 'uncertain'))}")
    print("restarted sender said:", *(line for line in (out + err).decode().splitlines()), sep="\n  ")


if __name__ == "__main__":
    main()
