"""``POST /hooks/SERVICE``: the email services' event hooks (``ses``, ``mailgun``, ``sendgrid``, ``postmark``).

Thin on purpose: the route reads the body (at most ``email_events.max_body``,
413 beyond, before the service's check even runs), hands it and the headers
to the core (``tracking/esp/hooks.py``, made by ``Workspace.email_hooks``) in
a worker thread, and answers the core's status and JSON. A service not
configured in outreach.yaml answers 404 without its body being read.

The one thing the core must not do itself is reach the internet (its tests
give it a fake): ``fetch_https`` here is the real GET of an SNS address — a
signing certificate or a subscription confirmation — over TLS verified
against the system's CAs, following no redirect (a redirect could leave the
SNS host the core checked), with a timeout and a size cap.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from outreach.tracking.esp.hooks import Hooks
from outreach.tracking.esp.ses import FetchRefused
from outreach.web.render import context

FETCH_TIMEOUT = 10.0
MAX_FETCH = 256 * 1024


def routes() -> list[BaseRoute]:
    return [Route("/hooks/{service}", receive, methods=["POST"])]


async def receive(request: Request) -> Response:
    hooks: Hooks = request.app.state.hooks
    service = str(request.path_params["service"])
    if service not in hooks.services:
        return JSONResponse({"error": "no such email service is configured (email_events)"}, status_code=404)
    body = await _body(request, hooks.max_body)
    if body is None:
        return JSONResponse({"error": f"the body is larger than {hooks.max_body} bytes"}, status_code=413)
    answer = await context(request).run(hooks.receive, service, body, dict(request.headers))
    return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


async def _body(request: Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to be larger than ``limit``."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        return None
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > limit:
            return None
    return bytes(received)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError for the 3xx


def fetch_https(url: str) -> bytes:
    """GET ``url`` (https only); ses.FetchRefused when the server answers that there is nothing there."""
    if not url.startswith("https://"):
        raise FetchRefused("https only")
    tls = urllib.request.HTTPSHandler(context=ssl.create_default_context())
    opener = urllib.request.build_opener(_NoRedirect(), tls)
    request = urllib.request.Request(url, headers={"User-Agent": "outreach"})
    try:
        with opener.open(request, timeout=FETCH_TIMEOUT) as reply:
            data: bytes = reply.read(MAX_FETCH + 1)
    except urllib.error.HTTPError as exc:
        if exc.code < 500:
            raise FetchRefused(f"HTTP {exc.code}") from None
        raise
    if len(data) > MAX_FETCH:
        raise FetchRefused("larger than a certificate")
    return data
