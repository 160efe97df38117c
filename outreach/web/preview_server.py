"""``outreach content preview NAME --serve``: the team app's preview page for one campaign, alone.

It is the same page and the same code as ``/app/preview/NAME`` (``writer.py``,
``studio/live.py``), served at ``/`` on uvicorn without a login: it listens
on 127.0.0.1 by default, answers only GET, and, on a loopback address, only
requests whose ``Host`` is that address, so a web page in the writer's
browser cannot reach contact data through DNS rebinding.
"""

from __future__ import annotations

from sqlalchemy import Engine

from outreach.campaigns.definition import load_campaign
from outreach.errors import InputError, NotFoundError, OutreachError
from outreach.settings.workspace import WorkspaceConfig
from outreach.studio.live import Previewer
from outreach.web.app import create_preview_app, loopback_hosts
from outreach.web.server import Server, bind
from outreach.workspace import Workspace


class PreviewServer(Server):
    previewer: Previewer


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
    sock = bind(host, port)  # first, so a busy port is the error before any work
    app = create_preview_app(Workspace(ws, engine), name, contact, loopback_hosts(host, sock.getsockname()[1]))
    server = PreviewServer(app, sock=sock)
    server.previewer = app.state.previewer
    return server


def serve_forever(server: Server, poll_interval: float = 0.5) -> None:
    """Serve until Ctrl-C (or ``shutdown()``), then close the socket: stopping is how a preview ends."""
    try:
        server.serve_forever(poll_interval)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
