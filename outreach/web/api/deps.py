"""What the endpoints share: the web context, the caller's token, and the role check (one table)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from outreach.accounts.permissions import allowed, roles_with
from outreach.accounts.tokens import Bearer
from outreach.web.api.problems import Problem

if TYPE_CHECKING:
    from outreach.web.app import WebContext
    from outreach.workspace import Workspace

T = TypeVar("T")
# only for the OpenAPI document (securitySchemes): the token itself is checked by gate.ApiGate, first
SCHEME = HTTPBearer(auto_error=False, description="a token from `outreach users token NAME`")


def web(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def workspace(request: Request) -> Workspace:
    return web(request).ws


async def run(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Blocking work (the database) in a worker thread, as the team app runs it."""
    return await web(request).run(functools.partial(fn, *args, **kwargs))


def requires(permission: str) -> Callable[..., Awaitable[Bearer]]:
    """The request's token (checked by the gate) if its user's role has ``permission``; else 403."""

    async def check(request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(SCHEME)]) -> Bearer:
        bearer = getattr(request.state, "bearer", None)
        if not isinstance(bearer, Bearer):
            raise Problem(401, "a valid API token is required", headers={"WWW-Authenticate": 'Bearer realm="outreach"'})
        if not allowed(bearer.account.role, permission):
            who = ", ".join(roles_with(permission))
            raise Problem(403, f"{bearer.account.name} is a {bearer.account.role}; {permission} is for: {who}")
        return bearer

    return check
