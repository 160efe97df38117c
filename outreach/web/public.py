"""The public routes behind every message: ``/u/TOKEN`` (unsubscribe) and ``/c/TOKEN?u=URL&s=MAC`` (clicks).

Why they behave as they do:

* GET on an unsubscribe link only shows a confirmation page with a button.
  Link scanners and mail security gateways follow every GET in a message; if
  GET unsubscribed, they would unsubscribe people who never asked.
* POST unsubscribes at once: that is RFC 8058's one-click (the mail client
  POSTs ``List-Unsubscribe=One-Click``) and also what the page's button sends.
  Any POST to a genuine token counts, whatever the body: a person who asked to
  leave must never be kept because their client encoded the form oddly.
* Tokens are checked with the workspace HMAC (as bytes, constant time) before
  the database is touched. A forged, altered, malformed or oversized token
  gets the same 404 page as an unknown path, so the endpoint says nothing
  about which addresses exist. Unsubscribing is idempotent.
* A click redirects only when its URL's MAC verifies; nothing else ever
  redirects (a database error is a 503 page, never a redirect to an
  unchecked URL). Checking needs no database, so the redirect answers at
  once and the click is written by the ``ClickRecorder`` in batches: a burst
  of link scanners does not queue behind SQLite writes.
* The paths match under any prefix (``/outreach/u/...``), for a reverse
  proxy that keeps one, and tokens never reach the log.
"""

from __future__ import annotations

import html
import logging
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote

from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from outreach.settings.workspace import WorkspaceConfig
from outreach.tracking.clicks import TOKEN, verify_click
from outreach.tracking.unsubscribe import Target, unsubscribe
from outreach.web.render import context
from outreach.web.unavailable import RETRY_AFTER, database_down

if TYPE_CHECKING:
    from outreach.web.server import Server

log = logging.getLogger("outreach.unsubscribe")

_UNSUBSCRIBE = re.compile(r"(?:^|/)u/([^/]{1,200})/?$")  # also behind a proxy that keeps a path prefix
_CLICK = re.compile(r"(?:^|/)c/([^/]{1,200})/?$")
MAX_BODY = 64 * 1024
_SAFE_IN_LOCATION = ":/?#[]@!$&'()*+,;=%~"


def mask(email: str | None) -> str:
    """Enough of the address for its owner to recognise it, not enough to harvest it."""
    if not email or "@" not in email:
        return ""
    local, domain = email.rsplit("@", 1)
    return f"{local[0]}{'•' * min(max(len(local) - 1, 2), 6)}@{domain}"


# -- the pages --------------------------------------------------------------------------

_STYLE = """
body{margin:0;padding:0 1rem;font:16px/1.5 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2933;
background:#f4f6f8}main{max-width:28rem;margin:2rem auto;padding:1.5rem;background:#fff;border-radius:8px;
box-shadow:0 1px 3px rgba(0,0,0,.12)}h1{font-size:1.25rem;margin:0 0 .75rem}p{margin:.5rem 0}
.en{color:#52606d;font-size:.95rem}.addr{font-weight:600;word-break:break-all}
button{width:100%;margin-top:1rem;padding:.8rem 1rem;font-size:1rem;border:0;border-radius:6px;
background:#c0392b;color:#fff;cursor:pointer}button:focus{outline:3px solid #f5b7b1}
footer{margin-top:1.25rem;font-size:.8rem;color:#7b8794}
"""


# the pages speak the language of the message the link came in (else the contact's, else the workspace's),
# with one line in the other language, for a reader who expected it
TEXTS = {
    "id": {
        "confirm_title": "Berhenti berlangganan?",
        "confirm": "Anda tidak akan menerima email lagi dari {org}.",
        "button": "Ya, berhenti berlangganan",
        "done_title": "Anda telah berhenti berlangganan.",
        "done": "Kami tidak akan mengirim email lagi dari {org} ke alamat ini.",
        "confirm_other": "Berhenti berlangganan? Anda tidak akan menerima email lagi dari {org}.",
        "done_other": "Anda telah berhenti berlangganan dan tidak akan menerima email lagi dari {org}.",
    },
    "en": {
        "confirm_title": "Unsubscribe?",
        "confirm": "You will receive no more emails from {org}.",
        "button": "Yes, unsubscribe",
        "done_title": "You have been unsubscribed.",
        "done": "We will send no more emails from {org} to this address.",
        "confirm_other": "Unsubscribe? You will receive no more emails from {org}.",
        "done_other": "You have been unsubscribed and will receive no more emails from {org}.",
    },
}


def _other(lang: str) -> str:
    return "en" if lang == "id" else "id"


def _text(lang: str, key: str, org: str) -> str:
    return html.escape(TEXTS[lang][key].format(org=org))


def _page(title: str, body: str, org: str, lang: str = "id") -> bytes:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}<footer>{html.escape(org)}</footer></main></body></html>"
    ).encode()


def _masked_address(target: Target) -> str:
    """The address the page is about, masked, so a forwarded link does not reveal it whole."""
    return f'<p class="addr">{html.escape(mask(target.email))}</p>' if target.email else ""


def page_language(target: Target, default: str) -> str:
    return target.language if target.language in TEXTS else default if default in TEXTS else "id"


