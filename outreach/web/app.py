"""The one web application: public routes for every message's links, and the team app under ``/app``.

``create_app(ws)`` is what ``outreach serve`` runs (on uvicorn, see
``server.py``):

* ``/u/TOKEN`` and ``/c/TOKEN?u=…&s=…`` (``public.py``), under any prefix;
* ``/app/…``, the team app: the executive's campaigns and reports
  (``executive.py``), the writer's preview (``writer.py``), the callers'
  queue (``caller.py``), behind a login (``auth.py``) with signed session
  cookies and a CSRF token on every form (``sessions.py``);
* ``/calendar/TOKEN.ics``, each caller's visits at a secret address;
* ``/static/…``: the stylesheet, htmx (vendored, 0BSD), the preview's
  reload script and the icon (also at ``/favicon.ico``). No build step.

``create_preview_app`` is the writer's preview alone, for ``outreach content
preview --serve``: no login, on a loopback address, GET only, and only for
requests whose ``Host`` is that address (no DNS rebinding).

Every response goes through ``SecurityHeaders``; the web process sends no
campaign mail itself (the executive's "send" hands the campaign to
``outreach worker``).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import anyio.to_thread
import jinja2
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from outreach.errors import DatabaseUnavailable
from outreach.operations.heartbeat import WorkerStatus
from outreach.operations.metrics import registry as metrics_registry
from outreach.settings.tokens import Signer
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage.outage import Outage
from outreach.studio.live import Previewer
from outreach.web import (
    auth,
    caller,
    campaign_forms,
    contacts,
    content,
    esp_hooks,
    executive,
    hooks,
    hygiene,
    imports,
    segments,
    users,
    worker_watch,
    writer,
)
from outreach.web import metrics as metrics_route
from outreach.web.api import PREFIX as API_PREFIX
from outreach.web.api import create_api
from outreach.web.api.problems import problem
from outreach.web.auth import LoginThrottle
from outreach.web.batching import ClickRecorder, EmailReader
from outreach.web.headers import DEFAULT_CSP, SecurityHeaders
from outreach.web.public import invalid_page, public
from outreach.web.render import STATIC, environment, page, redirect
from outreach.web.server import Server, bind
from outreach.web.sessions import SessionMiddleware, session_key
from outreach.web.unavailable import KEY, database_down, healthz, unavailable
from outreach.web.uploads import UploadArea
from outreach.web.worker_watch import WorkerWatch
from outreach.workspace import Workspace

T = TypeVar("T")
log = logging.getLogger("outreach.web")
access = logging.getLogger("outreach.unsubscribe")
_SECRET_IN_PATH = re.compile(r"/(?:[uc]|calendar)/[^\s/?#\"]+")


@dataclass
class WebContext:
    """What every route needs, made once when the app is created (``request.app.state.web``)."""

    ws: Workspace
    signer: Signer
    secret: bytes
    org: str
    clicks: ClickRecorder
    prefix: str = ""  # the public address's path, which a proxy strips: "/outreach"
    public_url: str | None = None
    session_seconds: float = 12 * 3600
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    pages: jinja2.Environment = field(default_factory=environment)
    limiter: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(5))
    emails: EmailReader | None = None  # made with the context: it runs its reads through ``run``
    outage: Outage = field(default_factory=Outage)  # the database's state as requests meet it (unavailable.py)
    uploads: UploadArea | None = None  # files waiting for their import (web/uploads.py), made with the context
    _previewers: dict[str, Previewer] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _worker: WorkerWatch | None = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Blocking work (the database, rendering) in a worker thread, at most as many at once as the
        database pool holds connections: more would only open and close connections under a burst.
        A database outage met here is noted (logged once, answered 503 by the error handler); the first
        call that goes through after it ends it."""
        try:
            result = await anyio.to_thread.run_sync(functools.partial(fn, *args), limiter=self.limiter)
        except Exception as exc:
            if database_down(exc):
                self.outage.fail(KEY, exc)
            raise
        if self.outage.down:
            self.outage.ok(KEY)
        return result

    def url(self, path: str) -> str:
        """A link to one of our paths, with the proxy's prefix."""
        return self.prefix + path

    def worker_state(self) -> WorkerStatus | None:
        """Whether a worker is alive, as last read (every ``WorkerWatch.EVERY`` seconds); None: not known yet."""
        return self._worker.status if self._worker is not None else None

    def no_worker_note(self) -> str:
        """What a page adds after handing work to the worker when none is alive: what to run."""
        state = self.worker_state()
        if state is None or state.alive:
            return ""
        return (f" No worker is running, so nothing happens until one runs: `outreach worker -w {self.ws.root}` "
                "(as a service: docs/deploy.md).")  # fmt: skip

    def previewer(self, name: str) -> Previewer:
        """One live previewer per campaign, made on first use (it compiles the campaign)."""
        with self._lock:
            found = self._previewers.get(name)
            if found is None:
                found = self._previewers[name] = Previewer(self.ws.config, self.ws.engine, name)
            return found


