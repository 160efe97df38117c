"""The real-mail corpora under tests/data, their labels, the tuning/checking split and the scores.

One home for what ``tests/test_classify_corpus.py`` asserts and ``bench/track.py``
prints, so both measure exactly the same thing.

* Every corpus is split in two by a hash of "corpus/file": the *tuning* half is
  what the classifier may be developed against, the *checking* half is what is
  reported. The split never depends on the classifier.
* Labels come from each upstream project's own tests (see each folder's
  README). Where a label contradicts the rules of tracker issue 10 (suspended
  or disabled mailboxes are soft, ``Action: failed`` is a bounce and
  ``Action: delayed`` is not, an opt-out report is an unsubscribe), the issue's
  rule wins: ``corpora/overrides.json`` lists each such disagreement with the
  reason, decided by reading the message, never by what the classifier says.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).parent / "data"
CORPORA = DATA / "corpora"
FLUFL = DATA / "bounces"
# The corpora in reporting order; flufl_bounce lives in tests/data/bounces for history's sake.
NAMES = ("flufl_bounce", "bounceparser_perl", "flanker", "mailbouncedetector_cs", "ruby_mail_gem",
         "email_arf_perl", "froide", "sisimai")  # fmt: skip
# Tracker issue 21's categories, as labelled in sisimai/expected.json ("category").
CATEGORIES = ("gave_up", "dead_domain", "gateway", "several_recipients")
HALVES = ("tuning", "checking")


@dataclass(frozen=True)
class Sample:
    """One labelled message: what upstream (or an override) says it is."""

    corpus: str
    name: str
    path: Path
    kind: str
    hard: bool | None
    recipients: frozenset[str] | None  # None: upstream asserts nothing about them
    reason: str | None = None  # our reason, where the label asserts one
    status: str | None = None  # the enhanced status code, where the label asserts one
    category: str | None = None  # the issue-21 category the message tests (sisimai corpus)
    failures: tuple[tuple[str, str, bool], ...] = ()  # (address, reason, hard) per recipient, where labelled
    batch: int = 1  # sisimai corpus: 1 = gathered with the issue-21 rules, 2 = the broader second batch

    @property
    def half(self) -> str:
        return half_of(self.corpus, self.name)


def half_of(corpus: str, name: str) -> str:
    """"tuning" or "checking", from a hash of the corpus and file name alone."""
    digest = hashlib.sha256(f"{corpus}/{name}".encode()).digest()
    return HALVES[digest[0] & 1]


def _overrides() -> dict[str, dict[str, object]]:
    data = json.loads((CORPORA / "overrides.json").read_text())
    return {key: value for key, value in data.items() if not key.startswith("_")}


def _addresses(values: Iterable[str] | None) -> frozenset[str] | None:
    return None if values is None else frozenset(str(v).lower() for v in values)


def _flufl() -> list[Sample]:
    """flufl.bounce's labels are failed addresses, permanent and temporary.

    Permanent ones make a bounce; only temporary ones make a delay notice
    (kind "other"); none at all is a bounce whose address upstream could not
    recover, unless upstream's note says it is no bounce. No hard/soft labels.
    """
    entries = json.loads((FLUFL / "expected.json").read_text())["messages"]
    samples = []
    for name, entry in sorted(entries.items()):
        permanent, temporary = entry["permanent"], entry["temporary"]
        if permanent:
            kind, rcpts = "bounce", _addresses(permanent + temporary)
        elif temporary:
            kind, rcpts = "other", _addresses(temporary)
        else:
            kind = "other" if "NOT a bounce" in str(entry.get("note", "")) else "bounce"
            rcpts = None
        samples.append(Sample("flufl_bounce", name, FLUFL / "messages" / name, kind, None, rcpts))
    return samples


def _shared(corpus: str, overrides: dict[str, dict[str, object]]) -> list[Sample]:
    entries = json.loads((CORPORA / corpus / "expected.json").read_text())["messages"]
    samples = []
    for key, entry in sorted(entries.items()):
        name = key.removeprefix("messages/")
        entry = {**entry, **overrides.get(f"{corpus}/{name}", {})}
        rcpts = entry.get("recipients")
        per = tuple((str(a).lower(), str(f["reason"]), bool(f["hard"]))
                    for a, f in sorted(dict(entry.get("failures") or {}).items()))  # type: ignore[call-overload]  # fmt: skip
        samples.append(Sample(corpus, name, CORPORA / corpus / key, str(entry["kind"]),
                              entry.get("hard"), _addresses(rcpts) if rcpts else None,  # type: ignore[arg-type]
                              entry.get("reason"), entry.get("status"), entry.get("category"), per,  # type: ignore[arg-type]
                              int(entry.get("round", 1))))  # type: ignore[call-overload]  # fmt: skip
    return samples


def load() -> list[Sample]:
    """Every labelled sample of every corpus."""
    overrides = _overrides()
    samples = _flufl()
    for corpus in NAMES[1:]:
        samples += _shared(corpus, overrides)
    return samples


# --------------------------------------------------------------------------- scores


@dataclass
class Score:
    """Right/total per measure for one corpus half; ``misses`` names the wrong files."""

    right: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)
    misses: dict[str, list[str]] = field(default_factory=dict)

    def add(self, measure: str, ok: bool, name: str) -> None:
        self.total[measure] = self.total.get(measure, 0) + 1
        self.right[measure] = self.right.get(measure, 0) + int(ok)
        if not ok:
            self.misses.setdefault(measure, []).append(name)

    def share(self, measure: str) -> float | None:
        total = self.total.get(measure, 0)
        return self.right.get(measure, 0) / total if total else None

    def merge(self, other: Score) -> None:
        for measure, total in other.total.items():
            self.total[measure] = self.total.get(measure, 0) + total
            self.right[measure] = self.right.get(measure, 0) + other.right.get(measure, 0)
            self.misses.setdefault(measure, []).extend(other.misses.get(measure, []))


MEASURES = ("bounces", "recipients", "hard_soft", "complaints", "auto_replies", "not_bounces", "per_recipient")
WANTED_KIND = {"complaint": "complaints", "auto_reply": "auto_replies", "unsubscribe": "complaints"}


class Result:
    """The fields of a classification the scores look at (kind, hard, recipients; reason, status
    and the per-recipient failures where the label asserts them)."""

    kind: str
    hard: bool
    recipients: tuple[str, ...]


def judge(sample: Sample, result: Result, score: Score) -> None:
    """Add one sample's outcome to ``score``.

    bounces: a labelled bounce is classified as one; recipients: and names
    exactly the labelled addresses; hard_soft: and its hard flag is the label's;
    per_recipient: and each labelled recipient has its own labelled reason and hard flag;
    complaints / auto_replies: the labelled kind is found (an opt-out report is
    labelled unsubscribe); not_bounces: what is labelled anything else is not
    called a bounce (delay notices, replies, read receipts, spam).
    """
    name = sample.name
    if sample.kind == "bounce":
        found = result.kind == "bounce"
        score.add("bounces", found, name)
        if sample.recipients:
            score.add("recipients", found and set(result.recipients) == sample.recipients, name)
        if sample.hard is not None:
            score.add("hard_soft", found and result.hard == sample.hard, name)
        if sample.failures:
            score.add("per_recipient", found and per_recipient(result) == set(sample.failures), name)
        return
    if sample.kind in WANTED_KIND:
        score.add(WANTED_KIND[sample.kind], result.kind == sample.kind, name)
    score.add("not_bounces", result.kind != "bounce", name)


def score_all(samples: list[Sample], classify: Callable[[bytes], Result]) -> dict[tuple[str, str], Score]:
    """Scores keyed by (corpus, half)."""
    scores: dict[tuple[str, str], Score] = {}
    for sample in samples:
        score = scores.setdefault((sample.corpus, sample.half), Score())
        judge(sample, classify(sample.path.read_bytes()), score)
    return scores


def total(scores: dict[tuple[str, str], Score], half: str) -> Score:
    merged = Score()
    for (_corpus, h), score in scores.items():
        if h == half:
            merged.merge(score)
    return merged


def per_recipient(result: object) -> set[tuple[str, str, bool]]:
    """(address, reason, hard) of each failed recipient of a classification."""
    return {(f.address, f.reason, f.hard) for f in getattr(result, "failures", ()) if f.action == "failed"}


def category_right(sample: Sample, result: object) -> bool:
    """Whether ``result`` is right on everything the label asserts: kind, hard/soft, reason,
    status and the per-recipient failures."""
    checks = [getattr(result, "kind", None) == sample.kind]
    if sample.kind == "bounce":
        if sample.hard is not None:
            checks.append(getattr(result, "hard", None) == sample.hard)
        if sample.reason is not None:
            checks.append(getattr(result, "reason", None) == sample.reason)
        if sample.status is not None:
            checks.append(getattr(result, "status", None) == sample.status)
        if sample.failures:
            checks.append(per_recipient(result) == set(sample.failures))
    return all(checks)


def all_fields_scores(samples: list[Sample], classify: Callable[[bytes], object]) -> dict[str, Score]:
    """Right/total per half: samples right on every field their label asserts (kind, hard/soft,
    reason, status, each recipient, and the recipients of a bounce)."""
    scores: dict[str, Score] = {}
    for sample in samples:
        result = classify(sample.path.read_bytes())
        ok = category_right(sample, result)
        if ok and sample.kind == "bounce" and sample.recipients:
            ok = set(getattr(result, "recipients", ())) == sample.recipients
        scores.setdefault(sample.half, Score()).add("right", ok, sample.name)
    return scores


def category_scores(samples: list[Sample], classify: Callable[[bytes], object]) -> dict[tuple[str, str], Score]:
    """Right/total per (category, half): labelled issue-21 samples right on every asserted field."""
    scores: dict[tuple[str, str], Score] = {}
    for sample in samples:
        if sample.category is None:
            continue
        score = scores.setdefault((sample.category, sample.half), Score())
        score.add("right", category_right(sample, classify(sample.path.read_bytes())), sample.name)
    return scores
