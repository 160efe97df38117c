"""The sales admin's accounts page: add a user, change a role, reset a password, disable or enable.

Every action is a POST with the CSRF token, through the same core functions
as ``outreach users ...`` (accounts/users.py), and is recorded with who did
it (outreach/audit.py); the page lists the latest records. A role change, a
new password and disabling each end the user's open sessions at once. Nobody
disables their own account or changes their own role here: the admin who did
so would be locked out of this very page.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outreach.accounts.users import NAME, ROLES
from outreach.errors import OutreachError
from outreach.web.auth import requires
from outreach.web.render import context, flash, page, redirect
from outreach.web.sessions import checked_form

ACTIONS = ("role", "password", "disable", "enable")
FIELD = 1024  # characters of any one field a form sends here


async def _users_page(request: Request, *, error: str | None = None, typed: dict[str, str] | None = None,
                      status: int = 200) -> Response:  # fmt: skip
    ctx = context(request)
    ws = ctx.ws
    accounts, records = await ctx.run(lambda: (ws.users(), ws.audit(prefix="user:", limit=30)))
    return page(request, "admin/users.html", status=status, accounts=accounts, roles=ROLES,
                senders=list(ws.config.settings.senders), records=records, error=error, typed=typed or {})  # fmt: skip


@requires("admin")
async def users_page(request: Request) -> Response:
    return await _users_page(request)


def _text(form: object, name: str) -> str:
    value = form.get(name) if hasattr(form, "get") else None
    return str(value or "")[:FIELD]


@requires("admin")
async def add(request: Request) -> Response:
    form = await checked_form(request)
    ctx, user = context(request), request.state.user
    typed = {k: _text(form, k).strip() for k in ("name", "role", "sender", "email")}
    try:
        account = await ctx.run(lambda: ctx.ws.add_user(
            typed["name"], typed["role"], _text(form, "password"), sender=typed["sender"] or None,
            email=typed["email"] or None, who=user.name, via="app"))  # fmt: skip
    except OutreachError as exc:
        return await _users_page(request, error=f"Not added: {exc.detail}", typed=typed, status=400)
    flash(request, f"User {account.name} added ({account.role}); give them their password in person.")
    return redirect(request, "/app/users")


@requires("admin")
async def act(request: Request) -> Response:
    form = await checked_form(request)
    name, action = str(request.path_params["name"]), str(request.path_params["action"])
    if action not in ACTIONS or not NAME.match(name):
        raise HTTPException(404, "There is no such page.")
    ctx, user = context(request), request.state.user
    ws = ctx.ws
    try:
        if action == "role":
            account = await ctx.run(lambda: ws.set_role(name, _text(form, "role"), sender=_text(form, "sender"),
                                                        who=user.name, via="app"))  # fmt: skip
            said = f"{account.name} is now {account.role}" + (f" (sender {account.sender})" if account.sender else "")
        elif action == "password":
            account = await ctx.run(lambda: ws.set_password(name, _text(form, "password"), who=user.name, via="app"))
            said = f"New password for {account.name}; their open sessions are closed"
            if account.id == user.id:  # the admin's own: this session goes on, every other one ends
                request.session["gen"] = account.session_gen
                said = "Your password is changed; your other sessions are closed"
        elif action == "disable":
            account = await ctx.run(lambda: ws.disable_user(name, who=user.name, via="app"))
            said = f"{account.name} is disabled: they cannot log in, their sessions are closed"
        else:
            account = await ctx.run(lambda: ws.enable_user(name, who=user.name, via="app"))
            said = f"{account.name} may log in again"
    except OutreachError as exc:
        flash(request, f"{name}: {exc.detail}", "error")
        return redirect(request, "/app/users")
    flash(request, said + ".")
    return redirect(request, "/app/users")


def routes() -> list[BaseRoute]:
    return [
        Route("/users", users_page, methods=["GET"]),
        Route("/users", add, methods=["POST"]),
        Route("/users/{name}/{action}", act, methods=["POST"]),
    ]
