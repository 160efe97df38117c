"""``GET /metrics``: Prometheus' text format, for loopback and trusted proxies, or for a bearer token.

Who may scrape:

* with no token configured (``web.metrics_token_env`` names an unset variable,
  the default), the client must be loopback or one of ``web.trusted_proxies``,
  and so must every address a forwarding header names. The second half matters
  behind a proxy on the same host that nobody listed as trusted: the peer is
  then 127.0.0.1 for the whole internet, and only the proxy's
  ``X-Forwarded-For`` tells who is really asking. Anyone else gets 403.
* with a token, ``Authorization: Bearer TOKEN`` from anywhere, and without it
  401, from loopback too: one rule, nothing to reason about behind a proxy.

The numbers come from the database at each scrape (operations/metrics.py), in a
worker thread; a database that does not answer is a 503 (Prometheus records the
scrape as failed), never a 500.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Iterator, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from outreach.settings.config import Web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_FOR = re.compile(r"""(?:^|[;,\s])for\s*=\s*("[^"]*"|[^;,\s]*)""", re.I)
NO_STORE = {"Cache-Control": "no-store"}


async def metrics(request: Request) -> Response:
    web = request.app.state.web
    refused = refusal(request, web.ws.config.settings.web)
    if refused is not None:
        return refused
    try:
        body = await web.run(generate_latest, request.app.state.metrics)
    except DBAPIError:
        return PlainTextResponse("the database does not answer; try again\n", status_code=503,
                                 headers={**NO_STORE, "Retry-After": "10"})  # fmt: skip
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


def refusal(request: Request, web: Web) -> Response | None:
    """The 401 or 403 for a client that may not read the metrics; None for one that may."""
    token = web.metrics_token()
    if token is not None:
        given = bearer(request.headers.get("authorization", ""))
        if given is not None and hmac.compare_digest(given, token.encode("utf-8")):
            return None
        return PlainTextResponse("a valid bearer token is required\n", status_code=401,
                                 headers={**NO_STORE, "WWW-Authenticate": 'Bearer realm="outreach metrics"'})
    networks = trusted_networks(web.trusted_proxies)
    asking = [request.client.host if request.client else "", *forwarded_for(request)]
    if all(is_local(address, networks) for address in asking):
        return None
    return PlainTextResponse("metrics are served to loopback and web.trusted_proxies only, "
                             "or with the bearer token of web.metrics_token_env\n", status_code=403,
                             headers=NO_STORE)  # fmt: skip


def bearer(header: str) -> bytes | None:
    """The token of ``Authorization: Bearer TOKEN`` as the bytes sent (Starlette decodes headers as latin-1)."""
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token.encode("latin-1", errors="replace")


def forwarded_for(request: Request) -> Iterator[str]:
    """Every client address a forwarding header names (X-Forwarded-For, X-Real-IP, Forwarded's for=)."""
    for name, value in request.headers.items():
        if name in ("x-forwarded-for", "x-real-ip"):
            yield from (part.strip() for part in value.split(","))
        elif name == "forwarded":
            found = _FOR.findall(value)
            yield from (part.strip('"') for part in found) if found else ("",)  # a Forwarded without for=: unknown


def trusted_networks(entries: Sequence[str]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)  # validated at load


def is_local(address: str, networks: Sequence[Network]) -> bool:
    """Loopback, or inside a trusted proxy's network. Anything unparsable (``unknown``, a name, junk) is not."""
    host = address.strip()
    if host.startswith("["):  # [v6]:port
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:  # v4:port
        host = host.partition(":")[0]
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or any(ip in network for network in networks)
