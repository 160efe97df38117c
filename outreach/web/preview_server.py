"""The writer's live preview: ``outreach content preview NAME --serve``.

A page on 127.0.0.1 that shows a campaign's message as one recipient would
get it, and reloads by itself while the writer edits. Why it works as it does:

* The content is compiled once per change, not once per request. ``/version``
  is a hash of the watched files' mtimes and sizes (outreach.yaml, the
  campaign's YAML, its Markdown, the step contents, the segment); the first
  request that sees a new version recompiles, every other request reuses the
  compiled factories. The page polls ``/version`` every second and reloads
  when it changes, so saving the file is all the writer does.
* A render error (a syntax error with file and line, an undefined variable for
  this contact, a broken YAML) is shown in a red box on the page: the server
  keeps running and the next save can fix it.
* Contact data is untrusted: every value in the toolbar is HTML-escaped, the
  ``contact`` parameter is only ever looked up in the database, and the
  message's HTML part is shown in an ``<iframe srcdoc>`` with ``sandbox`` (no
  scripts, an opaque origin), so neither its inlined CSS nor anything in it
  reaches the toolbar. The page loads nothing from the network itself; a
  strict Content-Security-Policy with a per-response nonce for the few lines of
  polling script says so to the browser.
* Only GET is served, and, when bound to a loopback address, only requests
  whose ``Host`` is that loopback address: a web page in the writer's browser
  cannot reach contact data through DNS rebinding.
"""

from __future__ import annotations

import hashlib
import html
import ipaddress
import json
import logging
import re
import secrets
import threading
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from outreach.audience.contacts import ContactView, get_contact
from outreach.audience.segments import contacts_query, load_segment, segment_path
from outreach.campaigns.builder import campaign_id, new_message_id
from outreach.campaigns.definition import CampaignSpec, load_campaign
from outreach.campaigns.messages import MessageFactory, Prepared, step_factories
from outreach.errors import InputError, NotFoundError, OutreachError
from outreach.settings.config import SETTINGS_FILE
from outreach.settings.workspace import WorkspaceConfig, load_workspace
from outreach.web.headers import security_headers

log = logging.getLogger("outreach.preview")

MAX_CONTACTS = 200  # in the switcher; any other contact is one ?contact=EMAIL away
GMAIL_CLIP = 102 * 1024  # Gmail hides everything after this many bytes of HTML
_PREHEADER = re.compile(r'<div class="preheader"[^>]*>(.*?)</div>', re.S)
_TAGS = re.compile(r"<[^>]+>")
_HEAD = re.compile(r"<head\b[^>]*>", re.I)


# -- the core: compile once per change, render per request ----------------------------------


