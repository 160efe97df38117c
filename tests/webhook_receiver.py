"""A real HTTP receiver of webhooks for the tests: it verifies each signature and can fail, hang, come back.

A ``ThreadingHTTPServer`` on 127.0.0.1. ``mode`` decides each answer: ``ok``
(200, the delivery recorded), ``fail`` (500), ``hang`` (reads the request and
says nothing until the mode changes or the receiver stops, longer than any
webhook timeout in the tests). Every POST is kept in ``attempts``; the 200s,
with their signature checked against ``secret``, in ``delivered``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    raw: bytes
    headers: dict[str, str]
    signature_ok: bool

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.raw)
        return parsed


@dataclass
class Receiver:
    secret: bytes
    mode: str = "ok"
    port: int = 0
    attempts: list[tuple[str, bytes]] = field(default_factory=list)  # (mode answered with, body)
    delivered: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    released: threading.Event = field(default_factory=threading.Event)
    refuse: set[int] = field(default_factory=set)  # event ids answered 500 whatever the mode

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/outreach"

    def set_mode(self, mode: str) -> None:
        with self.lock:
            self.mode = mode
            if mode != "hang":
                self.released.set()  # hanging requests end (without an answer the client still waits for)
            else:
                self.released = threading.Event()

    def count(self, mode: str) -> int:
        with self.lock:
            return sum(1 for m, _ in self.attempts if m == mode)

    def attempted_ids(self) -> list[int | None]:
        with self.lock:
            return [_event_id(raw) for _m, raw in self.attempts]

    def ids(self) -> list[int]:
        with self.lock:
            return [d.event["id"] for d in self.delivered]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length)
        with self.lock:
            mode, released = self.mode, self.released
            if mode == "ok" and _event_id(raw) in self.refuse:
                mode = "fail"
            self.attempts.append((mode, raw))
        if mode == "hang":
            released.wait(120)
            handler.close_connection = True
            return
        if mode == "fail":
            handler.send_response(500, "Internal Server Error")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        sent = handler.headers.get("X-Outreach-Signature", "")
        good = "sha256=" + hmac.new(self.secret, raw, hashlib.sha256).hexdigest()
        with self.lock:
            self.delivered.append(Delivery(raw, dict(handler.headers.items()), hmac.compare_digest(sent, good)))
        handler.send_response(200, "OK")
        handler.send_header("Content-Length", "0")
        handler.end_headers()


def _event_id(raw: bytes) -> int | None:
    try:
        found = json.loads(raw).get("id")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, int) else None


@contextmanager
def receiving(secret: bytes, mode: str = "ok") -> Iterator[Receiver]:
    receiver = Receiver(secret, mode)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            receiver.handle(self)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
        thread.join(30)
