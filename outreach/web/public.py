"""The unsubscribe endpoint behind every message's ``List-Unsubscribe`` URL: ``/u/TOKEN``.

Why it behaves as it does:

* GET only shows a confirmation page with a button. Link scanners and mail
  security gateways follow every GET in a message; if GET unsubscribed, they
  would unsubscribe people who never asked.
* POST unsubscribes at once: that is RFC 8058's one-click (the mail client
  POSTs ``List-Unsubscribe=One-Click``) and also what the page's button sends.
  Any POST to a genuine token counts, whatever the body: a person who asked to
  leave must never be kept because their client encoded the form oddly.
* The token is checked with the workspace HMAC (constant time) before the
  database is touched. A forged or altered token gets the same 404 page as an
  unknown path, so the endpoint says nothing about which addresses exist.
* It is idempotent: a second POST finds the suppression and the event already
  there and answers 200 again, changing nothing.

The stdlib ``ThreadingHTTPServer`` is enough: this is a handful of requests a
day, behind whatever reverse proxy serves ``unsubscribe.base_url``.
"""

from __future__ import annotations

import html
import logging
import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote

from sqlalchemy import Engine

from outreach.errors import InputError
from outreach.settings.tokens import Signer, workspace_signer
from outreach.settings.workspace import WorkspaceConfig
from outreach.tracking.clicks import click_target, record_click
from outreach.tracking.unsubscribe import Target, lookup, unsubscribe
from outreach.web.headers import security_headers

log = logging.getLogger("outreach.unsubscribe")

_PATH = re.compile(r"(?:^|/)u/([^/?#]{1,200})/?(?:\?.*)?$")  # also behind a proxy that keeps a path prefix
_TOKEN_IN_TEXT = re.compile(r"/[uc]/[^\s/?#\"]+")
_CLICK = re.compile(r"(?:^|/)c/([^/?#]{1,200})/?\?(.*)$")
MAX_BODY = 64 * 1024


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


def _page(title: str, body: str, org: str) -> bytes:
    return (
        '<!doctype html><html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="robots" content="noindex,nofollow">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}<footer>{html.escape(org)}</footer></main></body></html>"
    ).encode()


def _masked_address(target: Target) -> str:
    """The address the page is about, masked, so a forwarded link does not reveal it whole."""
    return f'<p class="addr">{html.escape(mask(target.email))}</p>' if target.email else ""


def confirm_page(target: Target, org: str) -> bytes:
    addr = _masked_address(target)
    body = (
        "<h1>Berhenti berlangganan?</h1>"
        f"<p>Anda tidak akan menerima email lagi dari {html.escape(org)}.</p>"
        f'<p class="en" lang="en">Unsubscribe? You will receive no more emails from {html.escape(org)}.</p>'
        f"{addr}"
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        "<button type=\"submit\">Ya, berhenti berlangganan · Yes, unsubscribe</button></form>"
    )
    return _page("Berhenti berlangganan · Unsubscribe", body, org)


def done_page(target: Target, org: str) -> bytes:
    addr = _masked_address(target)
    body = (
        "<h1>Anda telah berhenti berlangganan.</h1>"
        f"<p>Kami tidak akan mengirim email lagi dari {html.escape(org)} ke alamat ini.</p>"
        f'<p class="en" lang="en">You have been unsubscribed and will receive no more emails '
        f"from {html.escape(org)}.</p>{addr}"
    )
    return _page("Berhenti berlangganan · Unsubscribed", body, org)


def invalid_page(org: str) -> bytes:
    body = (
        "<h1>Tautan tidak valid</h1>"
        "<p>Tautan ini tidak dikenali. Salin tautan lengkap dari email Anda, atau balas email tersebut "
        "dengan kata “unsubscribe”.</p>"
        '<p class="en" lang="en">This link is not valid. Copy the whole link from the email, '
        "or reply to it with the word “unsubscribe”.</p>"
    )
    return _page("Tautan tidak valid · Invalid link", body, org)


# -- HTTP -----------------------------------------------------------------------------------


class UnsubscribeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], engine: Engine, signer: Signer, org: str) -> None:
        self.engine, self.signer, self.org = engine, signer, org
        super().__init__(address, UnsubscribeHandler)


class UnsubscribeHandler(BaseHTTPRequestHandler):
    server: UnsubscribeServer
    server_version = "outreach"
    sys_version = ""
    timeout = 30  # seconds: a client that stops sending mid-request does not hold its thread for ever

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if (click := _CLICK.search(self.path)) is not None:
            self._click(unquote(click.group(1)), parse_qs(click.group(2)))
            return
        try:
            target = self._target()
        except Exception:  # noqa: BLE001 - the database failed: say so instead of dropping the connection
            log.exception("unsubscribe lookup failed")
            self._unavailable()
            return
        if target is None:
            self._send(HTTPStatus.NOT_FOUND, invalid_page(self.server.org))
        else:
            self._send(HTTPStatus.OK, confirm_page(target, self.server.org))

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        token = self._token()
        how = "one-click" if b"one-click" in body.lower() else "confirmation page"
        try:
            target = unsubscribe(self.server.engine, self.server.signer, token, how) if token else None
        except Exception:  # noqa: BLE001 - the database failed: say so, never pretend it worked
            log.exception("unsubscribe failed")
            self._unavailable()
            return
        if target is None:
            self._send(HTTPStatus.NOT_FOUND, invalid_page(self.server.org))
        else:
            self._send(HTTPStatus.OK, done_page(target, self.server.org))

    def _click(self, token: str, query: dict[str, list[str]]) -> None:
        url, mac = (query.get("u") or [""])[0], (query.get("s") or [""])[0]
        if click_target(self.server.signer, token, url, mac) is None:  # verified first: no open redirect
            self._send(HTTPStatus.NOT_FOUND, invalid_page(self.server.org))
            return
        try:
            record_click(self.server.engine, self.server.signer, token, url, mac)
        except Exception:  # noqa: BLE001 - never lose the reader because the database hiccuped
            log.exception("recording a click failed")
        self._send(HTTPStatus.FOUND, b"", location=url)

    def _unavailable(self) -> None:
        self._send(HTTPStatus.SERVICE_UNAVAILABLE, _page("Error", "<h1>Coba lagi nanti · Please try again later</h1>",
                                                         self.server.org))  # fmt: skip

    def _not_allowed(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, invalid_page(self.server.org), allow="GET, HEAD, POST")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # noqa: N815

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Any other method (TRACE, CONNECT, ``get``, ...) is refused like PUT, with a 405: http.server's
        501 would say the server is broken when it is the request that is wrong."""
        if code == HTTPStatus.NOT_IMPLEMENTED:
            self._not_allowed()
            return
        super().send_error(code, message, explain)

    def _token(self) -> str | None:
        match = _PATH.search(self.path)
        return unquote(match.group(1)) if match else None

    def _target(self) -> Target | None:
        token = self._token()
        return lookup(self.server.engine, self.server.signer, token) if token else None

    def _body(self) -> bytes:
        """At most MAX_BODY bytes; anything odd just closes the connection afterwards."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY or self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return b""
        return self.rfile.read(length) if length else b""

    def _send(self, status: HTTPStatus, page: bytes, **extra: str) -> None:
        self.send_response(status)
        csp = ("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; "
               "base-uri 'none'")
        headers = security_headers("text/html", len(page), csp, **extra)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        """Through logging, with tokens cut out: a log file must not hold working unsubscribe links."""
        log.info("%s %s", self.address_string(), _TOKEN_IN_TEXT.sub("/…", format % args))


def make_server(ws: WorkspaceConfig, engine: Engine, host: str = "127.0.0.1", port: int = 8025) -> UnsubscribeServer:
    """The server, bound and ready for ``serve_forever`` (port 0: any free port)."""
    signer = workspace_signer(engine, ws)
    try:
        return UnsubscribeServer((host, port), engine, signer, ws.settings.organization.name)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
