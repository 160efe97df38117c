"""Sending benchmark: outreach's engine end to end against the raw SMTP ceiling.

    python bench/send.py [-n 20000] [--connections 4] [--memory] [--against DIR]
    python bench/send.py --dkim [-n 10000] [--connections 4]

Builds a workspace with N contacts, starts an aiosmtpd sink in its own
process, then reports in one run:
  * the engine's messages/second end to end (render + MIME + SMTP + database),
  * the raw ceiling: the same pre-rendered bytes blasted through aiosmtplib on
    the same number of connections to the same sink, and the ratio,
  * CPU per recipient of preparation alone (render + MIME),
  * peak memory of the sending process (with --memory: 10k vs 100k recipients),
  * with ``--against DIR``, another checkout's engine (``git worktree add DIR
    REV``) in the same run, each repeat back to back with this one and the raw
    ceiling: whether a change costs throughput, on a machine whose speed
    drifts more between runs than the change could move it.

With ``--dkim`` it answers instead what signing costs, in one run:
  * the bare RSA-2048 signature ``cryptography`` makes on this machine, the
    signer's whole cost per message (canonicalisation, body hash, signature,
    header) with RSA alone and with Ed25519 beside it, and their ratios,
    dkimpy's cost for reference (CPU time, best of several rounds);
  * the engine end to end with DKIM off, on and signing in the event loop
    (``dkim.processes: 1``), and on with worker processes (the default, one per
    core), run by run alternately, with the ratios on/off.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import multiprocessing as mp
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RAW_CPU: list[float] = []
CITIES = ["Jakarta", "Tangerang", "Bekasi", "Bandung", "Surabaya"]


def _sink_main(port: int, ready: mp.Event, stop: mp.Event) -> None:  # type: ignore[valid-type]
    from aiosmtpd.controller import Controller

    class Count:
        n = 0

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            Count.n += 1
            return "250 OK"

    ctl = Controller(Count(), hostname="127.0.0.1", port=port)
    ctl.start()
    ready.set()
    stop.wait()
    ctl.stop()


def make_workspace(n: int, connections: int, dkim: int | None = None, root: Path = ROOT) -> Path:
    """A workspace with ``n`` contacts; ``dkim`` set: RSA-2048 signing with that many processes (0: default).
    ``root``: the checkout whose example workspace it starts from (another one's in a child process)."""
    ws = Path(tempfile.mkdtemp(prefix="outreach-bench-"))
    if root == ROOT:
        from outreach.settings.workspace import init_workspace

        init_workspace(ws)
    else:
        code = (f"import sys; sys.path.insert(0, {str(root)!r}); from pathlib import Path; "
                f"from outreach.settings.workspace import init_workspace; init_workspace(Path({str(ws)!r}))")
        subprocess.run([sys.executable, "-c", code], check=True)
    with (ws / "bench.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "first_name", "last_name", "company", "city", "status", "title"])
        for i in range(n):
            w.writerow([f"user{i}@co{i % 500}.example.com", f"Nama{i}", "Santoso",
                        f"PT Contoh {i % 500}", CITIES[i % 5], "prospect", "Purchasing Manager"])
    (ws / "segments" / "bench.yaml").write_text("description: all bench contacts\nwhere:\n  status: prospect\n")
    (ws / "campaigns" / "bench.yaml").write_text(
        "segment: bench\ncontent: solusi-jaringan.md\nsender: awang\n"
        f"throttle: {{rate: 100000/s, connections: {connections}, messages_per_connection: 100000}}\n"
    )
    if dkim is not None:
        (ws / "dkim.pem").write_bytes(rsa_pem())
        with (ws / "outreach.yaml").open("a") as fh:
            fh.write("dkim:\n  selector: bench\n  domain: contoh-solusi.co.id\n  private_key_file: dkim.pem\n"
                     + (f"  processes: {dkim}\n" if dkim else ""))  # fmt: skip
    return ws


def rsa_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())  # fmt: skip


_SETUP = """
import json, sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine
from outreach.audience.importer import import_contacts
from outreach.campaigns.builder import build_campaign
ws = load_workspace(Path({ws!r}))
engine = open_engine(ws.database_url)
t = time.perf_counter(); import_contacts(engine, ws.root / 'bench.csv'); t_import = time.perf_counter() - t
t = time.perf_counter(); build_campaign(ws, engine, 'bench'); t_build = time.perf_counter() - t
print(json.dumps(dict(import_s=t_import, build_s=t_build)))
"""

_SEND = """
import asyncio, json, os, sys, time
sys.path.insert(0, {root!r})
os.environ['OUTREACH_SMTP_PORT'] = '{port}'
from pathlib import Path
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine
from outreach.sending.engine import send_campaign
ws = load_workspace(Path({ws!r}))
engine = open_engine(ws.database_url)
if {no_counts}:  # as before the counts were kept: the triggers that keep them dropped (the baseline)
    import importlib.util
    spec = importlib.util.spec_from_file_location('m', {migration!r}); m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    with engine.begin() as conn:
        m.drop_triggers(conn)
t = time.perf_counter(); c = time.process_time()
report = asyncio.run(send_campaign(ws, engine, 'bench'))
wall = time.perf_counter() - t; cpu = time.process_time() - c
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent
hwm = next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmHWM:'))
print(json.dumps(dict(sent=report.sent, wall=wall, cpu=cpu, maxrss_mb=hwm / 1024)))
"""


def _child(code: str) -> dict[str, float]:
    import json

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


MIGRATION = ROOT / "outreach" / "storage" / "migrations" / "versions" / "0011_exec.py"


def send_code(ws: Path, port: int, counts: bool = True, root: Path = ROOT) -> str:
    """The sending process's program (``python -c``) for a workspace already set up by ``_SETUP``."""
    return _SEND.format(root=str(root), ws=str(ws), port=port, no_counts=not counts, migration=str(MIGRATION))


def sent_once(n: int, connections: int, processes: int = 1, counts: bool = True,
              root: Path = ROOT) -> dict[str, float]:  # fmt: skip
    """``run_engine`` on a workspace of its own, made and removed here, to a sink of its own."""
    ws = make_workspace(n, connections, root=root)
    try:
        return with_sink(lambda port: run_engine(ws, port, n, processes, counts, root))
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def run_engine(ws: Path, port: int, n: int, processes: int = 1, counts: bool = True,
               root: Path = ROOT) -> dict[str, float]:  # fmt: skip
    """Import and build in one child process, send in others: the sender's peak RSS is its own.

    With ``processes`` > 1, that many senders share the campaign (as several workers would). ``counts``
    False: the database's per-campaign counts are not kept while sending (their triggers dropped).
    ``root``: the checkout whose engine runs (its package first on the children's path).
    """
    import json

    setup = _child(_SETUP.format(root=str(root), ws=str(ws)))
    send = send_code(ws, port, counts, root)
    if processes == 1:
        return {**setup, **_child(send)}
    started = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", send],
                              stdout=subprocess.PIPE, text=True) for _ in range(processes)]  # fmt: skip
    results = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    wall = time.perf_counter() - started
    return {**setup, "sent": sum(r["sent"] for r in results), "wall": wall, "cpu": sum(r["cpu"] for r in results),
            "maxrss_mb": max(r["maxrss_mb"] for r in results)}  # fmt: skip


