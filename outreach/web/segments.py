"""Segments in the app (executives and sales admins): the list with counts, one segment's page, editing.

* ``/app/segments``: every ``segments/*.yaml`` with how many contacts it holds
  now (a broken file with its error, the others still counted).
* ``/app/segments/NAME``: the count, a sample of contacts, whom the contact
  policy would hold out of a campaign built to it now (and why), who changed
  it; the common conditions as a form, and the YAML as text. Saving either
  goes through ``Workspace.save_segment``: the loader every command uses
  checks it first (an error names its line), then the file is replaced
  atomically — refused with 409 when it changed since the page was opened.
* ``/app/segments/new``: the same, for a new name.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outreach.audience.segment_editing import NUMBER_OPS, SegmentError, SegmentForm, form_text
from outreach.errors import ConflictError, OutreachError
from outreach.web.auth import requires
from outreach.web.limits import read_limited
from outreach.web.render import context, flash, page, redirect
from outreach.web.sessions import checked_form
from outreach.workspace import Workspace

SAMPLE = 10
FORM_BYTES = 96 * 1024  # the YAML (at most 64 KB, checked by the core) and the form's fields
ROLES = ("executive", "admin")


def _existing(request: Request) -> str:
    name = str(request.path_params["name"])
    if name not in context(request).ws.segment_names():
        raise HTTPException(404, f"There is no segment {name!r} in the workspace.")
    return name


@requires(*ROLES)
async def listing(request: Request) -> Response:
    summaries = await context(request).run(context(request).ws.segments)
    return page(request, "executive/segments.html", segments=summaries, root=str(context(request).ws.root))


def _details(ws: Workspace, name: str) -> dict[str, Any]:
    """Count, sample, the policy's hold, the audit: what a segment's page shows (an error in place of each)."""
    out: dict[str, Any] = {"count": None, "sample": [], "held": None, "problem": None}
    try:
        out["count"] = ws.segment_size(name)
        out["sample"] = list(itertools.islice(ws.contacts(name), SAMPLE))
        out["held"] = ws.segment_holds(name)
    except OutreachError as exc:
        out["problem"] = exc.message_in(ws.root)
    out["history"] = ws.audit_entries("segment", name, 20)
    from outreach.campaigns.policy import describe

    out["reasons"] = describe(ws.config.settings.contact_policy)
    return out


@requires(*ROLES)
async def detail(request: Request) -> Response:
    name = _existing(request)
    ws = context(request).ws
    form, text, base = await context(request).run(ws.segment_form, name)
    details = await context(request).run(_details, ws, name)
    return page(request, "executive/segment.html", name=name, form=form or SegmentForm(), form_fits=form is not None,
                text=text, base=base, errors={}, mode="form" if form is not None else "yaml", editing=True,
                ops=NUMBER_OPS, **details)  # fmt: skip


def _no_details() -> dict[str, Any]:
    """What a segment's page shows of a segment not saved yet: nothing."""
    return {"count": None, "sample": [], "held": None, "problem": None, "history": [], "reasons": {}}


@requires(*ROLES)
async def new_form(request: Request) -> Response:
    return page(request, "executive/segment.html", name="", form=SegmentForm(), form_fits=True,
                text="description: \nwhere:\n  status: prospect\n", base="", errors={}, mode="form",
                editing=False, ops=NUMBER_OPS, **_no_details())  # fmt: skip


@requires(*ROLES)
async def create(request: Request) -> Response:
    return await _save(request, editing=False)


@requires(*ROLES)
async def update(request: Request) -> Response:
    return await _save(request, editing=True)


async def _save(request: Request, *, editing: bool) -> Response:
    await read_limited(request, FORM_BYTES)
    posted = await checked_form(request)  # the CSRF check first, whatever the name
    if editing:
        _existing(request)
    ws, user = context(request).ws, request.state.user
    name = str(request.path_params["name"]) if editing else str(posted.get("name") or "").strip()[:120]
    mode = "yaml" if posted.get("mode") == "yaml" else "form"
    form = SegmentForm.from_mapping(posted)
    text = str(posted.get("yaml") or "").replace("\r\n", "\n")
    base = str(posted.get("base") or "")[:64]
    status = 400
    try:
        if mode == "form":
            text = form_text(form)
        saved = await context(request).run(lambda: ws.save_segment(name, text, who=user.name, editing=editing,
                                                                   base=base if editing else None))  # fmt: skip
    except SegmentError as exc:
        errors = exc.errors
        if mode == "form" and "yaml" in errors:  # the loader's word on what the form made: on the form
            errors = {"": errors["yaml"]}
    except ConflictError as exc:
        errors, status = {"": exc.message_in(ws.root)}, 409
    else:
        flash(request, f"Segment {saved.name} {'saved' if editing else 'created'}: segments/{saved.name}.yaml.")
        return redirect(request, f"/app/segments/{saved.name}")
    details = await context(request).run(_details, ws, name) if editing else _no_details()
    if len(text) > 70_000:
        text = text[:70_000]  # shown back for fixing, not the whole of an oversized post
    return page(request, "executive/segment.html", status=status, name=name, form=replace(form),
                form_fits=True, text=text, base=base, errors=errors, mode=mode, editing=editing, ops=NUMBER_OPS,
                **details)  # fmt: skip


def routes() -> list[BaseRoute]:
    return [
        Route("/segments", listing, methods=["GET"]),
        Route("/segments/new", new_form, methods=["GET"]),
        Route("/segments/new", create, methods=["POST"]),
        Route("/segments/{name}", detail, methods=["GET"]),
        Route("/segments/{name}", update, methods=["POST"]),
    ]
