"""One webhook POST: the body, its signature, and the request under one overall timeout.

The request is HTTP/1.1 written and read by h11 on an asyncio connection, the
whole of it (DNS, connect, TLS, sending, the answer's status line) under one
``asyncio.timeout``: a receiver that accepts the connection and then says
nothing, or trickles its answer, costs at most ``timeout`` seconds, and
cancelling it (the worker stopping) closes the connection at once. Nothing
blocks the event loop the sending engine runs on. Redirects are not
followed (a 3xx is a failed delivery: the URL in outreach.yaml is to be fixed).

``X-Outreach-Signature: sha256=HEX`` is the HMAC-SHA256 of the raw body under
the receiver's secret; a receiver computes it over the bytes it got and
compares in constant time (docs/api.md shows how), then dedupes by ``id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import ssl
from typing import Any
from urllib.parse import urlsplit

import h11

from outreach import __version__
from outreach.webhooks.deliveries import Attempt

SIGNATURE = "X-Outreach-Signature"
READ = 64 * 1024


def body(event: dict[str, Any]) -> bytes:
    """The POSTed JSON: the feed's event (``id``, ``type``, ``at``, ``data``, and ``contact``, ``campaign``)."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signature(secret: bytes, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()


async def post(url: str, raw: bytes, headers: dict[str, str], timeout: float,
               context: ssl.SSLContext | None = None) -> Attempt:  # fmt: skip
    """POST ``raw`` to ``url``; the answer's status (any 2xx: delivered), or what went wrong."""
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    host = parts.hostname or ""
    port = parts.port or (443 if tls else 80)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    request = h11.Request(method="POST", target=target, headers=[
        ("Host", parts.netloc), ("User-Agent", f"outreach/{__version__}"), ("Content-Type", "application/json"),
        ("Content-Length", str(len(raw))), ("Connection", "close"), *headers.items(),
    ])  # fmt: skip
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                host, port, ssl=(context or ssl.create_default_context()) if tls else None,
                server_hostname=host if tls else None)  # fmt: skip
            conn = h11.Connection(h11.CLIENT)
            writer.write(conn.send(request) + conn.send(h11.Data(data=raw)) + conn.send(h11.EndOfMessage()))
            await writer.drain()
            return await _answer(conn, reader)
    except TimeoutError:
        return Attempt(None, f"no answer within {timeout:g} s")
    except (OSError, ssl.SSLError, h11.ProtocolError) as exc:
        return Attempt(None, f"{type(exc).__name__}: {exc}"[:500])
    finally:
        if writer is not None:
            writer.transport.abort()  # no goodbye: a hanging receiver is not waited for twice
            with contextlib.suppress(Exception):
                await writer.wait_closed()


async def _answer(conn: h11.Connection, reader: asyncio.StreamReader) -> Attempt:
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            conn.receive_data(await reader.read(READ))
            continue
        if isinstance(event, h11.Response):
            ok = 200 <= event.status_code < 300
            reason = event.reason.decode("latin-1", "replace")[:100]
            return Attempt(event.status_code, None if ok else f"HTTP {event.status_code} {reason}".rstrip())
        if isinstance(event, h11.ConnectionClosed):
            return Attempt(None, "the receiver closed the connection without answering")
        # an InformationalResponse (100 Continue): the real answer follows
