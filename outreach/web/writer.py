"""The writer's pages: the live preview, the lint findings, and a test copy to oneself.

The preview page shows one campaign's message as one recipient gets it (the
HTML part in a sandboxed ``<iframe srcdoc>``: no scripts, an opaque origin;
or the text part), lets the writer switch contact, follow-up step, A/B
subject and language version, and reloads by itself when a watched file is saved: its one script
polls ``…/version`` every second (``studio/live.py`` recompiles once per
change). Contact data is untrusted: everything is escaped, and the
``contact`` parameter is only ever looked up in the database.

The same page serves ``outreach content preview --serve`` (``standalone_routes``:
at ``/``, no login, GET only) and the team app (``/app/preview/NAME``, writers
only, plus the test send).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from outreach.errors import OutreachError
from outreach.settings import LANGUAGES
from outreach.studio.live import Previewer, View
from outreach.web.auth import requires
from outreach.web.headers import ERROR_ALONE_CSP, MESSAGE_ALONE_CSP, MESSAGE_IMAGES, csp
from outreach.web.render import context, flash, page, redirect
from outreach.web.sessions import checked_form
from outreach.workspace import Workspace

_HEAD = re.compile(r"<head\b[^>]*>", re.I)


def _param(request: Request, key: str) -> str | None:
    value = request.query_params.get(key)
    return value[:320] if value else None


def _lang(request: Request) -> str | None:
    """``?lang=`` when it names a language; anything else is the contact's own (no free text reaches the core)."""
    value = _param(request, "lang")
    return value if value in LANGUAGES else None


def _number(request: Request, key: str) -> int:
    raw = _param(request, key) or "0"
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 4 else -1


def _links_open_outside(message: str) -> str:
    """A link clicked in the preview opens in a new tab, as in a mail client, instead of inside the iframe
    (where the page's CSP would block it). Only the shown copy changes: size and message.html don't."""
    return _HEAD.sub(lambda m: m.group(0) + '<base target="_blank">', message, count=1)


def _query(**params: object) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "", 0)})


async def _preview_page(request: Request, previewer: Previewer, base: str, standalone: bool) -> Response:
    mode = "text" if _param(request, "view") == "text" else "html"
    step, variant, lang = _number(request, "step"), _number(request, "variant"), _lang(request)
    view: View = await context(request).run(previewer.view, _param(request, "contact"), step, variant, lang)
    email = view.contact.email if view.contact else None
    contacts = view.contacts
    if view.contact is not None and all(c.email != view.contact.email for c in contacts):
        contacts = (view.contact, *contacts)  # a ?contact= from outside the first contacts of the segment
    values: dict[str, Any] = {
        "name": previewer.name, "view": view, "mode": mode, "contacts": contacts, "base": base,
        "standalone": standalone, "layout": "bare.html" if standalone else "base.html",
        "message": _links_open_outside(view.prepared.html_for_browser()) if view.prepared else "",
        "html_link": _query(contact=email, step=view.step, variant=view.variant, lang=lang, view="html"),
        "text_link": _query(contact=email, step=view.step, variant=view.variant, lang=lang, view="text"),
        "alone_link": base + "/message.html" + _query(contact=email, step=view.step, variant=view.variant, lang=lang),
    }
    if not standalone:
        values["own_address"] = own_address(request)
    headers = {"Content-Security-Policy": csp(request.state.nonce, images=MESSAGE_IMAGES)}
    return page(request, "writer/preview.html", headers=headers, **values)


async def _message(request: Request, previewer: Previewer) -> Response:
    """The HTML part alone, for a tab of its own; the CSP sandbox keeps it inert there too."""
    view = await context(request).run(previewer.view, _param(request, "contact"), _number(request, "step"),
                                   _number(request, "variant"), _lang(request))  # fmt: skip
    if view.prepared is None:
        body = context(request).pages.get_template("writer/message_error.html").render(error=view.error)
        return HTMLResponse(body, headers={"Content-Security-Policy": ERROR_ALONE_CSP})
    return HTMLResponse(view.prepared.html_for_browser(), headers={"Content-Security-Policy": MESSAGE_ALONE_CSP})


async def _version(request: Request, previewer: Previewer) -> Response:
    return PlainTextResponse(await context(request).run(previewer.version))


async def _lint(request: Request, previewer: Previewer) -> Response:
    version, result, error = await context(request).run(previewer.lint)
    return page(request, "writer/_lint.html", result=result, error=error, version=version)


# -- the team app: /app/preview ------------------------------------------------------------------


def _previewer(request: Request) -> Previewer:
    ctx = context(request)
    name = request.path_params["name"]
    if name not in ctx.ws.campaigns():
        raise HTTPException(404, f"There is no campaign {name!r} in the workspace.")
    return ctx.previewer(str(name))


