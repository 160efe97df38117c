"""The campaign list and a campaign's page at 2,000 and at 200,000 recipients: kept counts vs counting the outbox.

    python bench/web_sizes.py [--small 2000] [--large 200000] [--loads 10] [--postgres URL]

Builds two workspaces, one campaign each (the small and the large audience),
with the outbox a campaign has halfway through its send: 60 % sent, 30 %
queued, 5 % failed, 5 % suppressed, and replies, bounces and clicks on some
of the sent ones. Contacts and outbox rows are written with plain SQL (a
real build renders every message first, which is not what is measured here;
the database's triggers keep the counts just the same, as for a build).

Then the team app (its real routes, in-process through Starlette's test
client, logged in as an executive) loads the campaign list
(``/app/campaigns``) and the campaign's page (``/app/campaigns/NAME``)
``--loads`` times each, for each size, in two ways alternated load by load:

* ``kept``: this code, reading the counts the database keeps;
* ``counted``: the old way, the status counting the outbox and the events
  (``Workspace(..., recount=True)``, the code path before the counts were kept).

It prints the medians side by side and the ratio large/small of each: the
issue's target is at most 3× at 200,000 recipients.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "web"))
sys.path.insert(0, str(ROOT / "tests"))


def make_workspace(base: Path, n: int, database_url: str | None) -> Path:
    from sqlalchemy import text

    from outreach.settings.workspace import init_workspace, load_workspace
    from outreach.storage import open_engine
    from outreach.workspace import Workspace

    root = base / f"ws{n}"
    init_workspace(root)
    (root / "segments" / "all.yaml").write_text("where:\n  status: prospect\n")
    (root / "campaigns" / "blast.yaml").write_text("segment: all\ncontent: year-end-licensing.md\nsender: sari\n")
    if database_url:
        with (root / "outreach.yaml").open("a") as fh:
            fh.write(f"database_url: {database_url}\n")
        text_ = (root / "outreach.yaml").read_text()
        (root / "outreach.yaml").write_text(re.sub(r"^database_url: sqlite.*\n", "", text_, count=1, flags=re.M))
    engine = open_engine(load_workspace(root).database_url)
    rng = random.Random(n)
    with engine.begin() as conn:
        now = "2026-12-01 09:00:00"
        conn.execute(text("INSERT INTO campaigns (name, segment, sender, state, preflight_ok, created_at, updated_at) "
                          "VALUES ('blast', 'all', 'sari', 'sending', true, :t, :t)"), {"t": now})  # fmt: skip
        batch = 5000
        for start in range(0, n, batch):
            rows = range(start, min(start + batch, n))
            conn.execute(text(
                "INSERT INTO contacts (email, first_name, last_name, title, phone, industry, city, timezone, status, "
                "owner, transactions, tags, custom, language, created_at, updated_at) VALUES (:e, 'Nama', 'Santoso', "
                "'', '', '', 'Jakarta', '', 'prospect', '', 0, '', '{}', 'id', :t, :t)"),
                [{"e": f"user{i:06d}@co{i % 97}.example.com", "t": now} for i in rows])  # fmt: skip
            states = [_state(rng) for _ in rows]
            conn.execute(text(
                "INSERT INTO outbox (campaign_id, contact_id, step, email, state, message_id, attempts, sent_at, "
                "created_at, updated_at) VALUES (1, :c, 0, :e, :s, :m, 1, :sent, :t, :t)"),
                [{"c": i + 1, "e": f"user{i:06d}@co{i % 97}.example.com", "s": s, "m": f"m{i}@bench.example",
                  "sent": now if s == "sent" else None, "t": now} for i, s in zip(rows, states, strict=True)])
        conn.execute(text(  # replies, bounces and clicks on some of the sent messages
            "INSERT INTO events (kind, at, campaign_id, outbox_id, contact_id, detail) "
            "SELECT CASE WHEN id % 3 = 0 THEN 'replied' WHEN id % 3 = 1 THEN 'bounced' ELSE 'clicked' END, "
            ":t, campaign_id, id, contact_id, '{}' FROM outbox WHERE state = 'sent' AND id % 20 = 0"), {"t": now})
    with Workspace(load_workspace(root), engine) as ws:
        ws.add_user("boss", "executive", "boss-password-1")
    engine.dispose()
    return root


def _state(rng: random.Random) -> str:
    x = rng.random()
    return "sent" if x < 0.6 else "queued" if x < 0.9 else "failed" if x < 0.95 else "suppressed"


def measure(root: Path, loads: int) -> dict[str, dict[str, float]]:
    """Median ms of each page, kept and counted, alternated load by load."""
    from starlette.testclient import TestClient
    from team_support import csrf_of

    from outreach.settings.workspace import load_workspace
    from outreach.storage import open_engine
    from outreach.web.app import create_app
    from outreach.workspace import Workspace

    config = load_workspace(root)
    engine = open_engine(config.database_url)
    times: dict[str, dict[str, list[float]]] = {"kept": {}, "counted": {}}
    clients = {}
    try:
        for way in times:
            ws = Workspace(config, engine, recount=way == "counted")
            client = TestClient(create_app(ws), follow_redirects=False)
            client.__enter__()
            form = client.get("/app/login")
            client.post("/app/login", data={"username": "boss", "password": "boss-password-1",
                                            "csrf_token": csrf_of(form.text)})  # fmt: skip
            clients[way] = client
        for page, path in (("list", "/app/campaigns"), ("page", "/app/campaigns/blast")):
            for client in clients.values():  # one warm-up each
                assert client.get(path).status_code == 200
            for _ in range(loads):
                for way, client in clients.items():
                    started = time.perf_counter()
                    response = client.get(path)
                    times[way].setdefault(page, []).append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.text[:500]
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)
        engine.dispose()
    return {way: {page: statistics.median(v) for page, v in pages.items()} for way, pages in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database is empty (one per size: URL is "
                                           "suffixed with _SIZE; the role must be able to create them)")
    args = parser.parse_args()
    os.environ.setdefault("OUTREACH_SECRET", "bench-secret-0123456789abcdef0123456789")
    print(f"# {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
          f"{'PostgreSQL' if args.postgres else 'SQLite'}; median of {args.loads} loads")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.small, args.large):
            url = None
            if args.postgres:
                url = _pg_database(args.postgres, n)
            started = time.perf_counter()
            root = make_workspace(Path(tmp), n, url)
            print(f"# workspace of {n:,} recipients made in {time.perf_counter() - started:.1f} s")
            results[n] = measure(root, args.loads)
    small, large = results[args.small], results[args.large]
    print(f"{'':22}{args.small:>12,}{args.large:>12,}{'ratio':>9}")
    for way in ("counted", "kept"):
        for page, label in (("list", "campaign list"), ("page", "campaign page")):
            a, b = small[way][page], large[way][page]
            print(f"{label + ' (' + way + ')':22}{a:>10.1f}ms{b:>10.1f}ms{b / a:>8.1f}×")


def _pg_database(url: str, n: int) -> str:
    from sqlalchemy import create_engine, text

    name = f"outreach_bench_{n}"
    admin = create_engine(url.replace("postgresql+psycopg", "postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


if __name__ == "__main__":
    main()
