"""Pages from the jinja2 templates in ``outreach/web/templates`` (package data), and what every page knows.

Every ``{{ value }}`` is HTML-escaped (autoescape, through ``html.escape``
with quotes, the same escaping the rest of outreach uses). Templates get the
request's CSP nonce, its CSRF token, the logged-in user and ``url()``, which
puts the public address's path prefix in front of every link, so the app
works behind a proxy that serves it under ``/outreach/``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from outreach import __version__
from outreach.operations.heartbeat import ago
from outreach.web.sessions import CSRF_FIELD, csrf_token

if TYPE_CHECKING:
    from outreach.web.app import WebContext

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def _escape(value: Any) -> Markup:
    """``&#x27;`` for a quote, as ``html.escape`` writes it: one escaping for the app and the old pages."""
    if isinstance(value, Markup) or hasattr(value, "__html__"):
        return Markup(value.__html__())
    return Markup(html.escape("" if value is None else str(value), quote=True))


_CODE = re.compile(r"`([^`\n]+)`")


def code_spans(text: Any) -> Markup:
    """A message written for the command line (``run `outreach worker` first``) as a page shows it: the text
    escaped, each backtick span a ``<code>`` element instead of literal backticks."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(_escape(text))))


def local_time(at: datetime | None, tz: tzinfo, fmt: str = "%Y-%m-%d %H:%M %Z") -> str:
    """A time the database keeps (naive UTC) in the workspace's timezone, as every page shows times (WIB)."""
    if at is None:
        return ""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(tz).strftime(fmt)


def since(at: datetime | None) -> str:
    """How long ago a time the database keeps (naive UTC) was: ``12s``, ``5m 02s`` (heartbeat.ago)."""
    if at is None:
        return ""
    now = datetime.now(UTC).replace(tzinfo=None)
    return ago((now - (at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo else at)).total_seconds())


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, finalize=_escape,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)  # fmt: skip
    env.filters["tel"] = lambda phone: re.sub(r"[^\d+]", "", str(phone))  # a tel: link without spaces
    env.filters["code_spans"] = code_spans
    env.filters["local_time"] = local_time
    env.filters["since"] = since
    env.globals["version"] = __version__
    env.globals["csrf_field"] = CSRF_FIELD
    return env


@dataclass
class Flash:
    """One message shown on the next page (after a redirect), then forgotten."""

    text: str
    kind: str = "ok"  # ok | error


def context(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def page(request: Request, template: str, status: int = 200, headers: Mapping[str, str] | None = None,
         **values: Any) -> HTMLResponse:  # fmt: skip
    """A whole page (or a fragment: any template) with the request's nonce, CSRF token, user and flash."""
    ctx = context(request)
    has_session = "session" in request.scope
    flash = request.session.pop("flash", None) if has_session else None
    body = ctx.pages.get_template(template).render(
        request=request, url=ctx.url, nonce=request.state.nonce,
        csrf=csrf_token(request) if has_session else "", user=getattr(request.state, "user", None),
        flash=Flash(**flash) if isinstance(flash, dict) else None, org=ctx.org, tz=ctx.ws.config.tz,
        worker_status=ctx.worker_state(), **values,
    )  # fmt: skip
    return HTMLResponse(body, status_code=status, headers=headers)


def flash(request: Request, text: str, kind: str = "ok") -> None:
    request.session["flash"] = {"text": text[:500], "kind": kind}


def redirect(request: Request, path: str) -> RedirectResponse:
    """303 to a path of ours (after a POST: the browser GETs it)."""
    return RedirectResponse(context(request).url(path), status_code=303)
