"""What every API request passes before any endpoint: a valid token, its rate limit, the body limit.

An ASGI middleware around the API rather than a FastAPI dependency, so the
order is fixed whatever the request is: without a valid token the answer is
401 before its body is read or validated; then 429 when the token's bucket
is empty; then 413 for a body over the limit (read at most one byte past it,
never into memory whole). Only the OpenAPI document is public.

Rate limit: a token bucket per token (``api.rate`` per second, ``api.burst``
at once), in this process (``outreach serve`` is one process; a restart
refills the buckets, which only forgives a burst).
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outreach.accounts.tokens import Bearer
from outreach.web.api.problems import problem

MAX_BODY = 1024 * 1024
PUBLIC = frozenset({"/openapi.json"})
CHALLENGE = 'Bearer realm="outreach"'


@dataclass
class TokenBuckets:
    """``burst`` requests at once per key, refilled at ``rate`` per second; ``clock`` for tests."""

    rate: float
    burst: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[int, tuple[float, float]] = field(default_factory=dict)

    def take(self, key: int) -> float:
        """0 when the request may go ahead (one token taken), else the seconds until one is there."""
        now = self.clock()
        tokens, last = self._buckets.get(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1 - tokens) / self.rate


Authenticate = Callable[[str], Awaitable[Bearer | None]]


class ApiGate:
    def __init__(self, app: ASGIApp, *, authenticate: Authenticate, buckets: TokenBuckets,
                 max_body: int = MAX_BODY) -> None:  # fmt: skip
        self.app, self.authenticate, self.buckets, self.max_body = app, authenticate, buckets, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or _route_path(scope) in PUBLIC:
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope["headers"]}
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").strip().partition(" ")
        bearer = await self.authenticate(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if bearer is None:
            detail = ("a valid API token is required: Authorization: Bearer TOKEN (`outreach users token NAME` "
                      "makes one)")  # fmt: skip
            await problem(401, detail, {"WWW-Authenticate": CHALLENGE})(scope, receive, send)
            return
        wait = self.buckets.take(bearer.token_id)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            await problem(429, f"this token's rate limit is reached; try again in {seconds} s",
                          {"Retry-After": str(seconds)})(scope, receive, send)  # fmt: skip
            return
        scope.setdefault("state", {})["bearer"] = bearer
        await self._with_body_limit(scope, receive, send, headers)

    async def _with_body_limit(self, scope: Scope, receive: Receive, send: Send,
                               headers: dict[bytes, bytes]) -> None:  # fmt: skip
        length = headers.get(b"content-length", b"").strip()
        if length and (not length.isdigit() or int(length) > self.max_body):
            await self._too_large(scope, receive, send)
            return
        if not length and b"chunked" not in headers.get(b"transfer-encoding", b"").lower():
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: nothing to answer
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        await problem(413, f"the request body is over {self.max_body // 1024} KiB; send fewer items at a time",
                      {"Connection": "close"})(scope, receive, send)  # fmt: skip


def _route_path(scope: Scope) -> str:
    path, root = scope.get("path", ""), scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read once, handed over again; after it, whatever the server says next (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