def file_version(paths: tuple[Path, ...]) -> str:
    """A short hash of the files' mtimes and sizes: changes whenever an editor saves one."""
    h = hashlib.sha256()
    for path in paths:
        try:
            st = path.stat()
            h.update(f"{path}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
        except OSError:
            h.update(f"{path}\0missing\n".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Compiled:
    """One version of the campaign, ready to render: factories per step, or the error that stopped it."""

    version: str
    files: tuple[Path, ...]
    ws: WorkspaceConfig | None = None
    spec: CampaignSpec | None = None
    factories: dict[int, MessageFactory] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class View:
    """Everything one page shows; ``error`` replaces the message when rendering failed."""

    version: str
    contacts: tuple[ContactView, ...] = ()
    contact: ContactView | None = None
    steps: int = 1
    step: int = 0
    prepared: Prepared | None = None
    error: str | None = None

    @property
    def preheader(self) -> str:
        """As the recipient's inbox shows it: read back from the rendered HTML part."""
        if self.prepared is None:
            return ""
        match = _PREHEADER.search(self.prepared.rendered.html)
        return " ".join(html.unescape(_TAGS.sub("", match.group(1))).split()) if match else ""


class Previewer:
    """The campaign being previewed: watches its files and keeps the latest compiled version."""

    def __init__(self, ws: WorkspaceConfig, engine: Engine, name: str, default_email: str | None = None) -> None:
        self.root, self.engine, self.name, self.default_email = ws.root, engine, name, default_email
        self._lock = threading.Lock()
        self._compiled = self._compile(ws, self._base_files())

    def _base_files(self) -> tuple[Path, ...]:
        return self.root / SETTINGS_FILE, self.root / "campaigns" / f"{self.name}.yaml"

    def version(self) -> str:
        """What ``/version`` answers; cheap (a few stat calls), polled every second by each open page."""
        return file_version(self._compiled.files)

    def current(self) -> Compiled:
        """The compiled campaign for the files as they are now; recompiles only after a change."""
        with self._lock:  # one recompile per change, even with several tabs polling at once
            compiled = self._compiled
            if file_version(compiled.files) != compiled.version:
                self._compiled = compiled = self._recompile(compiled.files)
            return compiled

    def _recompile(self, files: tuple[Path, ...]) -> Compiled:
        """outreach.yaml is read again too: a changed sender or organization shows at once."""
        before = file_version(files)
        try:
            ws = load_workspace(self.root)
        except OutreachError as exc:
            return Compiled(before, files, error=str(exc))
        return self._compile(ws, files, before)

    def _compile(self, ws: WorkspaceConfig, files: tuple[Path, ...], before: str | None = None) -> Compiled:
        """Keyed by the version taken before reading, so a save during the compile triggers another."""
        before = before or file_version(files)
        spec = None
        try:
            spec = load_campaign(ws, self.name)
            watched = self._watched(ws, spec)
            base = MessageFactory.for_campaign(ws, self.engine, spec, campaign_id(self.engine, spec, create=True))
            factories = step_factories(ws, spec, base)
        except OutreachError as exc:  # spec kept when only the content failed: the contact list still shows
            return Compiled(before, files, ws=ws, spec=spec, error=str(exc))
        version = before if watched == files else file_version(watched)
        return Compiled(version, watched, ws=ws, spec=spec, factories=factories)

    def _watched(self, ws: WorkspaceConfig, spec: CampaignSpec) -> tuple[Path, ...]:
        steps = tuple(ws.campaigns_dir / step.content for step in spec.file.steps)
        segment = segment_path(ws, spec.file.segment)
        return tuple(dict.fromkeys((*self._base_files(), spec.path, spec.content_path, *steps, segment)))

    def view(self, email: str | None, step: int = 0) -> View:
        """Render step ``step`` for ``email`` (default: the segment's first contact); errors go in the View."""
        compiled = self.current()
        view = View(compiled.version, steps=max(len(compiled.factories), 1), step=step, error=compiled.error)
        if compiled.ws is None or compiled.spec is None:
            return view
        try:
            view = replace(view, contacts=self._contacts(compiled.ws, compiled.spec))
            contact = self._contact(view.contacts, email or self.default_email)
            view = replace(view, contact=contact)
            if compiled.error is not None:
                return view
            if step not in compiled.factories:
                raise NotFoundError(f"campaign {self.name!r} has no step {step} (steps 0 to {view.steps - 1})")
            prepared = compiled.factories[step].prepare(contact, new_message_id(compiled.spec.sender.domain))
        except OutreachError as exc:
            return replace(view, error=compiled.error or str(exc))
        return replace(view, prepared=prepared)

    def _contacts(self, ws: WorkspaceConfig, spec: CampaignSpec) -> tuple[ContactView, ...]:
        """The segment's first contacts, read per request: an import shows without a restart."""
        query = contacts_query(ws, load_segment(ws, spec.file.segment)).limit(MAX_CONTACTS)
        with Session(self.engine) as session:
            return tuple(ContactView.of(c) for c in session.scalars(query))

    def _contact(self, contacts: tuple[ContactView, ...], email: str | None) -> ContactView:
        if email:
            found = next((c for c in contacts if c.email == email.strip().lower()), None)
            found = found or get_contact(self.engine, email[:320])
            if found is None:
                raise NotFoundError(f"no contact {email!r}; import it first or pick another")
            return found
        if not contacts:
            raise NotFoundError("the campaign's segment has no contacts to preview with; import contacts "
                                "or add ?contact=EMAIL to the address")  # fmt: skip
        return contacts[0]


# -- the page ---------------------------------------------------------------------------------

_STYLE = """
*{box-sizing:border-box}body{margin:0;font:14px/1.4 -apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;
color:#1f2933;background:#e4e7eb}#toolbar{position:sticky;top:0;padding:.6rem 1rem;background:#102a43;color:#f0f4f8;
display:flex;flex-wrap:wrap;gap:.4rem 1.2rem;align-items:center}#toolbar form{display:flex;gap:.5rem;flex-wrap:wrap;
align-items:center;margin:0}select,button{font:inherit;max-width:32rem}#toolbar a{color:#9fb3c8}
#toolbar a[aria-current]{color:#fff;font-weight:600;text-decoration:none}dl{margin:0;display:grid;
grid-template-columns:auto 1fr;gap:.1rem .6rem;width:100%}dt{color:#9fb3c8}dd{margin:0;word-break:break-word}
.warn{color:#f7c948}.error{margin:1rem;padding:.8rem 1rem;background:#fde8e8;border:2px solid #c0392b;
border-radius:6px;color:#7b1e1e;white-space:pre-wrap;font-family:ui-monospace,Menlo,Consolas,monospace}
iframe{display:block;width:100%;height:calc(100vh - 9rem);min-height:30rem;border:0;background:#fff}
pre{margin:1rem auto;max-width:48rem;padding:1rem;background:#fff;white-space:pre-wrap;word-break:break-word;
font:13px/1.5 ui-monospace,Menlo,Consolas,monospace}
"""

_SCRIPT = """(function(){var v=%s;
document.querySelectorAll('#toolbar select').forEach(function(s){
s.addEventListener('change',function(){s.form.submit();});});
function poll(){fetch('/version',{cache:'no-store'}).then(function(r){return r.text();}).then(function(t){
if(t.trim()!==v){location.reload();}else{setTimeout(poll,1000);}},function(){setTimeout(poll,2000);});}
setTimeout(poll,1000);})();"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _link(**params: object) -> str:
    return "?" + urlencode({k: v for k, v in params.items() if v not in (None, "")})


def _option(contact: ContactView, selected: ContactView | None) -> str:
    label = " · ".join(p for p in (contact.email, contact.full_name, contact.company) if p)
    chosen = " selected" if selected is not None and contact.email == selected.email else ""
    return f'<option value="{_e(contact.email)}"{chosen}>{_e(label)}</option>'


def _step_option(step: int, current: int) -> str:
    label = "first email" if step == 0 else f"follow-up {step}"
    return f'<option value="{step}"{" selected" if step == current else ""}>{label}</option>'


def _switcher(view: View, mode: str) -> str:
    contacts = view.contacts
    if view.contact is not None and all(c.email != view.contact.email for c in contacts):
        contacts = (view.contact, *contacts)  # a ?contact= from outside the first MAX_CONTACTS
    options = "".join(_option(c, view.contact) for c in contacts)
    steps = ""
    if view.steps > 1:
        names = "".join(_step_option(k, view.step) for k in range(view.steps))
        steps = f'<label>Email <select name="step">{names}</select></label>'
    return (
        '<form method="get" action="/">'
        f'<label>Contact <select name="contact">{options}</select></label>{steps}'
        f'<input type="hidden" name="view" value="{_e(mode)}"><button type="submit">Show</button></form>'
    )


def _views(view: View, mode: str) -> str:
    email = view.contact.email if view.contact else None
    step = view.step or None
    links = []
    for key, label in (("html", "HTML part"), ("text", "Text part")):
        current = ' aria-current="page"' if key == mode else ""
        links.append(f'<a href="{_e(_link(contact=email, step=step, view=key))}"{current}>{label}</a>')
    alone = "/message.html" + _link(contact=email, step=step)
    links.append(f'<a href="{_e(alone)}" target="_blank" rel="noopener">open alone</a>')
    return f"<nav>{' · '.join(links)}</nav>"


def _details(view: View) -> str:
    if view.prepared is None:
        return ""
    size = len(view.prepared.data) / 1024
    html_size = len(view.prepared.rendered.html.encode())
    clip = (' <span class="warn">(Gmail clips an HTML part over 102 KB)</span>'
            if html_size > GMAIL_CLIP else "")  # fmt: skip
    return (
        f'<dl><dt>Subject</dt><dd id="subject">{_e(view.prepared.rendered.subject)}</dd>'
        f'<dt>Preheader</dt><dd id="preheader">{_e(view.preheader)}</dd>'
        f"<dt>To</dt><dd>{_e(view.contact.email if view.contact else '')}</dd>"
        f'<dt>Size</dt><dd id="size">{size:.1f} KB message, HTML part {html_size / 1024:.1f} KB{clip}</dd></dl>'
    )


def _links_open_outside(message: str) -> str:
    """A link clicked in the preview opens in a new tab, as in a mail client, instead of inside the iframe
    (where the page's CSP would block it). Only the shown copy changes: size and /message.html don't."""
    return _HEAD.sub(lambda m: m.group(0) + '<base target="_blank">', message, count=1)


def _body(view: View, mode: str) -> str:
    if view.error is not None:
        return f'<div class="error" role="alert" id="error">{_e(view.error)}</div>'
    assert view.prepared is not None
    if mode == "text":
        return f'<pre id="text">{_e(view.prepared.rendered.text)}</pre>'
    # sandbox without allow-scripts or allow-same-origin: the message runs nothing and reaches nothing
    return (f'<iframe id="message" title="HTML part" sandbox="allow-popups allow-popups-to-escape-sandbox" '
            f'srcdoc="{_e(_links_open_outside(view.prepared.rendered.html))}"></iframe>')  # fmt: skip


def render_page(name: str, view: View, mode: str, nonce: str) -> bytes:
    """The whole toolbar page; every dynamic value escaped, the only script carrying the nonce."""
    title = view.prepared.rendered.subject if view.prepared else "error"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{_e(name)}: {_e(title)}</title><style>{_STYLE}</style></head><body>"
        f'<header id="toolbar"><strong>{_e(name)}</strong>{_switcher(view, mode)}{_views(view, mode)}'
        f"{_details(view)}</header><main>{_body(view, mode)}</main>"
        f'<script nonce="{_e(nonce)}">{_SCRIPT % json.dumps(view.version)}</script></body></html>'
    ).encode()


# -- HTTP -------------------------------------------------------------------------------------------


class PreviewServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], previewer: Previewer) -> None:
        self.previewer = previewer
        super().__init__(address, PreviewHandler)
        self.allowed_hosts = _allowed_hosts(address[0], self.server_port)

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.server_port}/"


def _allowed_hosts(host: str, port: int) -> frozenset[str] | None:
    """The Host headers accepted on a loopback bind (None: any, when the writer chose another address)."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        return None
    return frozenset(f"{h}:{port}" for h in ("127.0.0.1", "localhost", "[::1]", host))


class PreviewHandler(BaseHTTPRequestHandler):
    server: PreviewServer
    server_version = "outreach"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        allowed = self.server.allowed_hosts
        if allowed is not None and (self.headers.get("Host") or "").lower() not in allowed:
            self._send(HTTPStatus.BAD_REQUEST, b"unexpected Host header\n", "text/plain")
            return
        url = urlsplit(self.path)
        params = parse_qs(url.query, max_num_fields=10)
        route = {"/": self._page, "/message.html": self._message, "/version": self._version}.get(url.path)
        if route is None:
            self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain")
            return
        try:
            route(params)
        except Exception as exc:  # noqa: BLE001 - a bug must show in the page, not kill the preview
            log.exception("preview failed")
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {exc}\n".encode(), "text/plain")

    def _not_allowed(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, b"only GET\n", "text/plain", allow="GET")

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed  # noqa: N815

    def _page(self, params: dict[str, list[str]]) -> None:
        mode = "text" if _param(params, "view") == "text" else "html"
        view = self.server.previewer.view(_param(params, "contact"), _step(params))
        nonce = secrets.token_urlsafe(16)
        csp = (f"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'; connect-src 'self'; "
               "img-src data: http: https:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")  # fmt: skip
        self._send(HTTPStatus.OK, render_page(self.server.previewer.name, view, mode, nonce), csp=csp)

    def _message(self, params: dict[str, list[str]]) -> None:
        """The HTML part alone, for a tab of its own; the CSP sandbox keeps it inert there too."""
        view = self.server.previewer.view(_param(params, "contact"), _step(params))
        if view.prepared is None:
            self._send(HTTPStatus.OK, f"<!doctype html><pre>{_e(view.error)}</pre>".encode(),
                       csp="sandbox; default-src 'none'")  # fmt: skip
            return
        csp = "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; " \
              "style-src 'unsafe-inline'; img-src data: http: https:"  # fmt: skip
        self._send(HTTPStatus.OK, view.prepared.rendered.html.encode(), csp=csp)

    def _version(self, _params: dict[str, list[str]]) -> None:
        self._send(HTTPStatus.OK, self.server.previewer.version().encode(), "text/plain")

    def _send(self, status: HTTPStatus, body: bytes, ctype: str = "text/html", csp: str | None = None,
              **extra: str) -> None:  # fmt: skip
        self.send_response(status)
        headers = security_headers(ctype, len(body), csp, **extra)
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
        """Debug level: the page polls every second, which would bury everything else."""
        log.debug("%s %s", self.address_string(), format % args)


def _param(params: dict[str, list[str]], key: str) -> str | None:
    values = params.get(key)
    return values[0] if values else None


def _step(params: dict[str, list[str]]) -> int:
    raw = _param(params, "step") or "0"
    return int(raw) if raw.isdigit() and len(raw) < 4 else -1


def make_server(ws: WorkspaceConfig, engine: Engine, name: str, host: str = "127.0.0.1", port: int = 8026,
                contact: str | None = None) -> PreviewServer:  # fmt: skip
    """The server, bound and ready for ``serve_forever`` (port 0: any free port).

    An unknown campaign fails here; a campaign that does not compile yet is
    served anyway, its error on the page, since fixing it is what the writer is
    about to do.
    """
    if not 0 <= port <= 65535:
        raise InputError(f"--port {port} is not a port number (0-65535)")
    try:
        load_campaign(ws, name)
    except NotFoundError:
        raise  # an unknown campaign: nothing to preview
    except OutreachError:
        pass  # shown on the page until the writer fixes it
    previewer = Previewer(ws, engine, name, contact)
    try:
        return PreviewServer((host, port), previewer)
    except OSError as exc:
        raise InputError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def serve_forever(server: PreviewServer, poll_interval: float = 0.5) -> None:
    """Serve until Ctrl-C (or ``shutdown()``), then close the socket: stopping is how a preview ends."""
    try:
        server.serve_forever(poll_interval)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
