"""Web benchmark: the public click and unsubscribe routes under a link scanner's burst, new server vs old.

    python bench/web.py [-n 20000] [-c 50] [--baseline eb875c2] [--repeat 2]

When a blast lands, mail security gateways and link scanners fetch every link
of every message at once. This sends N requests at concurrency C from a
client process on 127.0.0.1, half click redirects (``/c/TOKEN?u=…&s=…``,
expecting 302) and half unsubscribe confirmation pages (``/u/TOKEN``, GET,
expecting 200), to ``outreach serve`` as a real process, and reports
requests/second, p50, p99 and the worst latency, errors (any other status or
a failed connection), and p99/p50 (no request starving: within 10×).

The baseline is measured in the same run the same way: ``--baseline REF``
(default eb875c2, the last commit with the stdlib ``http.server`` endpoint)
is extracted with ``git archive`` and started with that package first on
``PYTHONPATH``; each server gets a workspace built by its own code (2,000
contacts, one built campaign) and the same secret, so both answer the same
links. After the new server stops, the bench checks that every click was
recorded (the clicks are written in batches after the redirect).

Two scenarios: ``quiet`` (nothing else uses the database) and ``busy``
(another process holds SQLite's write lock half of the time, 50 ms on and
50 ms off, as ``outreach worker`` committing a blast's outbox batches does
while the links of that blast are being fetched).

The client is plain asyncio streams (HTTP/1.1, keep-alive when the server
allows it; the old server closes every connection), in its own process, so
it shares the 2 cores with the server as a real scanner on the same host
would not: the absolute numbers are a floor; the ratios are what to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SECRET = "bench-secret-0123456789abcdef0123456789"
TARGET = "https://www.example.com/promo/lisensi-2027?utm_source=outreach"
CONTACTS = 2000


# -- the client (its own process) -------------------------------------------------------------------


async def _request(host: str, port: int, path: str, conn: list[object]) -> tuple[int, float]:
    """One GET; reuses the connection in ``conn`` while the server keeps it open. (status, seconds)."""
    started = time.perf_counter()
    for attempt in (0, 1):
        if not conn:
            conn.extend(await asyncio.open_connection(host, port))
        reader, writer = conn  # type: ignore[misc]
        try:
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: bench\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            conn.clear()
            if attempt:
                raise
            continue  # the server closed an idle kept-alive connection: once more on a new one
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        length = int(headers.get("content-length", "0"))
        if length:
            await reader.readexactly(length)
        if headers.get("connection", "").lower() == "close" or lines[0].startswith("HTTP/1.0"):
            writer.close()
            conn.clear()
        return status, time.perf_counter() - started
    raise AssertionError("unreachable")


async def _load(host: str, port: int, jobs: list[tuple[str, int]], concurrency: int) -> dict[str, object]:
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    latencies: list[float] = []
    errors: list[str] = []

    async def worker() -> None:
        conn: list[object] = []
        while not queue.empty():
            path, expected = queue.get_nowait()
            try:
                status, took = await _request(host, port, path, conn)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors.append(type(exc).__name__)
                conn.clear()
                continue
            latencies.append(took)
            if status != expected:
                errors.append(str(status))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {"elapsed": time.perf_counter() - started, "latencies": latencies, "errors": errors}


def client_main(args: argparse.Namespace) -> None:
    jobs = [(path, int(expected)) for path, expected in json.loads(Path(args.jobs).read_text())]
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    result = run(_load("127.0.0.1", args.port, jobs, args.concurrency))
    Path(args.out).write_text(json.dumps(result))


# -- the servers -------------------------------------------------------------------------------------


@dataclass
class Variant:
    name: str
    pythonpath: str  # "" for this tree


def extract(ref: str, dest: Path) -> Path:
    """The ``outreach`` package as it was at ``ref``."""
    data = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "outreach"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def _env(variant: Variant, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update({"OUTREACH_SECRET": SECRET, **(extra or {})})
    if variant.pythonpath:
        env["PYTHONPATH"] = variant.pythonpath
    return env


def outreach(variant: Variant, ws: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "outreach", "-w", str(ws), *args], env=_env(variant),
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode:
        raise SystemExit(f"{variant.name}: outreach {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def make_workspace(variant: Variant, base: Path) -> Path:
    ws = base / f"ws-{variant.name}"
    outreach(variant, ws.parent, "init", str(ws))
    with (ws / "bench.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name", "last_name", "company", "city", "status"])
        for i in range(CONTACTS):
            w.writerow([f"user{i:05d}@co{i % 50}.example.com", f"Nama{i}", "Santoso", f"PT Co {i % 50}", "Jakarta",
                        "prospect"])  # fmt: skip
    (ws / "segments" / "all.yaml").write_text("description: everyone\nwhere:\n  status: prospect\n")
    (ws / "campaigns" / "blast.yaml").write_text("segment: all\ncontent: year-end-licensing.md\nsender: sari\n")
    outreach(variant, ws, "contacts", "import", str(ws / "bench.csv"))
    outreach(variant, ws, "campaign", "build", "blast")
    return ws


def jobs_for(ws: Path, n: int, routes: str = "both") -> list[tuple[str, int]]:
    """N requests alternating a click and an unsubscribe page (or only one of them), cycling through the
    campaign's contacts."""
    from outreach.settings.tokens import Signer

    signer = Signer(SECRET.encode())
    with sqlite3.connect(ws / "outreach.db") as db:
        pairs = db.execute("SELECT contact_id, campaign_id FROM outbox ORDER BY id").fetchall()
    jobs = []
    for k in range(n):
        token = signer.sign(*pairs[(k // 2) % len(pairs)])
        if routes == "click" or (routes == "both" and k % 2 == 0):
            jobs.append((f"/c/{quote(token)}?u={quote(TARGET, safe='')}&s={signer.link_mac(token, TARGET)}", 302))
        else:
            jobs.append((f"/u/{quote(token)}", 200))
    return jobs


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(variant: Variant, ws: Path, port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-m", "outreach", "-w", str(ws), "serve", "--port", str(port)],
                            env=_env(variant, {"PYTHONUNBUFFERED": "1"}), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else ""
                raise SystemExit(f"{variant.name}: the server did not start:\n{err}") from None
            time.sleep(0.1)
    raise SystemExit(f"{variant.name}: the server did not listen within 60 s")


def stop_server(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGINT)
    try:
        out, _err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _err = proc.communicate()
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, all its threads (Linux): what serving cost, whatever else ran."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy_main(db: str, hold: float, stop_file: str) -> None:
    """Hold the write lock ``hold`` seconds, release it as long, until ``stop_file`` exists."""
    conn = sqlite3.connect(db, timeout=60, isolation_level=None)
    conn.execute("PRAGMA busy_timeout=60000")
    while not Path(stop_file).exists():
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE meta SET value = value WHERE key = 'unsubscribe_secret'")
        time.sleep(hold)
        conn.execute("COMMIT")
        time.sleep(hold)
    conn.close()


def clicked(ws: Path) -> int:
    with sqlite3.connect(ws / "outreach.db") as db:
        return int(db.execute("SELECT count(*) FROM events WHERE kind = 'clicked'").fetchone()[0])


def run_once(variant: Variant, ws: Path, jobs_file: Path, n: int, concurrency: int,
             busy: bool = False) -> dict[str, float]:  # fmt: skip
    port = free_port()
    before = clicked(ws)
    proc = start_server(variant, ws, port)
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    stop_busy = out.with_suffix(".stop")
    writer = subprocess.Popen([sys.executable, __file__, "--busy", str(ws / "outreach.db"), "--out", str(stop_busy)]) \
        if busy else None  # fmt: skip
    cpu = cpu_seconds(proc.pid)
    try:
        subprocess.run([sys.executable, __file__, "--client", "--jobs", str(jobs_file), "--port", str(port),
                        "--concurrency", str(concurrency), "--out", str(out)], check=True)  # fmt: skip
        cpu = cpu_seconds(proc.pid) - cpu
    finally:
        if writer is not None:
            stop_busy.touch()
            writer.wait(timeout=60)
            stop_busy.unlink()
        banner = stop_server(proc)
    result = json.loads(out.read_text())
    out.unlink()
    lat = sorted(result["latencies"])
    p50 = statistics.median(lat) if lat else float("nan")
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
    return {
        "requests": n, "rps": n / result["elapsed"], "cpu_us": cpu / n * 1e6,
        "p50": p50 * 1000, "p99": p99 * 1000, "max": lat[-1] * 1000,
        "errors": len(result["errors"]), "clicks_recorded": clicked(ws) - before,
        "clicks_sent": sum(1 for path, _ in json.loads(jobs_file.read_text()) if path.startswith("/c/")),
        "banner": banner.splitlines()[0] if banner else "",
    }  # fmt: skip


def _row(name: str, r: dict[str, float]) -> str:
    clicks = f"{int(r['clicks_recorded'])}/{int(r['clicks_sent'])}"
    return (f"{name:<26}{r['rps']:>9,.0f}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['max']:>9.0f}"
            f"{r['p99'] / r['p50']:>9.1f}{int(r['errors']):>8}{clicks:>16}{r['cpu_us']:>11.0f}")  # fmt: skip


def _summary(results: dict[str, list[dict[str, float]]], old: Variant, new: Variant, repeat: int) -> None:
    b_old = max(results[old.name], key=lambda r: r["rps"])
    b_new = max(results[new.name], key=lambda r: r["rps"])
    pairs = list(zip(results[old.name], results[new.name], strict=True))
    print(f"new / old, best of {repeat}: {b_new['rps'] / b_old['rps']:.2f}× the requests per second, "
          f"p99 {b_old['p99'] / b_new['p99']:.2f}× shorter; server CPU per request "
          f"{min(r['cpu_us'] for r in results[old.name]) / min(r['cpu_us'] for r in results[new.name]):.2f}× less")
    print("run by run, req/s new/old: " + ", ".join(f"{n['rps'] / o['rps']:.2f}×" for o, n in pairs)
          + "; p99 old/new: " + ", ".join(f"{o['p99'] / n['p99']:.2f}×" for o, n in pairs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=20000, help="requests per run")
    ap.add_argument("-c", "--concurrency", type=int, default=50)
    ap.add_argument("--baseline", default="eb875c2", help="git ref of the old server (stdlib http.server)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each server, alternating")
    ap.add_argument("--routes", choices=["both", "click", "unsubscribe"], default="both",
                    help="which public routes the requests go to (default: half and half)")
    ap.add_argument("--scenarios", default="quiet,busy", help="quiet, busy or both (comma-separated)")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--busy", help=argparse.SUPPRESS)
    ap.add_argument("--jobs", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client_main(args)
        return
    if args.busy:
        _busy_main(args.busy, 0.05, args.out)
        return
    base = Path(tempfile.mkdtemp(prefix="outreach-bench-web-"))
    old = Variant(f"old ({args.baseline})", str(extract(args.baseline, base / "old")))
    new = Variant("new (this tree)", "")
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
          f"{args.n:,} requests at concurrency {args.concurrency}, routes: {args.routes}")  # fmt: skip
    workspaces = {v.name: make_workspace(v, base) for v in (old, new)}
    pairs = set()
    for ws in workspaces.values():
        with sqlite3.connect(ws / "outreach.db") as db:
            pairs.add(tuple(db.execute("SELECT contact_id, campaign_id FROM outbox ORDER BY id").fetchall()))
    assert len(pairs) == 1, "the two workspaces must hold the same contacts and campaign, so the links are the same"
    jobs = base / "jobs.json"
    jobs.write_text(json.dumps(jobs_for(workspaces[new.name], args.n, args.routes)))
    for scenario in args.scenarios.split(","):
        print(f"\n{scenario} database")
        print(f"{'server':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'p99/p50':>9}{'errors':>8}"
              f"{'clicks recorded':>16}{'CPU µs/req':>11}")  # fmt: skip
        results: dict[str, list[dict[str, float]]] = {old.name: [], new.name: []}
        for _ in range(args.repeat):
            for variant in (old, new):
                r = run_once(variant, workspaces[variant.name], jobs, args.n, args.concurrency, scenario == "busy")
                results[variant.name].append(r)
                print(_row(variant.name, r), flush=True)
        _summary(results, old, new, args.repeat)
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