def _context(ws: Workspace) -> WebContext:
    web = ws.config.settings.web
    secret = ws.secret()
    prefix = urlsplit(web.public_url).path.rstrip("/") if web.public_url else ""
    pool = getattr(ws.engine.pool, "size", None)
    ctx = WebContext(ws=ws, signer=Signer(secret), secret=secret, org=ws.config.settings.organization.name,
                      clicks=ClickRecorder(ws.engine), prefix=prefix, public_url=web.public_url,
                      session_seconds=web.session_hours * 3600,
                      limiter=anyio.CapacityLimiter(max(pool() if callable(pool) else 5, 2)))  # fmt: skip
    ctx.emails = EmailReader(ws.engine, ctx.run)
    ctx.uploads = UploadArea.for_workspace(ws.root)
    return ctx


# -- errors as pages ---------------------------------------------------------------------------


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith(("/app", "/static", "/calendar")) and not hasattr(request.app.state,
                                                                                          "previewer"):
        # the public side says nothing but "this link is not valid", whatever went wrong
        return Response(invalid_page(request.app.state.web.org), status_code=exc.status_code,
                        media_type="text/html", headers=exc.headers)  # fmt: skip
    titles = {403: "Refused", 404: "Not found", 405: "Not allowed", 413: "Too large"}
    return page(request, "error.html", status=exc.status_code, headers=exc.headers,
                title=titles.get(exc.status_code, "Error"), message=exc.detail, home=None)  # fmt: skip


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client closed before its body arrived (a lying Content-Length, an unfinished chunked body):
    nobody is left to answer and nothing went wrong here, so no error is logged."""
    return Response(status_code=400)


async def _database_error(request: Request, exc: Exception) -> Response:
    """A database error: 503 (a plain page, no traceback logged) when the database is away for a while
    (storage/outage.py); anything else is a bug, which goes on to ``_server_error``."""
    if not database_down(exc):
        raise exc
    return unavailable(request.app.state.web.outage, exc)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("%s %s failed", request.method, _SECRET_IN_PATH.sub("/…", request.url.path), exc_info=exc)
    return with_headers(PlainTextResponse("Something went wrong on our side; it has been logged. Please try again.",
                                          status_code=500))  # fmt: skip


def with_headers(response: Response) -> Response:
    """Made outside SecurityHeaders (Starlette's error middleware is the outermost): it carries them itself."""
    response.headers.update({"Content-Security-Policy": DEFAULT_CSP, "Cache-Control": "no-store",
                             "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"})  # fmt: skip
    return response


ERROR_HANDLERS = {HTTPException: _http_error, ClientDisconnect: _client_gone, DBAPIError: _database_error,
                  DatabaseUnavailable: _database_error, Exception: _server_error}  # fmt: skip


# -- the app ------------------------------------------------------------------------------------


async def favicon(request: Request) -> Response:
    """Browsers ask every site for /favicon.ico: answered, it is no error in every page's console."""
    return FileResponse(STATIC / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip


async def _api_not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """Under /api, any other version or path: a problem, as the API answers, not the public side's page."""
    await problem(404, f"no such API; this server has {API_PREFIX}")(scope, receive, send)


async def _app_not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """An unknown /app path: the login page without a session (nothing is revealed), else 404."""
    request = Request(scope, receive)
    user = await auth.current_user(request)
    response = auth.login_redirect(request) if user is None else await _http_error(request, HTTPException(404))
    await response(scope, receive, send)


def _team_routes() -> list[BaseRoute]:
    return [
        Route("/", auth.home),
        Route("/login", auth.login_page, methods=["GET"]),
        Route("/login", auth.login, methods=["POST"]),
        Route("/logout", auth.logout, methods=["POST"]),
        Route("/logout", auth.home, methods=["GET"]),
        *campaign_forms.routes(),  # before executive's /campaigns/{name}: "new" is a page, not a campaign
        *segments.routes(),
        *worker_watch.routes(),
        *executive.routes(),
        *writer.routes(),
        *content.routes(),
        *caller.routes(),
        *hooks.routes(),
        *hygiene.routes(),
        *imports.routes(),  # before contacts': /contacts/import is not a contact
        *contacts.routes(),
        *users.routes(),
    ]


def create_app(ws: Workspace) -> Starlette:
    """The whole application for ``outreach serve``; its lifespan runs the click recorder."""
    ctx = _context(ws)
    web = ws.config.settings.web
    secure = bool(web.public_url and web.public_url.startswith("https://"))
    team = Router(_team_routes(), default=_app_not_found, middleware=[Middleware(
        SessionMiddleware, secret=session_key(ctx.secret), max_age=int(ctx.session_seconds),
        path=ctx.url("/app"), always_secure=secure,
    )])  # fmt: skip
    routes: list[BaseRoute] = [
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/calendar/{token}.ics", caller.feed, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/app", lambda request: redirect(request, "/app/")),
        Mount("/app", app=team),
        Route("/metrics", metrics_route.metrics, methods=["GET"]),  # loopback, trusted proxies or a token
        *esp_hooks.routes(),
        Mount(API_PREFIX, app=create_api(ctx)),
        Mount("/api", app=_api_not_found),
        Route("/{path:path}", public, methods=["GET", "POST"]),
    ]
    email_hooks = ws.email_hooks(esp_hooks.fetch_https)
    for trouble in email_hooks.problems:
        log.error("%s", trouble)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        ctx.clicks.start()
        ctx._worker = WorkerWatch(ctx.ws, ctx.run)
        await ctx._worker.start()
        try:
            yield
        finally:
            await ctx._worker.stop()
            await ctx.clicks.stop()

    app = Starlette(routes=routes, lifespan=lifespan, middleware=[
        Middleware(AccessLog), Middleware(SecurityHeaders, hsts=secure),
    ], exception_handlers=ERROR_HANDLERS)  # fmt: skip
    app.state.web = ctx
    app.state.metrics = metrics_registry(ws.engine)  # read from the database at each scrape
    app.state.hooks = email_hooks
    return app


def make_server(ws: WorkspaceConfig, engine: Engine, host: str = "127.0.0.1", port: int = 8025) -> Server:
    """``outreach serve``'s server, bound and ready for ``serve_forever`` (port 0: any free port)."""
    sock = bind(host, port)  # first: a busy port is the one error, before the database is touched
    face = Workspace(ws, engine)
    return Server(create_app(face), sock=sock, trusted_proxies=ws.settings.web.trusted_proxies)


def create_preview_app(ws: Workspace, name: str, contact: str | None, allowed_hosts: Iterable[str] | None) -> Starlette:
    """The writer's live preview of one campaign at ``/``, for ``content preview --serve``."""
    ctx = _context(ws)
    previewer = Previewer(ws.config, ws.engine, name, contact)
    ctx._previewers[name] = previewer
    routes = [Mount("/static", StaticFiles(directory=STATIC), name="static"),
              Route("/favicon.ico", favicon, methods=["GET"]), *writer.standalone_routes()]
    app = Starlette(routes=routes, middleware=[
        Middleware(HostCheck, allowed=frozenset(allowed_hosts) if allowed_hosts is not None else None),
        Middleware(SecurityHeaders),
    ], exception_handlers=ERROR_HANDLERS)  # fmt: skip
    app.state.web = ctx
    app.state.previewer = previewer
    return app


def loopback_hosts(host: str, port: int) -> frozenset[str] | None:
    """The Host headers accepted on a loopback bind (None: any, when the writer chose another address)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        return None
    return frozenset(f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]", host))


# -- middleware -------------------------------------------------------------------------------


class HostCheck:
    """400 for a request whose Host is not ours: a page in the writer's browser cannot rebind a name to us."""

    def __init__(self, app: ASGIApp, allowed: frozenset[str] | None) -> None:
        self.app, self.allowed = app, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.allowed is not None:
            host = next((v.decode("latin-1").lower() for k, v in scope["headers"] if k == b"host"), "")
            if host not in self.allowed:
                await PlainTextResponse("unexpected Host header\n", status_code=400)(scope, receive, send)
                return
        await self.app(scope, receive, send)


class AccessLog:
    """One line per request, with unsubscribe, click and calendar tokens cut out and no query string:
    a log file must not hold working links."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not access.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        status = [0]

        async def send_and_see(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_see)
        finally:
            client = scope.get("client") or ("-", 0)
            path = _SECRET_IN_PATH.sub("/…", scope["path"])
            access.info('%s "%s %s" %d', client[0], scope["method"], path, status[0],
                        extra={"client": client[0], "method": scope["method"], "path": path, "status": status[0]})
