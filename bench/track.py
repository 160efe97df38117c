"""Inbound classification: how right, per real-mail corpus, and how fast.

    python bench/track.py [--half checking|tuning|both] [--repeat 3] [--sisimai auto|off]

For every corpus under tests/data (see tests/mailcorpus.py) it prints, on the
chosen half: bounces found, bounces with exactly the right failed recipients,
bounces right on hard/soft, complaints (opt-out reports count as
unsubscribes), auto-replies, non-bounces kept out, reports whose every
recipient has its own labelled reason and hard flag, and messages per second;
then tracker issue 21's bounce categories (gave-up notices, dead domains,
filtering gateways, several recipients) right on every labelled field.

Speed (in CPU seconds of the one process) is the best of ``--repeat`` runs over each corpus (cycled to at least 400
messages), then over the whole mixed stream (corpora, the hand-written inbound
samples, the reply-trimmer bodies wrapped as replies). Each speed is also given
as a ratio to merely parsing the same bytes with the email package in the same
run, which says more than an absolute figure on a shared machine.

When Perl's Sisimai is installed (Debian ``libsisimai-perl``; never a runtime
dependency) its answers on the same messages are scored by the same rules and
printed side by side, with how often it and we agree.
"""

from __future__ import annotations

import argparse
import email
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from itertools import cycle, islice
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import mailcorpus  # noqa: E402

from outreach.tracking.classify import classify_message  # noqa: E402

DATA = ROOT / "tests" / "data"
COLUMNS = (("bounces", "bounces found"), ("recipients", "recipients right"), ("hard_soft", "hard/soft right"),
           ("complaints", "complaints"), ("auto_replies", "auto-replies"), ("not_bounces", "not bounces"),
           ("per_recipient", "each recipient"))  # fmt: skip


def _as_reply(name: str, body: bytes) -> bytes:
    headers = (
        f"From: Budi <budi@pt-maju.co.id>\nTo: andi@contoh-solusi.co.id\n"
        f"Subject: Re: {name}\nMessage-ID: <{name}@pt-maju.co.id>\n"
        f"In-Reply-To: <abc123@contoh-solusi.co.id>\n"
        f"Content-Type: text/plain; charset=utf-8\n\n"
    )
    return headers.encode() + body


def mixed_stream(samples: list[mailcorpus.Sample]) -> list[bytes]:
    """Every corpus message, the hand-written inbound samples and the replies, as raw bytes."""
    found = [s.path.read_bytes() for s in samples]
    found += [p.read_bytes() for p in sorted((DATA / "inbound").glob("*.eml"))]
    found += [_as_reply(p.stem, p.read_bytes()) for p in sorted((DATA / "replies" / "emails").glob("*"))]
    return found


# --------------------------------------------------------------------------- speed


def best_rate(messages: list[bytes], work: Callable[[bytes], object], repeat: int) -> float:
    """Messages per second of this process's CPU time, best of ``repeat`` runs (after one warm-up
    pass): on a shared machine, other jobs' load does not count against the classifier."""
    for raw in messages[:50]:
        work(raw)
    best = float("inf")
    for _ in range(max(1, repeat)):
        started = time.process_time()
        for raw in messages:
            work(raw)
        best = min(best, time.process_time() - started)
    return len(messages) / best


def _parse(raw: bytes) -> object:
    return email.message_from_bytes(raw, policy=policy.compat32)


@dataclass
class Speed:
    rate: float
    parse_rate: float

    @property
    def share(self) -> float:
        """Classification speed as a share of parse-only speed (higher is better)."""
        return self.rate / self.parse_rate


def speed(messages: list[bytes], repeat: int, minimum: int = 400) -> Speed:
    stream = list(islice(cycle(messages), max(minimum, len(messages))))
    return Speed(best_rate(stream, classify_message, repeat), best_rate(stream, _parse, repeat))


# --------------------------------------------------------------------------- Sisimai


@dataclass(frozen=True)
class SisimaiAnswer:
    """Sisimai's reading of one message, in the shape the scores look at."""

    kind: str
    hard: bool
    recipients: tuple[str, ...]


def _sisimai_answer(results: list[dict[str, object]]) -> SisimaiAnswer:
    bounces = [r for r in results if r["reason"] not in ("vacation", "feedback", "delivered")]
    if bounces:
        delayed = all(r.get("action") == "delayed" for r in bounces)
        hard = all(r["softbounce"] == 0 for r in bounces)
        recipients = tuple(dict.fromkeys(str(r["recipient"]).lower() for r in bounces))
        return SisimaiAnswer("other" if delayed else "bounce", hard and not delayed, recipients)
    feedback = [r for r in results if r["reason"] == "feedback"]
    if feedback:
        kind = {"opt-out": "unsubscribe", "auth-failure": "other"}.get(str(feedback[0]["feedbacktype"]), "complaint")
        return SisimaiAnswer(kind, False, tuple(str(r["recipient"]).lower() for r in feedback))
    if any(r["reason"] == "vacation" for r in results):
        return SisimaiAnswer("auto_reply", False, ())
    return SisimaiAnswer("other", False, ())


