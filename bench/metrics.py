"""Metrics benchmark: one Prometheus scrape on a 200,000-message outbox against one on a 2,000-message one.

    python bench/metrics.py [--rows 200000] [--baseline-rows 2000] [--runs 15] [--postgres URL]

``GET /metrics`` reads the database at every scrape (operations/metrics.py),
so its cost must not grow with the outbox. Each workspace gets ROWS outbox
rows spread over 20 campaigns and all the states, with bounce and complaint
events for 2% of them, the last minute's sends, and a worker heartbeat; the
bench then times the whole exposition (``generate_latest``: every query and
the text format), in turns between the two workspaces so that a busy machine
slows both alike, and prints the median and best milliseconds and the ratio
big / small. A scrape that cost the same at any size has ratio 1.

With ``--postgres URL`` (an admin URL, e.g. the tests' OUTREACH_TEST_POSTGRES_URL)
the same runs on two scratch PostgreSQL databases, which are dropped after.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

STATES = ["sent"] * 14 + ["queued"] * 3 + ["failed", "retry", "suppressed", "uncertain", "cancelled"]


def fill(url: str, rows: int, seed: int = 5) -> None:
    """A database at the newest schema with ``rows`` outbox rows (and their contacts, campaigns, events)."""
    from sqlalchemy import insert

    from outreach.operations.heartbeat import Heartbeat
    from outreach.storage import open_engine, utcnow
    from outreach.storage.models import Campaign, Contact, Event, Outbox

    rng = random.Random(seed)
    engine = open_engine(url)
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(insert(Campaign), [{"id": c + 1, "name": f"campaign-{c:02d}", "segment": "all", "sender": "sari",
                                         "state": "sending", "created_at": now, "updated_at": now} for c in range(20)])
        for start in range(0, rows, 20_000):
            batch = range(start, min(start + 20_000, rows))
            conn.execute(insert(Contact), [{"id": i + 1, "email": f"user{i:07d}@co{i % 97}.example.com",
                                            "custom": {}, "created_at": now, "updated_at": now} for i in batch])
            outbox, events = [], []
            for i in batch:
                state = rng.choice(STATES)
                sent_at = now - timedelta(seconds=rng.uniform(0, 86400 * 3)) if state == "sent" else None
                outbox.append({"id": i + 1, "campaign_id": i % 20 + 1, "contact_id": i + 1, "step": 0,
                               "email": f"user{i:07d}@co{i % 97}.example.com", "state": state,
                               "message_id": f"{i}.bench@contoh-solusi.co.id", "attempts": 1, "sent_at": sent_at,
                               "created_at": now, "updated_at": now})  # fmt: skip
                if state == "sent" and rng.random() < 0.02:
                    events.append({"kind": rng.choice(("bounced", "bounced", "complained", "replied")), "at": now,
                                   "campaign_id": i % 20 + 1, "outbox_id": i + 1, "contact_id": i + 1, "detail": {}})
            conn.execute(insert(Outbox), outbox)
            if events:
                conn.execute(insert(Event), events)
    Heartbeat(engine, "bench:1:000000", "bench", 1, now).beat(now, {"due": [], "sending": []})
    engine.dispose()


def scrape_ms(engine: object) -> float:
    from prometheus_client import generate_latest

    from outreach.operations.metrics import registry

    started = time.perf_counter()
    text = generate_latest(registry(engine))  # type: ignore[arg-type]
    elapsed = (time.perf_counter() - started) * 1000
    assert b"outreach_messages{" in text
    return elapsed


def measure(urls: dict[str, str], runs: int) -> dict[str, list[float]]:
    from outreach.storage import open_engine

    engines = {label: open_engine(url) for label, url in urls.items()}
    times: dict[str, list[float]] = {label: [] for label in urls}
    for engine in engines.values():
        scrape_ms(engine)  # warm: the first scrape pays the connection and the page cache
    for _ in range(runs):
        for label, engine in engines.items():
            times[label].append(scrape_ms(engine))
    for engine in engines.values():
        engine.dispose()
    return times


def report(kind: str, rows: int, base_rows: int, times: dict[str, list[float]]) -> None:
    big, small = times["big"], times["small"]
    print(f"{kind}: one scrape, median (best) of {len(big)}")
    print(f"  {base_rows:>9,} messages (baseline) {statistics.median(small):8.1f} ms ({min(small):.1f})")
    print(f"  {rows:>9,} messages            {statistics.median(big):8.1f} ms ({min(big):.1f})")
    ratio = statistics.median(big) / statistics.median(small)
    print(f"  ratio: {rows // base_rows}x the messages, {ratio:.2f}x the time")


def sqlite_run(rows: int, base_rows: int, runs: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="outreach-bench-metrics-"))
    try:
        urls = {"big": f"sqlite:///{folder / 'big.db'}", "small": f"sqlite:///{folder / 'small.db'}"}
        fill(urls["big"], rows)
        fill(urls["small"], base_rows)
        report("SQLite", rows, base_rows, measure(urls, runs))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def postgres_run(admin_url: str, rows: int, base_rows: int, runs: int) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    names = {"big": f"outreach_bench_metrics_big_{os.getpid()}", "small": f"outreach_bench_metrics_small_{os.getpid()}"}
    base = admin_url.rsplit("/", 1)[0]
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        urls = {label: f"{base}/{name}" for label, name in names.items()}
        fill(urls["big"], rows)
        fill(urls["small"], base_rows)
        for url in urls.values():  # as autovacuum leaves a live database: statistics and the visibility map
            with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text("VACUUM ANALYZE"))
        report("PostgreSQL", rows, base_rows, measure(urls, runs))
    finally:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--baseline-rows", type=int, default=2_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--postgres", metavar="URL", help="also on PostgreSQL (an admin URL that may create databases)")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores")
    sqlite_run(args.rows, args.baseline_rows, args.runs)
    if args.postgres:
        postgres_run(args.postgres, args.rows, args.baseline_rows, args.runs)


if __name__ == "__main__":
    main()
