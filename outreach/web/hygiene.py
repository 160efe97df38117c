"""The sales admin's hygiene page: the doubtful contacts in groups, merging duplicates, sending a group to the
verify queue. Everything goes through the library face (``Workspace.hygiene``, ``merge_contacts``,
``verify_contacts``), as ``outreach contacts hygiene`` / ``merge`` and ``followups verify`` do.

The DNS check (``dead_domain``) is not run here: it asks the DNS about every domain, which is the CLI's
``--dns`` (or a scheduled job), not a page load.
"""

from __future__ import annotations

from datetime import datetime

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outreach.audience.hygiene import GROUPS
from outreach.audience.hygiene_text import TITLES
from outreach.errors import OutreachError
from outreach.web.auth import requires
from outreach.web.render import context, flash, page, redirect
from outreach.web.sessions import checked_form

SHOWN = 50  # contacts listed per group on the page (the CLI's --json lists every one)
VERIFIABLE = tuple(g for g in GROUPS if g not in ("duplicates", "suppressed", "dead_domain"))


@requires("admin")
async def hygiene(request: Request) -> Response:
    ws = context(request).ws
    report = await context(request).run(lambda: ws.hygiene())
    return page(request, "admin/hygiene.html", report=report, titles=TITLES, shown=SHOWN, verifiable=VERIFIABLE,
                today=datetime.now(ws.config.tz).date())  # fmt: skip


def _field(form: FormData, name: str, limit: int = 320) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


@requires("admin")
async def merge(request: Request) -> Response:
    form = await checked_form(request)
    keep, other = _field(form, "keep"), _field(form, "other")
    ws, user = context(request).ws, request.state.user
    try:
        result = await context(request).run(ws.merge_contacts, keep, other, user.name)
    except OutreachError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, result.summary())
    return redirect(request, "/app/hygiene#duplicates")


@requires("admin")
async def verify(request: Request) -> Response:
    form = await checked_form(request)
    group = _field(form, "group", 40)
    ws = context(request).ws
    try:
        done = await context(request).run(lambda: ws.verify_contacts(hygiene=group))
    except OutreachError as exc:
        flash(request, str(exc), "error")
    else:
        flash(request, done.summary(f"hygiene group {group}"))
    return redirect(request, "/app/hygiene")


def routes() -> list[BaseRoute]:
    return [
        Route("/hygiene", hygiene, methods=["GET"]),
        Route("/hygiene/merge", merge, methods=["POST"]),
        Route("/hygiene/verify", verify, methods=["POST"]),
    ]
