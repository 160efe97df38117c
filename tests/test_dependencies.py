"""The library internals outreach relies on are still where we use them.

pyproject.toml caps these libraries below their next major version; when one
is raised, these tests say at once which internal moved, instead of a subtle
failure (or a silent slowdown) deep in a send or a classification.
"""

from __future__ import annotations

import inspect

import aiosmtplib
import jinja2


def test_jinja2_templates_expose_the_render_internals_we_call() -> None:
    # content/rendering.py renders with root_render_func(new_context(...)) to skip two dict copies
    template = jinja2.Environment().from_string("{{ a }}")
    assert callable(template.root_render_func)
    context = template.new_context({"a": "x"}, shared=True)
    assert template.environment.concat(template.root_render_func(context)) == "x"


def test_aiosmtplib_client_offers_the_data_path_we_write_through() -> None:
    # sending/smtp.py writes wire-safe DATA bytes on client.protocol and reads the reply itself
    client = aiosmtplib.SMTP()
    assert hasattr(client, "protocol")
    assert "timeout" in inspect.signature(aiosmtplib.protocol.SMTPProtocol.read_response).parameters
    assert callable(aiosmtplib.protocol.SMTPProtocol.write)
    assert callable(client.execute_command) and callable(client.supports_extension)


def test_flufl_bounce_keeps_its_detector_list() -> None:
    # tracking/bounces.py runs each detector on its own, so one crashing detector does not stop the rest
    from flufl.bounce._scan import _DETECTORS

    assert len(_DETECTORS) > 10
    assert all(callable(getattr(d, "process", None)) for d in (cls() for cls in _DETECTORS))


def test_uvicorn_offers_the_server_and_protocol_hooks_we_use() -> None:
    # web/server.py runs uvicorn.Server on a socket we bound, stops it with should_exit, and subclasses the
    # auto-chosen HTTP protocol (a half-closed connection stays open for the answer; no access log of tokens)
    import asyncio

    import uvicorn
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    assert "sockets" in inspect.signature(uvicorn.Server.run).parameters
    assert hasattr(uvicorn.Server(uvicorn.Config(app=None, log_config=None)), "should_exit")  # no logging set up
    assert issubclass(AutoHTTPProtocol, asyncio.Protocol) and callable(AutoHTTPProtocol.eof_received)


def test_starlette_still_has_the_cookie_parser_we_read_sessions_with() -> None:
    # web/sessions.py reads the session cookie from the raw headers with starlette's own parser
    from starlette.requests import cookie_parser

    assert cookie_parser("a=1; outreach_session=x.y") == {"a": "1", "outreach_session": "x.y"}
