"""Running an ASGI app on uvicorn, on a socket we bind ourselves.

Binding first means a busy or impossible port is an ``Error:`` line before
anything starts, port 0 gives a free port the caller can read back
(``server_port``), and tests and the CLI drive the server the same way:
``serve_forever()`` in the main thread (Ctrl-C/SIGTERM stop it) or in a
thread, ``shutdown()`` from elsewhere. Shutting down runs the app's lifespan
end (the click recorder flushes what it holds) before ``serve_forever``
returns.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
import threading
from collections.abc import Sequence
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from outreach.errors import InputError

log = logging.getLogger("outreach.web")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port; InputError naming the address when that is impossible."""
    if not 0 <= port <= 65535:
        raise InputError(f"--port {port} is not a port number (0-65535)")
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:
        family = socket.AF_INET  # a name such as localhost
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


class Protocol(AutoHTTPProtocol):  # type: ignore[misc,valid-type]  # a class chosen at import time
    """uvicorn's HTTP protocol, with two changes.

    * A client that half-closes its side after sending the request (``shutdown(SHUT_WR)``, as some
      scripts and scanners do) still gets the answer: by default asyncio closes the whole connection at
      that EOF, before a response that needs the database is written. A request whose body can no
      longer arrive (shorter than its Content-Length, an unfinished chunked body), or nothing but a
      partial request, is closed at once instead: kept open, it would hold a connection and a handler
      until the client gave up.
    * It never writes uvicorn's own access log, whatever logging someone configured: that log holds whole
      paths, which carry working unsubscribe and click tokens. The app's AccessLog cuts them out.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.access_log = False

    def eof_received(self) -> bool:
        """True keeps the transport open for a whole request still being answered; False closes it."""
        cycle = getattr(self, "cycle", None)
        return cycle is not None and not cycle.response_complete and not cycle.more_body


class Server:
    """One app on one bound socket."""

    def __init__(self, app: ASGIApp, host: str = "127.0.0.1", port: int = 8025, *,
                 trusted_proxies: Sequence[str] = (), sock: socket.socket | None = None) -> None:  # fmt: skip
        self.sock = sock or bind(host, port)
        self.app = app
        self.config = uvicorn.Config(
            app, log_config=None, access_log=False, server_header=False, lifespan="on", http=Protocol,
            proxy_headers=bool(trusted_proxies), forwarded_allow_ips=list(trusted_proxies) or None,
            timeout_graceful_shutdown=10, backlog=2048,
        )  # fmt: skip
        self.server = uvicorn.Server(self.config)
        self._stopped = threading.Event()

    @property
    def server_address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return str(host), int(port)

    @property
    def server_port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        host, port = self.server_address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Serve until ``shutdown()`` or, in the main thread, Ctrl-C/SIGTERM, which then raise
        KeyboardInterrupt once the server has stopped cleanly (clicks written). ``poll_interval`` is
        unused (uvicorn checks for a stop ten times a second); it is accepted as http.server's was."""
        self._stopped.clear()
        main = threading.current_thread() is threading.main_thread()
        before = signal.signal(signal.SIGTERM, _interrupt) if main else None  # uvicorn raises it again at the end
        try:
            self.server.run(sockets=[self.sock])
        finally:
            if main:
                signal.signal(signal.SIGTERM, before)
            self._stopped.set()

    def shutdown(self, timeout: float = 30.0) -> None:
        """Ask the server to stop and wait until it has (the app's shutdown included)."""
        self.server.should_exit = True
        self._stopped.wait(timeout)

    def server_close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.server_close()
