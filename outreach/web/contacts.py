"""The contacts: a list with search and filters, each contact's page with its history, edit, suppress.

The sales admin keeps the list clean; executives may read it (the list and
the pages), not change it. Every change goes through the core: an edit
through ``audience/history.py`` (each value parsed by its field's parser, as an
import's cell; the old value kept with who changed it), a suppression through
``audience/suppression.py`` (with a reason; lifting one the person asked for
needs the address typed out). An edit carries the version of the contact it
was made on: if someone changed the contact meanwhile, nothing is saved and
the page shows the values now beside the ones typed (409).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from outreach.audience.profile import MAX_KEY, Profile
from outreach.audience.search import ContactFilter
from outreach.errors import ConflictError, FieldError, NotFoundError, OutreachError
from outreach.fields import Field
from outreach.fields.builtin import STATUSES
from outreach.web.auth import requires
from outreach.web.render import context, flash, page, redirect
from outreach.web.sessions import checked_form

EDIT_FIELDS = 200  # form fields of an edit (every field, custom ones too, and the token)


def _key(request: Request) -> str:
    key = str(request.path_params["key"])
    if len(key) > MAX_KEY or any(ord(c) < 32 for c in key):
        raise HTTPException(404, "There is no such contact.")
    return key


async def _profile(request: Request) -> Profile:
    ctx = context(request)
    try:
        return await ctx.run(ctx.ws.contact_profile, _key(request))
    except NotFoundError as exc:
        raise HTTPException(404, f"{exc.detail[:1].upper()}{exc.detail[1:]}.") from None


def contact_path(profile: Profile | Any) -> str:
    return f"/app/contacts/{profile.id}"


# -- the list ----------------------------------------------------------------------------------


@requires("admin", "executive")
async def contact_list(request: Request) -> Response:
    ctx = context(request)
    params = request.query_params
    flt = ContactFilter.of(params)
    after, before = (params.get(k) or None for k in ("after", "before"))
    found = await ctx.run(lambda: ctx.ws.search_contacts(flt, after=_cursor(after), before=_cursor(before)))
    choices = await ctx.run(ctx.ws.contact_choices)
    query = flt.query()
    links = {
        "next": f"?{urlencode({**query, 'after': found.after})}" if found.after else None,
        "previous": f"?{urlencode({**query, 'before': found.before})}" if found.before else None,
    }
    return page(request, "admin/contacts.html", flt=flt, found=found, choices=choices, links=links,
                first=after is None and before is None)  # fmt: skip


def _cursor(value: str | None) -> str | None:
    return value[:MAX_KEY] if value else None


# -- one contact ----------------------------------------------------------------------------------


@requires("admin", "executive")
async def contact_page(request: Request) -> Response:
    profile = await _profile(request)
    return page(request, "admin/contact.html", profile=profile, error=None, reason="", lifting=None)


@requires("admin")
async def edit_page(request: Request) -> Response:
    profile = await _profile(request)
    return _edit(request, profile, dict(_values(profile)))


def _values(profile: Profile) -> list[tuple[str, str]]:
    return [(name, value) for name, _label, value in profile.fields]


def _editable(request: Request, profile: Profile) -> list[tuple[Field | None, str, str]]:
    """(registry field or None for a custom key, name, label) of what the form edits, in the registry's order."""
    fields = context(request).ws.fields
    out: list[tuple[Field | None, str, str]] = []
    for name, label, _value in profile.fields:
        found = fields.get(name)
        if found is not None and found.source in ("column", "company"):
            out.append((found, name, found.title))
        elif name.startswith("custom."):
            out.append((found, name, f"{label} (custom)"))
    return out


def _edit(request: Request, profile: Profile, values: dict[str, str], *, errors: dict[str, str] | None = None,
          problem: str | None = None, theirs: dict[str, str] | None = None, status: int = 200) -> Response:  # fmt: skip
    ws = context(request).ws
    return page(request, "admin/contact_edit.html", status=status, profile=profile, values=values,
                editable=_editable(request, profile), errors=errors or {}, problem=problem, theirs=theirs,
                statuses=STATUSES, owners=list(ws.config.settings.senders))  # fmt: skip


@requires("admin")
async def edit_post(request: Request) -> Response:
    form = await checked_form(request, max_fields=EDIT_FIELDS)
    profile = await _profile(request)
    ctx, user = context(request), request.state.user
    now = dict(_values(profile))
    typed = {name: str(form.get(name) or "") for _f, name, _label in _editable(request, profile) if name in form}
    new_key, new_value = (str(form.get(k) or "").strip() for k in ("new_custom_key", "new_custom_value"))
    if new_key:
        typed[f"custom.{new_key}"] = new_value
    updates = {name: value for name, value in typed.items() if value.strip() != now.get(name, "")}
    shown = {**now, **typed}
    if not updates:
        flash(request, "Nothing changed.")
        return redirect(request, contact_path(profile))
    try:
        changes = await ctx.run(ctx.ws.change_contact, profile.email, updates, user.name, "app",
                                str(form.get("base") or ""))  # fmt: skip
    except ConflictError as exc:
        fresh = await _profile(request)
        return _edit(request, fresh, shown, problem=exc.detail, theirs=dict(_values(fresh)), status=409)
    except FieldError as exc:
        field = exc.field if exc.field in shown else "new_custom_key" if new_key else ""
        return _edit(request, profile, shown, errors={field: exc.detail}, problem=f"Not saved: {exc.detail}",
                     status=400)  # fmt: skip
    except OutreachError as exc:
        return _edit(request, profile, shown, problem=f"Not saved: {exc.detail}", status=400)
    words = ", ".join(c.field for c in changes) or "nothing (the values were the same once read)"
    flash(request, f"Saved: {words}.")
    return redirect(request, contact_path(profile))


# -- suppress and lift ------------------------------------------------------------------------------


@requires("admin")
async def suppress(request: Request) -> Response:
    return await _suppression(request, lift=False)


@requires("admin")
async def unsuppress(request: Request) -> Response:
    return await _suppression(request, lift=True)


async def _suppression(request: Request, *, lift: bool) -> Response:
    form = await checked_form(request)
    profile = await _profile(request)
    ctx, user = context(request), request.state.user
    reason, confirm = str(form.get("reason") or "")[:2000], str(form.get("confirm") or "")[:MAX_KEY]
    try:
        if lift:
            said = await ctx.run(ctx.ws.unsuppress, profile.id, reason, user.name, "app", confirm)
        else:
            said = await ctx.run(ctx.ws.suppress, profile.id, reason, user.name, "app")
    except OutreachError as exc:
        return page(request, "admin/contact.html", status=400, profile=profile, error=exc.detail, reason=reason,
                    lifting=lift)  # fmt: skip
    flash(request, said)
    return redirect(request, contact_path(profile))


def routes() -> list[BaseRoute]:
    return [
        Route("/contacts", contact_list, methods=["GET"]),
        Route("/contacts/{key}", contact_page, methods=["GET"]),
        Route("/contacts/{key}/edit", edit_page, methods=["GET"]),
        Route("/contacts/{key}/edit", edit_post, methods=["POST"]),
        Route("/contacts/{key}/suppress", suppress, methods=["POST"]),
        Route("/contacts/{key}/unsuppress", unsuppress, methods=["POST"]),
    ]

