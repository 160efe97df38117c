"""Child interpreters that parse an import's rows while the importer reads and writes.

Parsing a row (email-validator, phonenumbers: pure Python) is most of an
import's work; the importer's own process reads the file and writes to the
database. Each child is ``python -c "...serve()"``: it reads pickled batches of
rows on its stdin and writes each batch's outcomes, in order, on its stdout.
A feeder thread per child writes the batches, so a full pipe never blocks the
importer while a child waits for it to read.

Not ``multiprocessing``: a spawned child runs the parent's main script again
(a user's script without an ``if __name__ == "__main__"`` guard would run
twice), and a forked one copies a process holding database connections and
threads. These children start clean, import only the importer, ignore Ctrl-C
(the importer stops them and rolls back) and die with their stdin.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import outreach

_SERVE = "from outreach.audience.workers import serve; serve()"


class WorkerError(RuntimeError):
    """A child stopped without answering (killed, out of memory); the import is rolled back."""


class Workers:
    """``n`` children running ``parse_rows(plan, options, batch)``; batches handed out in turn."""

    def __init__(self, n: int, plan: Any, options: Any) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(Path(outreach.__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}  # fmt: skip
        self._procs: list[subprocess.Popen[bytes]] = []
        self._queues: list[queue.SimpleQueue[Any]] = []
        self._turn = 0
        for _ in range(n):
            proc = subprocess.Popen([sys.executable, "-c", _SERVE], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    env=env)  # fmt: skip
            feed: queue.SimpleQueue[Any] = queue.SimpleQueue()
            threading.Thread(target=_feed, args=(proc.stdin, feed), daemon=True, name="import-feed").start()
            feed.put((plan, options))
            self._procs.append(proc)
            self._queues.append(feed)

    def submit(self, batch: Any) -> Callable[[], Any]:
        """Send a batch to the next child; returns how to wait for its outcomes. Outcomes of one child
        come in the order its batches went, so wait in the order of submitting."""
        turn = self._turn
        self._turn = (turn + 1) % len(self._procs)
        self._queues[turn].put(batch)
        return lambda: self._answer(turn)

    def _answer(self, turn: int) -> Any:
        proc = self._procs[turn]
        assert proc.stdout is not None
        try:
            ok, value = pickle.load(proc.stdout)
        except EOFError:
            raise WorkerError(f"a process parsing the rows stopped (exit code {proc.wait()})") from None
        if not ok:
            raise value
        return value

    def close(self) -> None:
        """Stop the children: at once, whatever they are doing (after the last answer they are idle)."""
        for feed in self._queues:
            feed.put(None)
        for proc in self._procs:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _feed(pipe: IO[bytes], batches: queue.SimpleQueue[Any]) -> None:
    try:
        while (batch := batches.get()) is not None:
            pickle.dump(batch, pipe, pickle.HIGHEST_PROTOCOL)
            pipe.flush()
    except OSError:  # the child is gone; its reader says so
        pass
    finally:
        with contextlib.suppress(OSError):
            pipe.close()


def serve() -> None:
    """The child: parse each batch from stdin, answer (True, outcomes) or (False, the exception)."""
    from outreach.audience.importer import parse_rows

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin, stdout = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to stderr, not into the answers
    sys.stdout = sys.stderr
    plan, options = pickle.load(stdin)
    while True:
        try:
            batch = pickle.load(stdin)
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, parse_rows(plan, options, batch))
        except Exception as exc:  # noqa: BLE001 - a bug in parsing: raised again in the importer
            answer = (False, exc)
        pickle.dump(answer, stdout, pickle.HIGHEST_PROTOCOL)
        stdout.flush()
