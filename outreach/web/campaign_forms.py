"""The executive's campaign form and launch: new or edited ``campaigns/NAME.yaml``, then build → review → send.

* ``/app/campaigns/new`` (GET the form, POST ``name``, ``segment``,
  ``content``, ``sender`` and the optional fields) and
  ``/app/campaigns/NAME/edit``: the form's values go through
  ``Workspace.save_campaign``, which validates them with the campaign loader
  every command uses and writes the file atomically; each error comes back on
  its field, with what was typed kept.
* ``/app/campaigns/NAME/review``: after a build, what a send would do — how
  many are queued, whom the contact policy holds out and why, a sample message
  (rendered as it is sent, in a sandboxed iframe), the doctor's verdict for the
  sender (a fragment loaded after the page, with a time limit: slow DNS never
  holds the page) — and the buttons: send now, or schedule.
* ``POST /app/campaigns/NAME/schedule`` with ``schedule`` (the workspace's
  timezone): the worker starts it then. With no live worker, the page says so
  and what to run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outreach.campaigns.editing import CampaignForm, FormError
from outreach.errors import ConflictError, OutreachError, PreflightError
from outreach.studio import STARTER_KINDS
from outreach.web.auth import requires
from outreach.web.executive import card
from outreach.web.headers import MESSAGE_IMAGES, csp
from outreach.web.limits import read_limited
from outreach.web.render import context, flash, page, redirect
from outreach.web.sessions import checked_form
from outreach.workspace import Workspace

DOCTOR_SECONDS = 12.0  # the verdict's time limit; the resolver's own timeouts are shorter
FORM_BYTES = 64 * 1024


def _choices(ws: Workspace) -> dict[str, Any]:
    senders = ws.config.settings.senders
    return {"segments": ws.segment_names(), "contents": ws.content_choices(), "kinds": STARTER_KINDS,
            "senders": [(key, f"{s.name} <{s.email}>") for key, s in senders.items()],
            "language": ws.config.settings.language, "tz_name": ws.config.settings.timezone}  # fmt: skip


def _existing(request: Request) -> str:
    name = str(request.path_params["name"])
    if name not in context(request).ws.campaigns():
        raise HTTPException(404, f"There is no campaign {name!r} in the workspace.")
    return name


@requires("executive")
async def new_form(request: Request) -> Response:
    ws = context(request).ws
    choices = await context(request).run(_choices, ws)
    form = CampaignForm(name="", segment=request.query_params.get("segment", "")[:120],
                        sender=next(iter(ws.config.settings.senders), ""))  # fmt: skip
    return page(request, "executive/campaign_form.html", form=form, errors={}, editing=False, base="", **choices)


@requires("executive")
async def edit_form(request: Request) -> Response:
    name = _existing(request)
    ws = context(request).ws
    form, base = await context(request).run(ws.campaign_form, name)
    choices = await context(request).run(_choices, ws)
    errors: dict[str, str] = {}
    summary = await context(request).run(ws.campaign_summary, name)
    if summary.error:
        errors[""] = f"{summary.error} — saving this form replaces the file (its old text stays in the audit log)."
    return page(request, "executive/campaign_form.html", form=form, errors=errors, editing=True, base=base,
                **choices)  # fmt: skip


@requires("executive")
async def create(request: Request) -> Response:
    return await _save(request, editing=False)


@requires("executive")
async def update(request: Request) -> Response:
    return await _save(request, editing=True)


async def _save(request: Request, *, editing: bool) -> Response:
    await read_limited(request, FORM_BYTES)
    posted = await checked_form(request)  # the CSRF check first, whatever the name
    if editing:
        _existing(request)
    values = dict(posted)
    if editing:
        values["name"] = request.path_params["name"]
    if values.get("content") == "new":  # the select's "new from a starter" choice
        values["content"] = ""
    else:
        values["starter"] = ""
    form = CampaignForm.from_mapping(values)
    ws, user = context(request).ws, request.state.user
    base = str(posted.get("base") or "")[:64]
    status = 200
    try:
        saved = await context(request).run(lambda: ws.save_campaign(form, who=user.name, editing=editing,
                                                                    base=base if editing else None))  # fmt: skip
    except FormError as exc:
        errors, status = exc.errors, 400
    except ConflictError as exc:
        errors, status = {"": exc.message_in(ws.root)}, 409
    else:
        made = f" and its content {saved.content_created.name} (from the {form.starter} starter)" \
            if saved.content_created else ""  # fmt: skip
        flash(request, f"Campaign {saved.name} {'saved' if editing else 'created'}{made}: campaigns/{saved.name}.yaml. "
                       "Build it when its segment and content are ready.")  # fmt: skip
        return redirect(request, f"/app/campaigns/{saved.name}")
    choices = await context(request).run(_choices, ws)
    return page(request, "executive/campaign_form.html", status=status, form=form, errors=errors, editing=editing,
                base=base, **choices)  # fmt: skip


# -- launching ---------------------------------------------------------------------------------


@requires("executive")
async def review(request: Request) -> Response:
    name = _existing(request)
    ctx = context(request)
    found = await ctx.run(card, ctx.ws, name)
    held, held_error = None, None
    try:
        held = await ctx.run(ctx.ws.policy_holds, name)
    except OutreachError as exc:
        held_error = exc.message_in(ctx.ws.root)
    view = await ctx.run(ctx.previewer(name).view, None, 0, 0, None)
    sample = view.prepared.html_for_browser() if view.prepared else ""
    headers = {"Content-Security-Policy": csp(request.state.nonce, images=MESSAGE_IMAGES)}
    from outreach.campaigns.policy import describe

    return page(request, "executive/review.html", headers=headers, card=found, held=held, held_error=held_error,
                reasons=describe(ctx.ws.config.settings.contact_policy), view=view, sample=sample,
                worker=ctx.worker_state(), workspace=str(ctx.ws.root),
                now=datetime.now(ctx.ws.config.tz).strftime("%Y-%m-%dT%H:%M"))  # fmt: skip


@requires("executive")
async def doctor(request: Request) -> Response:
    """The doctor's verdict for the campaign's sender, as the pre-flight of a CLI send gives it; at most
    ``DOCTOR_SECONDS`` (a slow resolver says so instead of holding the page)."""
    name = _existing(request)
    ctx = context(request)
    verdict: dict[str, Any] = {"checkup": None, "note": "", "failed": None, "late": False}
    with anyio.move_on_after(DOCTOR_SECONDS) as scope:
        try:
            verdict["checkup"], verdict["note"] = await ctx.run(ctx.ws.preflight, name)
        except PreflightError as exc:
            verdict["checkup"], verdict["failed"] = exc.checkup, exc.message
        except OutreachError as exc:
            verdict["note"] = exc.message_in(ctx.ws.root)
    verdict["late"] = scope.cancelled_caught
    return page(request, "executive/_doctor.html", name=name, **verdict)


@requires("executive")
async def schedule(request: Request) -> Response:
    form = await checked_form(request)
    name = _existing(request)
    ctx, user = context(request), request.state.user
    raw = str(form.get("schedule") or "").strip()[:40]
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        flash(request, f"{raw or 'An empty time'} is not a date and time like 2026-12-01T09:00.", "error")
        return redirect(request, f"/app/campaigns/{name}/review")
    if at.tzinfo is not None:
        at = at.astimezone(ctx.ws.config.tz).replace(tzinfo=None)
    try:
        await ctx.run(lambda: ctx.ws.schedule(name, at, user.name))
        await ctx.run(lambda: ctx.ws.record_audit("campaign", name, "schedule", who=user.name, via="app",
                                           detail=f"starts {at:%Y-%m-%d %H:%M} ({ctx.ws.config.settings.timezone})"))
    except OutreachError as exc:
        flash(request, exc.message_in(ctx.ws.root), "error")
        return redirect(request, f"/app/campaigns/{name}/review")
    flash(request, f"{name} is scheduled for {at:%Y-%m-%d %H:%M} ({ctx.ws.config.settings.timezone}); "
                   f"`outreach worker` starts it then.{ctx.no_worker_note()}")  # fmt: skip
    return redirect(request, f"/app/campaigns/{name}")


def routes() -> list[BaseRoute]:
    """Before the executive's ``/campaigns/{name}`` routes: ``new`` is no campaign's name."""
    return [
        Route("/campaigns/new", new_form, methods=["GET"]),
        Route("/campaigns/new", create, methods=["POST"]),
        Route("/campaigns/{name}/edit", edit_form, methods=["GET"]),
        Route("/campaigns/{name}/edit", update, methods=["POST"]),
        Route("/campaigns/{name}/review", review, methods=["GET"]),
        Route("/campaigns/{name}/doctor", doctor, methods=["GET"]),
        Route("/campaigns/{name}/schedule", schedule, methods=["POST"]),
    ]
