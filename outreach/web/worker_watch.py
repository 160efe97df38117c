"""Is a worker alive? Read every few seconds in the background, so every page can say it for free.

Each page of the app shows whether an ``outreach worker`` is alive and when its
last pass was (``base.html``). Reading the heartbeats per page would put a
database read on every request; instead one task per ``outreach serve``
process reads them every ``EVERY`` seconds, off the event loop, and pages
show the last reading. A reading that fails (the database is away) keeps the
last one and tries again; it never fails a page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outreach.operations.heartbeat import WorkerStatus
from outreach.web.auth import requires
from outreach.web.render import page
from outreach.workspace import Workspace

log = logging.getLogger("outreach.web")


class WorkerWatch:
    EVERY = 2.0  # seconds

    def __init__(self, ws: Workspace, run: Callable[..., Awaitable[Any]]) -> None:
        self.ws, self.run = ws, run
        self.status: WorkerStatus | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def refresh(self) -> None:
        try:
            self.status = await self.run(self.ws.worker_status)
        except Exception as exc:  # noqa: BLE001 - a page must never fail because this reading did
            log.debug("worker status not read: %s", exc)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.EVERY)
            await self.refresh()


@requires("executive", "writer", "caller", "admin")
async def fragment(request: Request) -> Response:
    """The banner alone, which every page polls (no database read: the last reading)."""
    return page(request, "_worker.html")


def routes() -> list[BaseRoute]:
    return [Route("/fragments/worker", fragment, methods=["GET"])]
