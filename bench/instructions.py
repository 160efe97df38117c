"""Instructions per message: the engine's sending process against the raw client, counted by callgrind.

    python bench/instructions.py [-n 150] [--step 300] [--against DIR]

bench/send.py times the engine against the raw aiosmtplib ceiling, but on a
shared VM the machine's speed drifts between runs by more than a change to
the engine moves it (measured: the raw ceiling alone 800-1,500 msg/s within
an hour). Instructions do not drift: valgrind's callgrind counts the same
work the same way whatever else the machine does. Each process is counted
twice, sending ``n`` and ``n + step`` messages; the difference over ``step``
is the cost of one message, start-up (imports, the compile of the content)
cancelled out. Counted this way:

* the engine's sending process (render, MIME, SMTP, database: the whole
  ``send_campaign``), 4 connections to an aiosmtpd sink in its own process,
  not counted;
* the raw client: the same rendered bytes through plain aiosmtplib;
* with ``--against DIR``, the engine of another checkout (``git worktree add
  DIR REV``) on a workspace made by that checkout: whether a change costs CPU.

Under callgrind the processes run ~50 times slower, so the grouping of
commits differs from a real run; the counts compare code, not speed.
"""

from __future__ import annotations

import argparse
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import send  # noqa: E402  (bench/send.py: the same workspace, sink and children as the timed benchmark)

_RAW = """
import asyncio, pickle, sys
sys.path.insert(0, {bench!r})
import send
msgs = pickle.load(open({path!r}, 'rb'))
asyncio.run(send._raw({port}, msgs, 4))
"""


def counted(code: str, env: dict[str, str]) -> int:
    """Instructions callgrind counts for ``python -c code`` (its output file thrown away)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out", sys.executable,
                              "-c", code], capture_output=True, text=True, env=env)  # fmt: skip
    found = re.search(r"Collected : (\d+)", out.stderr)
    if out.returncode != 0 or found is None:
        raise SystemExit(f"callgrind run failed (exit {out.returncode}):\n{out.stderr[-2000:]}")
    return int(found.group(1))


def engine(root: Path, n: int, port: int, env: dict[str, str]) -> int:
    ws = send.make_workspace(n, 4, root=root)
    try:
        send._child(send._SETUP.format(root=str(root), ws=str(ws)))
        return counted(send.send_code(ws, port, root=root), env)
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def raw(n: int, port: int, env: dict[str, str]) -> int:
    ws = send.make_workspace(10, 4)
    try:
        with tempfile.NamedTemporaryFile(suffix=".pickle", delete=False) as fh:
            pickle.dump(send.prepared_messages(ws, n), fh)
        return counted(_RAW.format(bench=str(HERE), path=fh.name, port=port), env)
    finally:
        os.unlink(fh.name)
        shutil.rmtree(ws, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=150, help="messages of the smaller run")
    ap.add_argument("--step", type=int, default=300, help="how many more the larger run sends")
    ap.add_argument("--against", type=Path, default=None, metavar="DIR", help="another checkout's engine too")
    args = ap.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same hashing, run to run
    sizes = (args.n, args.n + args.step)
    rows = [("engine (this checkout)", lambda n, port: engine(send.ROOT, n, port, env))]
    if args.against:
        rows.append((f"engine ({args.against})", lambda n, port: engine(args.against.resolve(), n, port, env)))
    rows.append(("raw aiosmtplib client", lambda n, port: raw(n, port, env)))
    per: dict[str, float] = {}
    for name, run in rows:
        small, large = (send.with_sink(lambda port, n=n, run=run: run(n, port)) for n in sizes)
        per[name] = (large - small) / args.step
        print(f"{name + ':':<40}{per[name] / 1e6:6.3f} M instructions per message "
              f"({small / 1e9:.2f} G for {sizes[0]}, {large / 1e9:.2f} G for {sizes[1]})", flush=True)
    this, base = per[rows[0][0]], per["raw aiosmtplib client"]
    print(f"engine / raw client:                    {this / base:.2f}")
    if args.against:
        print(f"this engine / the other:                {this / per[rows[1][0]]:.3f}")


if __name__ == "__main__":
    main()