def confirm_page(target: Target, org: str, lang: str = "id") -> bytes:
    other = _other(lang)
    body = (
        f"<h1>{_text(lang, 'confirm_title', org)}</h1><p>{_text(lang, 'confirm', org)}</p>"
        f'<p class="en" lang="{other}">{_text(other, "confirm_other", org)}</p>{_masked_address(target)}'
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        f'<button type="submit">{_text(lang, "button", org)}</button></form>'
    )
    return _page(TEXTS[lang]["confirm_title"].rstrip("?"), body, org, lang)


def done_page(target: Target, org: str, lang: str = "id") -> bytes:
    other = _other(lang)
    body = (
        f"<h1>{_text(lang, 'done_title', org)}</h1><p>{_text(lang, 'done', org)}</p>"
        f'<p class="en" lang="{other}">{_text(other, "done_other", org)}</p>{_masked_address(target)}'
    )
    return _page(TEXTS[lang]["done_title"].rstrip("."), body, org, lang)


def invalid_page(org: str) -> bytes:
    body = (
        "<h1>Tautan tidak valid</h1>"
        "<p>Tautan ini tidak dikenali. Salin tautan lengkap dari email Anda, atau balas email tersebut "
        "dengan kata “unsubscribe”.</p>"
        '<p class="en" lang="en">This link is not valid. Copy the whole link from the email, '
        "or reply to it with the word “unsubscribe”.</p>"
    )
    return _page("Tautan tidak valid · Invalid link", body, org)


def unavailable_page(org: str) -> bytes:
    return _page("Error", "<h1>Coba lagi nanti · Please try again later</h1>", org)


# -- the routes -------------------------------------------------------------------------------


def _html(status: int, body: bytes) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)


async def public(request: Request) -> Response:
    """Everything outside /app and /static: an unsubscribe link, a click, or the invalid-link page."""
    org = context(request).org
    path = request.scope["path"]  # not request.url: building a URL object costs more than the whole check
    if (match := _CLICK.search(path)) is not None and request.method in ("GET", "HEAD"):
        return click(request, match.group(1))
    match = _UNSUBSCRIBE.search(path)
    token = match.group(1) if match is not None and TOKEN.match(match.group(1)) else None
    if request.method == "POST":
        body = await _body(request)
        return await _unsubscribe(request, token, "one-click" if b"one-click" in body.lower() else "confirmation page")
    ctx = context(request)
    ids = ctx.signer.verify(token) if token is not None else None
    if ids is None:
        return _html(404, invalid_page(org))
    assert ctx.emails is not None  # made with the context
    try:
        found = await ctx.emails.addressee(ids[0], ids[1])  # batched with the other pages asked for meanwhile
    except Exception as exc:  # noqa: BLE001 - the database failed: say so
        return _unavailable(org, exc, "unsubscribe lookup failed")
    target = Target(ids[0], ids[1], found.email if found else None, found.language if found else "")
    return _html(200, confirm_page(target, org, page_language(target, ctx.ws.config.settings.language)))


def _unavailable(org: str, exc: Exception, what: str) -> Response:
    """503: try again later (the mail client retries a one-click POST). An outage was noted and logged
    once where it was met (``WebContext.run``); anything else is logged here, with its traceback."""
    if not database_down(exc):
        log.exception(what)
    return HTMLResponse(unavailable_page(org), status_code=503, headers={"Retry-After": RETRY_AFTER})


async def _unsubscribe(request: Request, token: str | None, how: str) -> Response:
    ctx = context(request)
    if token is None:
        return _html(404, invalid_page(ctx.org))
    try:
        target = await ctx.run(unsubscribe, ctx.ws.engine, ctx.signer, token, how)
    except Exception as exc:  # noqa: BLE001 - the database failed: say so, never pretend it worked
        return _unavailable(ctx.org, exc, "unsubscribe failed")
    if target is None:
        return _html(404, invalid_page(ctx.org))
    return _html(200, done_page(target, ctx.org, page_language(target, ctx.ws.config.settings.language)))


async def _body(request: Request) -> bytes:
    """At most MAX_BODY bytes of the body; the rest is not read (the server closes that connection)."""
    received = bytearray()
    async for chunk in request.stream():
        received += chunk[: MAX_BODY - len(received)]
        if len(received) >= MAX_BODY:
            break
    return bytes(received)


def click(request: Request, token: str) -> Response:
    """302 to the link's target when its MAC verifies (and queue the click); the invalid page otherwise."""
    ctx = context(request)
    query = parse_qs(request.scope["query_string"].decode("latin-1"), max_num_fields=8)
    if len(query.get("u", ())) != 1 or len(query.get("s", ())) != 1:
        return _html(404, invalid_page(ctx.org))  # one target and one MAC, nothing ambiguous
    url, mac = query["u"][0], query["s"][0]
    verified = verify_click(ctx.signer, token, url, mac)
    if verified is None or any(ord(c) < 0x20 or c == "\x7f" for c in url):
        return _html(404, invalid_page(ctx.org))
    ctx.clicks.add(verified)
    return RedirectResponse(quote(url, safe=_SAFE_IN_LOCATION), status_code=302)


def make_server(ws: WorkspaceConfig, engine: Engine, host: str = "127.0.0.1", port: int = 8025) -> Server:
    """``outreach serve``'s whole server (these routes and the team app); kept here, where it always was."""
    from outreach.web.app import make_server as make  # the app imports this module's routes

    return make(ws, engine, host, port)
