"""``/app/webhooks``: the executives' view of the webhook receivers, as ``outreach webhooks status`` shows them.

A simple table: each receiver's backlog, failing deliveries, dead letters and
its last error, so a CRM that stopped taking events is seen in the app and not
only in the worker's log. Read only: the worker delivers; ``outreach webhooks
redeliver`` queues dead letters again.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outreach.web.auth import requires
from outreach.web.render import context, page


@requires("executive")
async def receivers(request: Request) -> Response:
    found = await context(request).run(context(request).ws.webhook_status)
    return page(request, "executive/webhooks.html", receivers=found)


def routes() -> list[BaseRoute]:
    return [Route("/webhooks", receivers, methods=["GET"])]