def prepared_messages(ws: Path, count: int) -> list[tuple[str, bytes]]:
    from outreach.audience.contacts import ContactView
    from outreach.campaigns.definition import load_campaign
    from outreach.campaigns.messages import MessageFactory
    from outreach.settings.tokens import Signer
    from outreach.settings.workspace import load_workspace

    w = load_workspace(ws)
    factory = MessageFactory(w, load_campaign(w, "bench"), 1, Signer(b"bench"))
    msgs = []
    for i in range(count):
        view = ContactView(id=i, email=f"user{i}@co{i % 500}.example.com", first_name=f"Nama{i}", last_name="Santoso",
                           title="Purchasing Manager", company=f"PT Contoh {i % 500}", city=CITIES[i % 5])
        msgs.append((view.email, factory.prepare(view, f"{i}.bench@x.example.com").data))
    return msgs


def prep_cost(ws: Path, count: int) -> float:
    """CPU microseconds per recipient for render + MIME alone."""
    c = time.process_time()
    prepared_messages(ws, count)
    return (time.process_time() - c) / count * 1e6


async def _raw(port: int, msgs: list[tuple[str, bytes]], connections: int) -> float:
    import aiosmtplib

    queue: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
    for m in msgs:
        queue.put_nowait(m)

    async def conn() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port)
        await smtp.connect()
        while not queue.empty():
            rcpt, data = queue.get_nowait()
            await smtp.sendmail("awang@contoh-solusi.co.id", [rcpt], data)
        await smtp.quit()

    t, c = time.perf_counter(), time.process_time()
    await asyncio.gather(*(conn() for _ in range(connections)))
    RAW_CPU.append((time.process_time() - c) / len(msgs) * 1e6)
    return len(msgs) / (time.perf_counter() - t)


