"""`content lint --spam`: what SpamAssassin says about the message as recipients would get it.

A phrase list guesses; SpamAssassin scores the real thing: headers, the
HTML-to-text ratio, the links, the MIME structure, hundreds of body rules.
The rendered messages of a few recipients per content file (each language,
each step) go to one ``spamassassin`` process as an mbox: it takes a second
or two to load its rules, so it is started once per lint, never per message.

Local tests only (``-L``: no DNS blocklists, Razor, Pyzor or other network
checks, so the score does not depend on the sending IP or the day), no Bayes
and no auto-learning (a learnt database would make the score depend on the
machine), and no user preferences (``-p`` an empty file, ``HOME`` a fresh
folder): the site rules and the distribution's, nothing else. Debian's
package is ``spamassassin``; without it the phrase list stays as a hint.
"""

from __future__ import annotations

import email.parser
import email.policy
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from outreach.errors import InputError

SEPARATOR = b"From outreach-lint@localhost Thu Jan  1 00:00:00 1970\n"
TIMEOUT = 300.0  # seconds for the whole batch: loading the rules is slow on a busy machine
_RULE = re.compile(r"^\s*\*\s+(-?\d+(?:\.\d+)?)\s+(\S+)\s+(.*)$")
_MORE = re.compile(r"^\s*\*\s+(\S.*)$")


@dataclass(frozen=True)
class Rule:
    name: str
    score: float
    description: str


@dataclass(frozen=True)
class Verdict:
    """SpamAssassin's answer for one message."""

    score: float
    rules: tuple[Rule, ...] = field(default_factory=tuple)


def spamassassin() -> str | None:
    """The ``spamassassin`` program on the PATH, when installed."""
    return shutil.which("spamassassin")


def settings(threshold: float) -> list[str]:
    """``--cf`` lines: local, deterministic, and headers that carry each rule's score and description."""
    return [
        "use_bayes 0", "bayes_auto_learn 0", "skip_rbl_checks 1", "dns_available no",
        "report_safe 0", f"required_score {threshold}",
        "clear_headers", "add_header all Score _SCORE_", "add_header all Tests _TESTSSCORES(,)_",
        "add_header all Report _REPORT_",
    ]  # fmt: skip


def score(messages: Sequence[tuple[str, bytes]], threshold: float, program: str | None = None) -> dict[str, Verdict]:
    """``{message_id: Verdict}`` for ``(message_id, raw bytes)`` pairs, all in one SpamAssassin run."""
    program = program or spamassassin()
    if program is None:
        raise InputError("SpamAssassin is not installed (Debian: apt-get install spamassassin)")
    if not messages:
        return {}
    with tempfile.TemporaryDirectory(prefix="outreach-spam-") as tmp:
        folder = Path(tmp)
        (folder / "user_prefs").write_text("", encoding="ascii")
        mbox = folder / "messages.mbox"
        mbox.write_bytes(b"".join(SEPARATOR + _mbox_body(data) + b"\n" for _, data in messages))
        args = [program, "-L", "-x", "-p", str(folder / "user_prefs"), "--mbox"]
        args += [f"--cf={line}" for line in settings(threshold)] + [str(mbox)]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(folder), "LANG": "C.UTF-8"}
        try:
            done = subprocess.run(args, capture_output=True, timeout=TIMEOUT, env=env, check=False)
        except subprocess.TimeoutExpired:
            raise InputError(f"SpamAssassin did not answer within {TIMEOUT:.0f} s") from None
    if done.returncode != 0 or not done.stdout:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"SpamAssassin failed (exit {done.returncode}): {why[-1] if why else 'no output'}")
    return parse(done.stdout)


def _mbox_body(data: bytes) -> bytes:
    """One message in mboxrd form: LF line ends, a body line starting ``From `` quoted with ``>``."""
    text = data.replace(b"\r\n", b"\n")
    return re.sub(rb"(?m)^(>*From )", rb">\1", text)


def parse(output: bytes) -> dict[str, Verdict]:
    """The headers SpamAssassin added to each message of the mbox, by Message-ID."""
    found: dict[str, Verdict] = {}
    for chunk in output.split(SEPARATOR):
        if not chunk.strip():
            continue
        head = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(chunk)
        message_id = str(head.get("Message-ID", "")).strip().strip("<>")
        raw_score = str(head.get("X-Spam-Score", "")).strip()
        if not message_id or not raw_score:
            continue
        found[message_id] = Verdict(float(raw_score), _rules(str(head.get("X-Spam-Tests", "")),
                                                             str(head.get("X-Spam-Report", ""))))  # fmt: skip
    return found


def _rules(tests: str, report: str) -> tuple[Rule, ...]:
    """Each rule hit with its score (``X-Spam-Tests``) and description (``X-Spam-Report``), highest first."""
    descriptions: dict[str, str] = {}
    last = None
    for line in report.splitlines():
        m = _RULE.match(line)
        if m:
            last = m.group(2)
            descriptions[last] = m.group(3).strip()
            continue
        more = _MORE.match(line)
        if more and last:
            descriptions[last] += " " + more.group(1).strip()
    rules = []
    for item in "".join(tests.split()).split(","):
        name, _, value = item.partition("=")
        if name and name != "none":
            try:
                points = float(value)
            except ValueError:
                continue
            rules.append(Rule(name, points, descriptions.get(name, "")))
    return tuple(sorted(rules, key=lambda r: (-r.score, r.name)))