def own_address(request: Request) -> str | None:
    """Where the writer's test copies go: their account's address, else their sender's."""
    user = request.state.user
    if user.email:
        return str(user.email)
    sender = context(request).ws.config.settings.senders.get(user.sender or "")
    return sender.email if sender else None


@dataclass(frozen=True)
class ContentRow:
    """One campaign in the writer's list: its definition file and the content files the writer edits."""

    name: str
    definition: str
    content: tuple[str, ...] = ()
    error: str | None = None


def content_rows(ws: Workspace) -> list[ContentRow]:
    from outreach.campaigns.definition import load_campaign

    rows = []
    for name in ws.campaigns():
        definition = f"campaigns/{name}.yaml"
        try:
            spec = load_campaign(ws.config, name)
        except OutreachError as exc:
            rows.append(ContentRow(name, definition, error=exc.message_in(ws.root)))
            continue
        files = tuple(p.relative_to(ws.root).as_posix() if p.is_relative_to(ws.root) else p.name
                      for p in spec.all_content())  # fmt: skip
        rows.append(ContentRow(name, definition, files))  # loading checked that the content is there
    return rows


@requires("writer")
async def campaigns(request: Request) -> Response:
    rows = await context(request).run(content_rows, context(request).ws)
    return page(request, "writer/campaigns.html", rows=rows)


@requires("writer")
async def preview(request: Request) -> Response:
    previewer = await context(request).run(_previewer, request)
    return await _preview_page(request, previewer, context(request).url(f"/app/preview/{previewer.name}"), False)


@requires("writer")
async def message(request: Request) -> Response:
    return await _message(request, await context(request).run(_previewer, request))


@requires("writer")
async def version(request: Request) -> Response:
    return await _version(request, await context(request).run(_previewer, request))


@requires("writer")
async def lint(request: Request) -> Response:
    return await _lint(request, await context(request).run(_previewer, request))


@requires("writer")
async def test_send(request: Request) -> Response:
    """One copy of the first email, as the chosen contact and subject would get it, to the writer only."""
    name = _previewer(request).name
    if request.method != "POST":
        return redirect(request, f"/app/preview/{name}")
    form = await checked_form(request)
    to = own_address(request)
    lang = str(form.get("lang") or "")
    lang_or_none = lang if lang in LANGUAGES else None
    back = f"/app/preview/{name}" + _query(contact=form.get("contact") or None, variant=form.get("variant") or None,
                                           lang=lang_or_none)  # fmt: skip
    if to is None:
        flash(request, "Your account has no address for test copies; ask for one with "
                       "`outreach users add NAME --role writer --email ADDRESS`.", "error")  # fmt: skip
        return redirect(request, back)
    blocked = await context(request).run(_content_errors, _previewer(request))
    if blocked:
        flash(request, f"The test copy was not sent: {blocked}; fix the content first.", "error")
        return redirect(request, back)
    contact = str(form.get("contact") or "")[:320] or None
    variant = str(form.get("variant") or "0")
    try:
        prepared = await context(request).run(context(request).ws.test_send, name, to, contact,
                                           int(variant) if variant.isdigit() and len(variant) < 4 else 0,
                                           lang_or_none)  # fmt: skip
    except OutreachError as exc:
        flash(request, f"The test copy was not sent: {exc}", "error")
    else:
        flash(request, f"Sent a test copy to {to}: {prepared.rendered.subject}")
    return redirect(request, back)


def _content_errors(previewer: Previewer) -> str | None:
    """Why the content may not be sent, not even as a test copy: its lint errors (computed once per version)."""
    _version, result, error = previewer.lint()
    if error is not None:
        return error
    if result is not None and result.errors:
        first = result.errors[0]
        return f"the content has {len(result.errors)} error(s), the first: {first.format()}"
    return None


def routes() -> list[BaseRoute]:
    return [
        Route("/preview", campaigns),
        Route("/preview/{name}", preview),
        Route("/preview/{name}/message.html", message),
        Route("/preview/{name}/version", version),
        Route("/preview/{name}/lint", lint),
        Route("/preview/{name}/test-send", test_send, methods=["GET", "POST"]),
    ]


# -- content preview --serve: one campaign at / ------------------------------------------------


def standalone_routes() -> list[BaseRoute]:
    def previewer(request: Request) -> Previewer:
        found: Previewer = request.app.state.previewer
        return found

    async def root(request: Request) -> Response:
        return await _preview_page(request, previewer(request), "", True)

    async def alone(request: Request) -> Response:
        return await _message(request, previewer(request))

    async def ver(request: Request) -> Response:
        return await _version(request, previewer(request))

    async def findings(request: Request) -> Response:
        return await _lint(request, previewer(request))

    return [Route("/", root, methods=["GET"]), Route("/message.html", alone, methods=["GET"]),
            Route("/version", ver, methods=["GET"]), Route("/lint", findings, methods=["GET"])]  # fmt: skip