def with_sink(fn):  # type: ignore[no-untyped-def]
    from outreach.devtools.sink import free_port

    port = free_port()
    ready, stop = mp.Event(), mp.Event()
    proc = mp.Process(target=_sink_main, args=(port, ready, stop), daemon=True)
    proc.start()
    ready.wait(10)
    try:
        return fn(port)
    finally:
        stop.set()
        proc.join(5)


def _per_op(fn, items: list, rounds: int = 5) -> float:  # type: ignore[no-untyped-def,type-arg]
    """Best CPU microseconds per item of ``fn`` over several rounds (the least disturbed one)."""
    best = float("inf")
    for _ in range(rounds):
        c = time.process_time()
        for item in items:
            fn(item)
        best = min(best, (time.process_time() - c) / len(items) * 1e6)
    return best


def signing_costs(ws: Path) -> dict[str, float]:
    """Per-message CPU of the signer against the bare OpenSSL RSA-2048 signature, on the same machine."""
    import dkim
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding

    from outreach.content.dkim import DkimSigner

    pem = (ws / "dkim.pem").read_bytes()
    ed_pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    rsa_only = DkimSigner("bench", "contoh-solusi.co.id", pem)
    dual = DkimSigner("bench", "contoh-solusi.co.id", pem, ed25519=("bench-ed", ed_pem, "ed25519 key"))
    key = serialization.load_pem_private_key(pem, None)
    msgs = [m for _, m in prepared_messages(ws, 400)]
    heads = [m[:700] for m in msgs]  # about what the canonical headers weigh
    out: dict[str, float] = {}
    for _ in range(2):  # interleaved, so that a busy moment of the machine hits each alike
        for name, fn, items in (
            ("bare", lambda d: key.sign(d, padding.PKCS1v15(), hashes.SHA256()), heads),  # type: ignore[union-attr]
            ("rsa", rsa_only.signature, msgs),
            ("dual", dual.signature, msgs),
        ):
            out[name] = min(out.get(name, float("inf")), _per_op(fn, items))
    sel, dom = b"bench", b"contoh-solusi.co.id"
    out["dkimpy"] = _per_op(lambda m: dkim.sign(m, sel, dom, pem, canonicalize=(b"relaxed", b"relaxed")),
                            msgs[:40], rounds=2)  # fmt: skip
    return out


def signing_throughput(ws: Path, processes: int, count: int = 3000) -> tuple[float, float]:
    """Messages/second through ``Signing`` alone (no SMTP, no database), and its CPU in this process per message."""
    from outreach.content.dkim import DkimSigner
    from outreach.sending.signing import Signing
    from outreach.settings.workspace import load_workspace

    w = load_workspace(ws)
    assert w.settings.dkim is not None
    signing = Signing(DkimSigner.from_settings(w.settings.dkim, ws), processes)
    msgs = [m for _, m in prepared_messages(ws, 400)]
    batches = [msgs[i % 400 : i % 400 + 32] for i in range(0, count, 32)]  # the engine's hand-over size

    async def run() -> tuple[float, float]:
        await signing.sign(msgs[:32])  # workers started and warm
        t, c = time.perf_counter(), time.process_time()
        for b in batches:
            await signing.sign(b)
        n = sum(len(b) for b in batches)
        result = n / (time.perf_counter() - t), (time.process_time() - c) / n * 1e6
        await signing.close()
        return result

    return asyncio.run(run())


