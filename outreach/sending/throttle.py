"""Token buckets: a steady rate with a small burst, on an injectable clock.

Sleeping N seconds after every N messages makes bursts the relay sees as
abuse; a bucket spreads messages evenly and still lets a connection that was
idle catch up by ``burst`` messages.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    def __init__(self, rate: float, burst: float | None = None, clock: Clock = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:  # fmt: skip
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.capacity = max(1.0, burst if burst is not None else min(rate, 10.0))
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.updated = clock()
        self.slowdown = 1.0  # >1 while the relay asks us to back off

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate / self.slowdown)
        self.updated = now

    def reserve(self) -> float:
        """Take one token; return how long the caller must wait before using it."""
        self._refill()
        self.tokens -= 1.0
        if self.tokens >= 0:
            return 0.0
        return -self.tokens * self.slowdown / self.rate

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await self.sleep(wait)

    def slow_down(self, factor: float = 2.0, limit: float = 16.0) -> None:
        self._refill()
        self.slowdown = min(self.slowdown * factor, limit)

    def recover(self, step: float = 0.9) -> None:
        if self.slowdown > 1.0:
            self._refill()
            self.slowdown = max(1.0, self.slowdown * step)