def sisimai_answers(samples: list[mailcorpus.Sample]) -> dict[Path, SisimaiAnswer] | None:
    """Sisimai's answers for every sample, or None when Perl's Sisimai is not installed."""
    if shutil.which("perl") is None or subprocess.run(["perl", "-MSisimai", "-e", "1"],
                                                      capture_output=True).returncode != 0:  # fmt: skip
        return None
    paths = "\n".join(str(s.path) for s in samples) + "\n"
    out = subprocess.run(["perl", str(ROOT / "bench" / "sisimai_dump.pl")], input=paths, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    answers = {}
    for line in out.splitlines():
        row = json.loads(line)
        answers[Path(row["file"])] = _sisimai_answer(row["results"])
    return answers


def sisimai_version() -> str:
    out = subprocess.run(["perl", "-MSisimai", "-e", "print $Sisimai::VERSION"], capture_output=True, text=True)
    return out.stdout.strip()


# --------------------------------------------------------------------------- printing


def _cell(score: mailcorpus.Score, measure: str) -> str:
    total = score.total.get(measure, 0)
    if not total:
        return "-"
    right = score.right.get(measure, 0)
    return f"{right}/{total} {right / total:.0%}"


def table(scores: dict[tuple[str, str], mailcorpus.Score], half: str, speeds: dict[str, Speed] | None) -> list[str]:
    head = f"{'corpus':<22}" + "".join(f"{label:>18}" for _, label in COLUMNS)
    head += f"{'msg/s':>9}{'x parse':>9}" if speeds else ""
    lines = [head]
    for corpus in mailcorpus.NAMES:
        score = scores.get((corpus, half), mailcorpus.Score())
        line = f"{corpus:<22}" + "".join(f"{_cell(score, m):>18}" for m, _ in COLUMNS)
        if speeds:
            line += f"{speeds[corpus].rate:>9,.0f}{speeds[corpus].share:>9.2f}"
        lines.append(line)
    total = mailcorpus.total(scores, half)
    lines.append(f"{'all corpora':<22}" + "".join(f"{_cell(total, m):>18}" for m, _ in COLUMNS))
    return lines


def categories(samples: list[mailcorpus.Sample], halves: tuple[str, ...]) -> list[str]:
    """Issue 21's bounce categories (sisimai corpus): right on every field the label asserts."""
    scores = mailcorpus.category_scores(samples, classify_message)
    lines = [f"{'issue-21 category':<22}" + "".join(f"{h:>18}" for h in halves)]
    for category in mailcorpus.CATEGORIES:
        cells = [_cell(scores.get((category, h), mailcorpus.Score()), "right") for h in halves]
        lines.append(f"{category:<22}" + "".join(f"{c:>18}" for c in cells))
    return lines


def agreement(samples: list[mailcorpus.Sample], answers: dict[Path, SisimaiAnswer], half: str) -> str:
    """How often Sisimai and we give the same kind, hard flag and recipients on labelled bounces."""
    same = kind_same = total = 0
    for sample in samples:
        if sample.kind != "bounce" or (half != "both" and sample.half != half):
            continue
        ours, theirs = classify_message(sample.path.read_bytes()), answers[sample.path]
        total += 1
        kind_same += ours.kind == theirs.kind
        same += (ours.kind, ours.hard, set(ours.recipients)) == (theirs.kind, theirs.hard, set(theirs.recipients))
    return (f"agreement with Sisimai on {total} labelled bounces: same kind {kind_same / total:.0%}, "
            f"same kind, hard flag and recipients {same / total:.0%}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--half", choices=("checking", "tuning", "both"), default="checking")
    parser.add_argument("--repeat", type=int, default=3, help="speed runs; the best is reported")
    parser.add_argument("--sisimai", choices=("auto", "off"), default="auto")
    args = parser.parse_args()

    samples = mailcorpus.load()
    halves = mailcorpus.HALVES if args.half == "both" else (args.half,)
    scores = mailcorpus.score_all(samples, classify_message)
    speeds = {c: speed([s.path.read_bytes() for s in samples if s.corpus == c], args.repeat)
              for c in mailcorpus.NAMES}  # fmt: skip
    for half in halves:
        print(f"outreach on the {half} half (right/labelled):")
        print("\n".join(table(scores, half, speeds)))
        print()
    print("\n".join(categories(samples, halves)))
    second = mailcorpus.all_fields_scores([s for s in samples if s.corpus == "sisimai" and s.batch == 2],
                                          classify_message)  # fmt: skip
    cells = "".join(f"{_cell(second.get(h, mailcorpus.Score()), 'right'):>18}" for h in halves)
    print(f"{'sisimai second batch':<22}{cells}   (right on every labelled field)")
    print()
    stream = mixed_stream(samples)
    mixed = speed(stream, args.repeat, minimum=2000)
    print(f"mixed stream of {len(stream)} distinct messages: {mixed.rate:,.0f} messages/second classified "
          f"(single process), {mixed.share:.2f} x the speed of parsing alone ({mixed.parse_rate:,.0f}/s)")  # fmt: skip
    import intents as intent_bench  # bench/intents.py: the reply-intent section

    print()
    intent_bench.main(args.repeat)
    answers = sisimai_answers(samples) if args.sisimai == "auto" else None
    if answers is None:
        print("\nSisimai not measured (perl -MSisimai unavailable; apt-get install libsisimai-perl)")
        return
    theirs: dict[tuple[str, str], mailcorpus.Score] = {}
    for sample in samples:
        score = theirs.setdefault((sample.corpus, sample.half), mailcorpus.Score())
        mailcorpus.judge(sample, answers[sample.path], score)  # type: ignore[arg-type]
    for half in halves:
        print(f"\nSisimai {sisimai_version()} (libsisimai-perl) on the same {half} half, same rules:")
        print("\n".join(table(theirs, half, None)))
    print("\n" + agreement(samples, answers, args.half))


if __name__ == "__main__":
    main()
