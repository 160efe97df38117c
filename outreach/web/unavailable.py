"""The web side of a database outage: a plain 503 while it lasts, ``GET /healthz``, and one log line each way.

``outreach serve`` keeps serving while the database is away (storage/outage.py
says what counts as that): a request that needs it gets ``503`` with a short
plain-text page and ``Retry-After``, never a traceback or a 500, and works
again as soon as the database answers. The outage is logged once when the
first request meets it and once when the database work of a request goes
through again (``WebContext.run``), not per request (the access log has each
503).

``/healthz`` is for load balancers, container runtimes and uptime checks:
``200 ok`` while the database answers a ``SELECT 1`` within
``HEALTH_TIMEOUT`` seconds, else ``503``; plain text, no login, from
anywhere (it says nothing but that).
"""

from __future__ import annotations

import logging

import anyio
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from outreach.errors import DatabaseUnavailable
from outreach.storage.outage import Outage, is_outage, ping
from outreach.web.render import context

log = logging.getLogger("outreach.web")

HEALTH_TIMEOUT = 5.0  # seconds: a check that hangs is a failed check
RETRY_AFTER = "30"
KEY = "web"  # the web side's name in the process's Outage


def database_down(exc: BaseException) -> bool:
    return is_outage(exc) or isinstance(exc, DatabaseUnavailable)


def unavailable(outage: Outage, exc: BaseException) -> Response:
    """The answer to a request the database could not serve; the outage is noted (and logged once)."""
    outage.fail(KEY, exc)
    return PlainTextResponse("The database is not answering right now. Please try again in a minute.\n",
                             status_code=503, headers={"Retry-After": RETRY_AFTER})  # fmt: skip


async def healthz(request: Request) -> Response:
    ctx = context(request)
    answered = False
    with anyio.move_on_after(HEALTH_TIMEOUT):
        try:
            await ctx.run(ping, ctx.ws.engine)
            answered = True
        except Exception as exc:  # noqa: BLE001 - whatever the database says, it is not healthy
            if database_down(exc):
                ctx.outage.fail(KEY, exc)
            else:
                log.warning("health check: %s", exc)
    if not answered:
        return PlainTextResponse("database unavailable\n", status_code=503, headers={"Retry-After": RETRY_AFTER})
    ctx.outage.ok(KEY)
    return PlainTextResponse("ok\n")
