"""Logging in and out, who is logged in, and which role may open which page.

* Every page of the app is wrapped in ``requires(role, ...)``: no session
  sends to the login page (a 303, or ``HX-Redirect`` for an htmx request),
  another role gets 403. ``tests/web/test_app_http.py`` walks every route to
  check that none is left open.
* Logins are throttled per user name and per client address (the proxy's
  ``X-Forwarded-For`` only when that proxy is trusted): after a few failures
  each further try must wait, twice as long each time, up to 15 minutes; the
  password is not even checked meanwhile. The counts live in this process:
  ``outreach serve`` is one process, and a restart forgetting them only
  forgives a few guesses.
* A successful login starts a new session (new CSRF token), so a session
  planted before the login is worth nothing after it.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from outreach.accounts.users import Account, authenticate, end_sessions, get_user
from outreach.errors import AuthError
from outreach.web.render import context, page, redirect
from outreach.web.sessions import checked_form

Endpoint = Callable[[Request], Awaitable[Response]]
HOME = {"executive": "/app/campaigns", "writer": "/app/content", "caller": "/app/followups",
        "admin": "/app/contacts"}
ROLE_NAMES = {"executive": "sales executives", "writer": "writers", "caller": "callers", "admin": "sales admins"}


@dataclass
class LoginThrottle:
    """Failed logins per key (``user:NAME``, ``ip:ADDR``) and the wait they impose; ``clock`` for tests."""

    user_limit: int = 5  # failures allowed before waiting
    ip_limit: int = 20  # an office behind one address has many people
    base: float = 30.0  # seconds of the first wait, doubled by each further failure
    cap: float = 900.0
    forget_after: float = 86400.0
    max_keys: int = 50_000
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)

    def wait(self, user: str, ip: str) -> float:
        """Seconds before this user name may try again from this address (0: now)."""
        return max(self._wait(f"user:{user}", self.user_limit), self._wait(f"ip:{ip}", self.ip_limit))

    def _wait(self, key: str, limit: int) -> float:
        count, last = self._failures.get(key, (0, 0.0))
        if count < limit:
            return 0.0
        until = last + min(self.base * 2 ** (count - limit), self.cap)
        return max(until - self.clock(), 0.0)

    def failed(self, user: str, ip: str) -> None:
        now = self.clock()
        if len(self._failures) >= self.max_keys:
            self._forget(now)
        for key in (f"user:{user}", f"ip:{ip}"):
            count, last = self._failures.get(key, (0, now))
            self._failures[key] = (0 if now - last > self.forget_after else count) + 1, now

    def succeeded(self, user: str) -> None:
        """The user's count starts again; the address's does not (one good account must not unlock guessing)."""
        self._failures.pop(f"user:{user}", None)

    def _forget(self, now: float) -> None:
        old = [k for k, (_, last) in self._failures.items() if now - last > self.cap]
        for key in old or sorted(self._failures, key=lambda k: self._failures[k][1])[: self.max_keys // 2]:
            del self._failures[key]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def current_user(request: Request) -> Account | None:
    """The session's user, if the session is genuine, not too old, and not ended since."""
    session = request.session
    uid, gen, since = session.get("uid"), session.get("gen"), session.get("since")
    if not isinstance(uid, int) or not isinstance(gen, int) or not isinstance(since, int | float):
        return None
    ctx = context(request)
    if time.time() - since > ctx.session_seconds:
        return None
    account = await ctx.run(get_user, ctx.ws.engine, uid)
    if account is None or account.session_gen != gen or account.disabled:
        return None
    return account


def login_redirect(request: Request) -> Response:
    ctx = context(request)
    target = ctx.url("/app/login") + "?" + urlencode({"next": request.url.path})
    if request.headers.get("hx-request"):
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def forbidden(request: Request, user: Account, roles: tuple[str, ...]) -> Response:
    who = " and ".join(ROLE_NAMES[r] for r in roles)
    return page(request, "error.html", status=403, title="Not for your role",
                message=f"This page is for {who}; you are logged in as {user.name} ({user.role}).",
                home=HOME[user.role])  # fmt: skip


def requires(*roles: str) -> Callable[[Endpoint], Endpoint]:
    """Only a logged-in user of one of ``roles`` reaches the endpoint (as ``request.state.user``)."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def guarded(request: Request) -> Response:
            user = await current_user(request)
            if user is None:
                return login_redirect(request)
            request.state.user = user
            if user.role not in roles:
                return forbidden(request, user, roles)
            return await endpoint(request)

        guarded.roles = roles  # type: ignore[attr-defined]  # read by the route-walking test
        return guarded

    return decorate


def _next(request: Request, value: object, user: Account) -> str:
    """Where to go after logging in: a path of the app, never another site."""
    if isinstance(value, str) and value.startswith("/app/") and not value.startswith("/app//") \
            and "\\" not in value and value not in ("/app/login", "/app/logout"):  # fmt: skip
        return value
    return HOME[user.role]


async def login_page(request: Request) -> Response:
    user = await current_user(request)
    if user is not None:
        return redirect(request, HOME[user.role])
    return page(request, "login.html", next=request.query_params.get("next", ""), error=None, name="")


async def login(request: Request) -> Response:
    ctx = context(request)
    form = await checked_form(request)
    name = str(form.get("username") or "").strip().lower()[:64]
    password = str(form.get("password") or "")
    nxt = form.get("next") or ""
    ip = client_address(request)
    wait = ctx.throttle.wait(name, ip)
    if wait > 0:
        minutes = math.ceil(wait / 60)
        return page(request, "login.html", status=429, headers={"Retry-After": str(math.ceil(wait))},
                    error=f"Too many failed logins. Try again in {minutes} minute{'s' if minutes > 1 else ''}.",
                    next=nxt, name=name)  # fmt: skip
    try:
        account = await ctx.run(authenticate, ctx.ws.engine, name, password)
    except AuthError as exc:
        ctx.throttle.failed(name, ip)
        return page(request, "login.html", status=401, error=str(exc).capitalize() + ".", next=nxt, name=name)
    ctx.throttle.succeeded(name)
    request.session.clear()
    request.session.update({"uid": account.id, "gen": account.session_gen, "since": int(time.time())})
    return redirect(request, _next(request, nxt, account))


async def logout(request: Request) -> Response:
    await checked_form(request)
    user = await current_user(request)
    if user is not None:
        await context(request).run(end_sessions, context(request).ws.engine, user.id)
    request.session.clear()
    return redirect(request, "/app/login")


async def home(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    return redirect(request, HOME[user.role])
