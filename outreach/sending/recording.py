"""The engine's bookkeeping: grouped commits of outcomes, the failure health check, backoff.

Kept apart from the pipeline itself so each can be read (and tested) on its own.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from outreach.storage import outbox, transaction


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with ±20% jitter, so retries of a burst do not stampede."""
    return min(cap, base * (2 ** max(attempt - 1, 0))) * rng.uniform(0.8, 1.2)


class Committer:
    """Writes outcomes in groups: one transaction per tick for whatever arrived."""

    def __init__(self, engine: Engine, worker: str, now: Callable[[], datetime], tick: float = 0.02) -> None:
        self.engine, self.worker, self.now, self.tick = engine, worker, now, tick
        self.pending: list[outbox.Result] = []

    def add(self, result: outbox.Result) -> None:
        self.pending.append(result)

    def flush(self) -> None:
        results, self.pending = self.pending, []
        self._write(results)

    def _write(self, results: list[outbox.Result]) -> None:
        if results:
            with transaction(self.engine) as session:
                outbox.record(session, results, self.worker, self.now())

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            self.flush()


class Health:
    """Auto-pause: too many permanent failures or connection errors among recent attempts.

    Bounces that come back later and blame the sender (spam, blocked, policy,
    authentication: see ``tracking/reasons.py``) turn attempts that looked sent
    into failed ones, oldest first, via ``add_late``.
    """

    def __init__(self, window: int, rate: float, minimum: int) -> None:
        self.recent: deque[bool] = deque(maxlen=window)
        self.rate, self.minimum = rate, minimum

    def add(self, bad: bool) -> str | None:
        self.recent.append(bad)
        return self.verdict()

    def add_late(self, count: int) -> str | None:
        """``count`` earlier attempts bounced afterwards for the sender's reasons."""
        for index, bad in enumerate(self.recent):
            if count <= 0:
                break
            if not bad:
                self.recent[index] = True
                count -= 1
        return self.verdict()

    def verdict(self) -> str | None:
        bad_n = sum(self.recent)
        if len(self.recent) >= self.minimum and bad_n / len(self.recent) > self.rate:
            return f"{bad_n} of the last {len(self.recent)} attempts failed ({bad_n / len(self.recent):.0%})"
        return None
