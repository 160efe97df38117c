"""Reply intents: precision and recall per intent, the safe-side targets, and replies per second.

    python bench/intents.py [--repeat 3]      (also printed at the end of bench/track.py)

On the CHECKING half of tests/data/intents (the colleague's labelled replies; see its README),
then on the tuning half and our own extra replies, labelled as what they are: the reader was
tuned on those, so their figures are not a measure. Targets on the checking half: opt-out
recall 100%, and 0 interested/meeting/question replies suppressed (read as opt_out, referral
or left_company). Speed: the best of ``--repeat`` runs of trim + intent over every reply,
single process, with the ratio to trimming alone measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from outreach.tracking.intents import INTENTS, intent  # noqa: E402
from outreach.tracking.replies import trim_reply  # noqa: E402

DATA = ROOT / "tests" / "data" / "intents"
SETS = (
    ("checking.jsonl", "CHECKING half (run once blind; general fixes after it: see docs/replies.md)"),
    ("tuning.jsonl", "tuning half (tuned on: reference only)"),
    ("own.jsonl", "our own extra replies (tuned on: reference only)"),
)
POSITIVE, SUPPRESSING = ("interested", "meeting", "question"), ("opt_out", "referral", "left_company")


def _rows(name: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def report(name: str, label: str) -> list[str]:
    rows = _rows(name)
    pairs = [(r["intent"], intent(trim_reply(r["body"]), r["subject"])) for r in rows]
    confusion = Counter((want, got.name) for want, got in pairs)
    out = [f"Reply intents on the {label}: {len(rows)} replies",
           f"  {'intent':<16}{'precision':>10}{'recall':>8}{'n':>5}"]  # fmt: skip
    for name_ in INTENTS:
        tp = confusion[(name_, name_)]
        fp = sum(n for (w, g), n in confusion.items() if g == name_ and w != name_)
        fn = sum(n for (w, g), n in confusion.items() if w == name_ and g != name_)
        p = f"{tp / (tp + fp):.1%}" if tp + fp else "-"
        r = f"{tp / (tp + fn):.1%}" if tp + fn else "-"
        out.append(f"  {name_:<16}{p:>10}{r:>8}{tp + fn:>5}")
    opt = [got.name == "opt_out" for want, got in pairs if want == "opt_out"]
    suppressed = sum(1 for want, got in pairs if want in POSITIVE and got.name in SUPPRESSING)
    flagged = sum(1 for _, got in pairs if got.unsure)
    right = sum(confusion[(n, n)] for n in INTENTS)
    out.append(f"  accuracy {right / len(rows):.1%}; opt-out recall {sum(opt)}/{len(opt)} (target: all); "
               f"interested/meeting/question replies suppressed: {suppressed} (target: 0); flagged for review: "
               f"{flagged}")  # fmt: skip
    return out


def rate(repeat: int) -> str:
    bodies = [(r["body"], r["subject"]) for name, _ in SETS for r in _rows(name)]
    stream = bodies * max(1, 2000 // len(bodies))

    def best(work: object) -> float:
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            for body, subject in stream:
                work(body, subject)  # type: ignore[operator]
            runs.append(len(stream) / (time.perf_counter() - start))
        return max(runs)

    trimmed = best(lambda b, s: trim_reply(b))
    full = best(lambda b, s: intent(trim_reply(b), s))
    return (f"Reply intents: {full:,.0f} replies/second read (trim + intent, single process), "
            f"{full / trimmed:.2f} x the speed of trimming alone ({trimmed:,.0f}/s)")


def main(repeat: int = 3) -> None:
    for name, label in SETS:
        print("\n".join(report(name, label)))
        print()
    print(rate(repeat))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    main(parser.parse_args().repeat)
