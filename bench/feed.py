"""The event feed's cost where it matters: the engine's grouped commit, and reading the feed.

    python bench/feed.py [-n 20000] [--batch 100] [--rounds 5]

Builds a workspace with N contacts and a built campaign, then, in one run:
  * records every message as sent through ``storage.outbox.record`` in the
    engine's batches, round by round alternately without the ``sent`` events
    (the baseline: what the engine wrote before the feed) and with them, and
    prints the CPU per message of each and their ratio. The engine's whole
    CPU per message (``bench/send.py``: render, MIME, SMTP, database) is the
    scale this overhead is measured against;
  * reads the whole feed a page of 1,000 at a time (``events.feed.read_feed``)
    and prints events per second.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _prepare(n: int) -> tuple[Path, object, list[int]]:
    from send import make_workspace  # bench/send.py: the same workspace as the sending benchmark
    from sqlalchemy import select

    from outreach.audience.importer import import_contacts
    from outreach.campaigns.builder import build_campaign
    from outreach.settings.workspace import load_workspace
    from outreach.storage import open_engine, transaction
    from outreach.storage.models import Outbox

    root = make_workspace(n, 4)
    ws = load_workspace(root)
    engine = open_engine(ws.database_url)
    import_contacts(engine, root / "bench.csv")
    build_campaign(ws, engine, "bench")
    with transaction(engine) as session:
        ids = list(session.scalars(select(Outbox.id).order_by(Outbox.id)))
    return root, engine, ids


def _round(engine: object, ids: list[int], batch: int, with_events: bool) -> float:
    """CPU seconds (this thread) to record every id as sent, ``batch`` per transaction, as the engine does."""
    from sqlalchemy import delete, update

    from outreach.storage import outbox, transaction, utcnow
    from outreach.storage.models import Event, Outbox

    with transaction(engine) as session:  # type: ignore[arg-type]
        session.execute(delete(Event))
        session.execute(update(Outbox).values(state="sending", lease_owner="bench", sent_at=None))
    real = outbox.record_sent_events
    if not with_events:
        outbox.record_sent_events = lambda *args: None  # type: ignore[assignment]
    try:
        started = time.thread_time()
        now = utcnow()
        for i in range(0, len(ids), batch):
            now += timedelta(milliseconds=20)  # the Committer's tick
            results = [outbox.Result(outbox_id, "sent", 250) for outbox_id in ids[i:i + batch]]
            with transaction(engine) as session:  # type: ignore[arg-type]
                outbox.record(session, results, "bench", now)
        return time.thread_time() - started
    finally:
        outbox.record_sent_events = real  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=20000, help="messages (default 20000)")
    ap.add_argument("--batch", type=int, default=100, help="results per grouped commit (default 100)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of each, alternated (default 5)")
    args = ap.parse_args()
    root, engine, ids = _prepare(args.n)
    try:
        without, with_ = [], []
        for _ in range(args.rounds):  # alternate, so that a busy moment of the machine hits both alike
            without.append(_round(engine, ids, args.batch, with_events=False))
            with_.append(_round(engine, ids, args.batch, with_events=True))
        base, feed = min(without) / len(ids) * 1e6, min(with_) / len(ids) * 1e6
        pairs = sorted(w / b for w, b in zip(with_, without, strict=True))
        print(f"messages:              {len(ids)} recorded as sent, {args.batch} per commit, best of {args.rounds}")
        print(f"record, no events:     {base:.1f} us CPU per message (the baseline)")
        print(f"record, sent events:   {feed:.1f} us CPU per message (+{feed - base:.1f} us)")
        print(f"ratio with / without:  {feed / base:.2f} (best / best); round by round: "
              f"{', '.join(f'{p:.2f}' for p in pairs)} (median {statistics.median(pairs):.2f})")
        from outreach.events.feed import read_feed

        started, after, read = time.perf_counter(), 0, 0
        while True:
            page = read_feed(engine, after, 1000)  # type: ignore[arg-type]
            read += len(page.events)
            if not page.events:
                break
            after = page.next
        elapsed = time.perf_counter() - started
        print(f"feed read:             {read} events in {elapsed:.2f} s ({read / elapsed:,.0f} events/s, "
              "pages of 1000)")
    finally:
        engine.dispose()  # type: ignore[attr-defined]
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