def dkim_main(args: argparse.Namespace) -> None:
    variants = {"off": None, "on, in the loop": 1, "on, worker processes": 0}
    runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
    costs: dict[str, float] = {}
    for _ in range(args.repeat):  # alternate, so that a busy moment of the machine hits all alike
        for name, processes in variants.items():
            ws = make_workspace(args.n, args.connections, dkim=processes)
            try:
                runs[name].append(with_sink(lambda port, ws=ws: run_engine(ws, port, args.n)))
                if processes is not None and not costs:
                    costs = signing_costs(ws)
                    for _ in range(3):  # alternately, best of each: the least disturbed round
                        for p in sorted({1, len(os.sched_getaffinity(0))}):
                            rate, cpu = signing_throughput(ws, p)
                            if rate > costs.get(f"alone{p}", 0):
                                costs[f"alone{p}"], costs[f"alone_cpu{p}"] = rate, cpu
            finally:
                shutil.rmtree(ws, ignore_errors=True)
    cores = len(os.sched_getaffinity(0))
    print(f"recipients:            {args.n} over {args.connections} connection(s), best of {args.repeat}; "
          f"worker processes: {cores} (one per core)")
    print(f"bare RSA-2048 sign:    {costs['bare']:.0f} us CPU (cryptography / OpenSSL, PKCS#1 v1.5, SHA-256)")
    print(f"DKIM signer, RSA:      {costs['rsa']:.0f} us CPU per message, ratio to bare "
          f"{costs['rsa'] / costs['bare']:.2f} (target <= 1.3)")
    print(f"DKIM signer, RSA + Ed25519: {costs['dual']:.0f} us CPU per message, ratio to bare "
          f"{costs['dual'] / costs['bare']:.2f}")
    print(f"dkimpy (before), RSA:  {costs['dkimpy']:.0f} us CPU per message ({costs['dkimpy'] / costs['rsa']:.1f}x)")
    for p in sorted({1, cores}):
        print(f"signing alone, {p} process(es){' (in the loop)' if p == 1 else ''}: {costs[f'alone{p}']:,.0f} msg/s "
              f"({costs[f'alone_cpu{p}']:.0f} us CPU/msg in the sending process)")
    if cores > 1:
        print(f"signing alone, {cores} worker processes / in the loop: {costs[f'alone{cores}'] / costs['alone1']:.2f}x "
              "(best of 3 rounds each)")
    rate = {name: max(r["sent"] / r["wall"] for r in rs) for name, rs in runs.items()}
    for name, rs in runs.items():
        best = max(rs, key=lambda r: r["sent"] / r["wall"])
        print(f"engine, DKIM {name + ':':<22}{rate[name]:,.0f} msg/s ({best['sent']:.0f} sent in {best['wall']:.1f} s, "
              f"{best['cpu'] / max(best['sent'], 1) * 1e6:.0f} us CPU/msg in the sending process)")
    for name in list(variants)[1:]:
        pairs = sorted(on["sent"] / on["wall"] / (off["sent"] / off["wall"])
                       for on, off in zip(runs[name], runs["off"], strict=True))  # fmt: skip
        print(f"ratio {name} / off: {rate[name] / rate['off']:.2f} (best / best); run by run "
              f"{', '.join(f'{p:.2f}' for p in pairs)} (target >= 0.5)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=None, help="recipients (default 20000; 10000 with --dkim)")
    ap.add_argument("--connections", type=int, default=4, help="SMTP connections in all")
    ap.add_argument("--processes", type=int, default=1, help="sending processes sharing the campaign")
    ap.add_argument("--repeat", type=int, default=2, help="runs of each; the best of each is reported")
    ap.add_argument("--memory", action="store_true", help="also compare peak memory at 10k and 100k")
    ap.add_argument("--dkim", action="store_true", help="measure DKIM signing instead (see above)")
    ap.add_argument("--against", type=Path, default=None, metavar="DIR",
                    help="another checkout (git worktree add DIR REV) whose engine runs back to back with this one")
    ap.add_argument("--counts", action="store_true",
                    help="also send with the per-campaign counts not kept (their triggers dropped), alternated")
    args = ap.parse_args()
    args.n = args.n or (10000 if args.dkim else 20000)
    print(f"machine: {platform.processor() or platform.machine()}, {mp.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    if args.dkim:
        dkim_main(args)
        return
    engines, raws, bare, others = [], [], [], []
    for _ in range(args.repeat):  # alternate, so that a busy moment of the machine hits both alike
        if args.against:
            others.append(sent_once(args.n, args.connections // args.processes, args.processes,
                                    root=args.against.resolve()))  # fmt: skip
        if args.counts:
            bare.append(sent_once(args.n, args.connections // args.processes, counts=False))
        ws = make_workspace(args.n, args.connections // args.processes)
        try:
            engines.append(with_sink(lambda port, ws=ws: run_engine(ws, port, args.n)))
            msgs = prepared_messages(ws, min(args.n, 20000))
            raws.append(with_sink(lambda port, msgs=msgs: asyncio.run(_raw(port, msgs, args.connections))))
            prep = prep_cost(ws, 3000)
        finally:
            shutil.rmtree(ws, ignore_errors=True)
    engine = max(engines, key=lambda e: e["sent"] / e["wall"])
    rate, raw = engine["sent"] / engine["wall"], max(raws)
    print(f"recipients:            {args.n} over {args.connections} connection(s) in {args.processes} "
          f"sending process(es), best of {args.repeat}")
    print(f"import / build:        {engine['import_s']:.1f} s / {engine['build_s']:.1f} s")
    print(f"engine end to end:     {rate:,.0f} msg/s ({engine['sent']:.0f} sent in {engine['wall']:.1f} s, "
          f"{engine['cpu'] / max(engine['sent'], 1) * 1e6:.0f} us CPU/msg)")
    print(f"raw aiosmtplib ceiling:{raw:,.0f} msg/s ({min(RAW_CPU):.0f} us CPU/msg in the client)")
    pairs = sorted(e["sent"] / e["wall"] / r for e, r in zip(engines, raws, strict=True))
    print(f"ratio engine / raw:    {rate / raw:.2f} (best / best); run by run, back to back: "
          f"{', '.join(f'{p:.2f}' for p in pairs)} (median {statistics.median(pairs):.2f})")
    if bare:
        without = max(e["sent"] / e["wall"] for e in bare)
        runs = ", ".join(f"{e['sent'] / e['wall']:,.0f}/{b['sent'] / b['wall']:,.0f}"
                         for e, b in zip(engines, bare, strict=True))
        print(f"counts not kept:       {without:,.0f} msg/s, ratio engine / raw {without / raw:.2f}; kept / not kept "
              f"{rate / without:.2f} (best / best; run by run kept/not kept msg/s: {runs})")
    if others:
        per = [o["sent"] / o["wall"] / r for o, r in zip(others, raws, strict=True)]
        this_vs = sorted(e["sent"] / e["wall"] / (o["sent"] / o["wall"]) for e, o in zip(engines, others, strict=True))
        cpu = statistics.median(o["cpu"] / max(o["sent"], 1) * 1e6 for o in others)
        print(f"against {args.against}: ratio to raw run by run {', '.join(f'{p:.2f}' for p in per)} (median "
              f"{statistics.median(per):.2f}), median {cpu:.0f} us CPU/msg (this one: "
              f"{statistics.median(e['cpu'] / max(e['sent'], 1) * 1e6 for e in engines):.0f}); this / that run by "
              f"run {', '.join(f'{p:.2f}' for p in this_vs)} (median {statistics.median(this_vs):.2f})")
    print(f"preparation CPU:       {prep:.0f} us per recipient (render + MIME)")
    print(f"peak memory (sender):  {engine['maxrss_mb']:.0f} MB")
    if args.memory:
        peaks = {}
        for n in (10_000, 100_000):
            peaks[n] = sent_once(n, args.connections)["maxrss_mb"]
        print(f"peak memory 10k / 100k: {peaks[10_000]:.0f} MB / {peaks[100_000]:.0f} MB "
              f"(ratio {peaks[100_000] / peaks[10_000]:.2f})")


if __name__ == "__main__":
    main()
