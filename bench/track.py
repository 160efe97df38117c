"""Inbound classification benchmark: messages classified per second, one process.

    python bench/track.py [-n 2000] [--repeat 3]

Builds a mixed stream from the samples the tests use (the 117 real bounces,
the hand-written replies, auto-replies, complaints and broken messages, and
the reply-trimmer bodies wrapped as replies), cycles it to N messages and
times ``classify_message`` over the whole stream. Reports the best of
``--repeat`` runs and the kinds it saw, so a speed-up that changes answers
is visible too.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from itertools import cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from outreach.tracking.classify import classify_message  # noqa: E402

DATA = ROOT / "tests" / "data"


def _as_reply(name: str, body: bytes) -> bytes:
    headers = (
        f"From: Budi <budi@pt-maju.co.id>\nTo: andi@contoh-solusi.co.id\n"
        f"Subject: Re: {name}\nMessage-ID: <{name}@pt-maju.co.id>\n"
        f"In-Reply-To: <abc123@contoh-solusi.co.id>\n"
        f"Content-Type: text/plain; charset=utf-8\n\n"
    )
    return headers.encode() + body


def samples() -> list[bytes]:
    """Every sample the tests use, as raw RFC 5322 bytes."""
    found = [p.read_bytes() for p in sorted((DATA / "bounces" / "messages").glob("*.txt"))]
    found += [p.read_bytes() for p in sorted((DATA / "inbound").glob("*.eml"))]
    found += [
        _as_reply(p.stem, p.read_bytes()) for p in sorted((DATA / "replies" / "emails").glob("*"))
    ]
    return found


def run(messages: list[bytes]) -> tuple[float, collections.Counter[str]]:
    kinds: collections.Counter[str] = collections.Counter()
    started = time.perf_counter()
    for raw in messages:
        kinds[classify_message(raw).kind] += 1
    return time.perf_counter() - started, kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="messages per run")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = parser.parse_args()

    pool = samples()
    messages = list(islice(cycle(pool), args.n))
    size = sum(len(m) for m in messages)
    run(messages[:50])  # warm up imports and regex caches
    best, kinds = min((run(messages) for _ in range(max(1, args.repeat))), key=lambda r: r[0])
    print(f"{len(messages)} messages ({len(pool)} distinct, {size / 1e6:.1f} MB) in {best:.2f} s")
    print(f"{len(messages) / best:,.0f} messages/second classified (single process)")
    print("kinds: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))


if __name__ == "__main__":
    main()
