"""Command-line start-up: light commands against the cost of importing click and SQLAlchemy.

    python bench/cli.py [--runs 9]

Builds a workspace (the example contacts imported, a campaign built, a few
follow-ups), then runs each command as a fresh process, in turns so that a
busy machine slows them all alike, and prints for each the best and median
wall time and CPU time, and their ratios to the baseline measured in the same
run: ``python -c "import click, sqlalchemy"`` (what any command of a click CLI
on SQLAlchemy must pay). The target is 2x for ``outreach --help``,
``outreach campaign status NAME`` and ``outreach followups list``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET = 2.0


def make_workspace() -> Path:
    from datetime import datetime

    from outreach import Workspace
    from outreach.settings.workspace import init_workspace
    from outreach.storage import transaction
    from outreach.storage.models import Contact, FollowUp

    root = Path(tempfile.mkdtemp(prefix="outreach-bench-cli-"))
    init_workspace(root)
    with Workspace.open(root) as ws:
        ws.import_contacts(root / "contacts.csv")
        ws.build("solusi-jaringan")
        now = datetime(2026, 11, 30, 9, 0)
        with transaction(ws.engine) as session:
            for n, contact in enumerate(session.query(Contact).limit(5)):
                session.add(FollowUp(contact_id=contact.id, queue="call", priority=50 + n, reason="replied",
                                     created_at=now, updated_at=now))  # fmt: skip
    return root


def outreach_command() -> list[str]:
    script = Path(sys.executable).with_name("outreach")
    return [str(script)] if script.exists() else [sys.executable, "-m", "outreach"]


def run_once(argv: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}  # the workspace is cwd
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="runs of each command (default 15)")
    args = parser.parse_args()

    root = make_workspace()
    cli = outreach_command()
    commands = {
        'python -c "import click, sqlalchemy"': [sys.executable, "-c", "import click, sqlalchemy"],
        "outreach --help": [*cli, "--help"],
        "outreach campaign status solusi-jaringan": [*cli, "campaign", "status", "solusi-jaringan"],
        "outreach followups list": [*cli, "followups", "list"],
        '(for reference) python -c "import outreach.sending.engine"':
            [sys.executable, "-c", "import outreach.sending.engine"],
    }  # fmt: skip
    try:
        for argv in commands.values():  # warm the disk cache and the bytecode
            run_once(argv, root)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(run_once(argv, root))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"{args.runs} runs of each, in turns")
    base = times['python -c "import click, sqlalchemy"']
    base_wall = (min(w for w, _ in base), statistics.median(w for w, _ in base))
    base_cpu = (min(c for _, c in base), statistics.median(c for _, c in base))
    print(f"{'command':<58} {'wall best':>9} {'median':>7} {'ratio':>11} {'CPU best':>9} {'ratio':>6}")
    worst = 0.0
    for name, runs in times.items():
        wall = (min(w for w, _ in runs), statistics.median(w for w, _ in runs))
        cpu = (min(c for _, c in runs), statistics.median(c for _, c in runs))
        ratios = (wall[0] / base_wall[0], wall[1] / base_wall[1])
        if name.startswith("outreach"):
            worst = max(worst, ratios[0])
        print(f"{name:<58} {wall[0] * 1000:7.0f}ms {wall[1] * 1000:5.0f}ms {ratios[0]:5.2f}/{ratios[1]:<5.2f} "
              f"{cpu[0] * 1000:7.0f}ms {cpu[0] / base_cpu[0]:6.2f}")  # fmt: skip
    print(f"ratios: best/best and median/median of wall time; CPU: best/best. Target: light commands within "
          f"{TARGET:.1f}x the baseline; worst here {worst:.2f}x ({'met' if worst <= TARGET else 'NOT met'})")


if __name__ == "__main__":
    main()
