"""The response headers every answer carries: one home, so no route forgets one.

``SecurityHeaders`` wraps the whole application: it gives every request a
CSP nonce (``request.state.nonce``, which the templates put on their script
tags; made only when a page asks for it, since the public routes that answer
link scanners' bursts run no script) and adds, to every response that does
not set its own, a Content-Security-Policy that runs no script without that
nonce (none at all when no nonce was made) and lets no other site frame the
page, plus ``nosniff``, ``no-referrer`` and ``no-store``. A route that needs another policy (the writer's preview shows
the message's remote images; the message alone is sandboxed) sets its own
``Content-Security-Policy`` with ``csp()``, and the rest are still added.
"""

from __future__ import annotations

import secrets

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_CSP = "default-src 'none'; frame-ancestors 'none'"


def csp(nonce: object | None, *, images: str = "'self' data:") -> str:
    """The app's policy: scripts only from us with the nonce (no nonce: no script at all); ``images`` for
    pages showing a message.

    Inline styles are allowed (the reports' charts and a message's own CSS use them); inline scripts never are.
    """
    scripts = f"script-src 'self' 'nonce-{nonce}'; " if nonce is not None else ""
    return (f"default-src 'none'; {scripts}style-src 'self' 'unsafe-inline'; img-src {images}; connect-src 'self'; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")


class Nonce:
    """A request's nonce, drawn from the OS on first use only (``str(nonce)``)."""

    __slots__ = ("_value",)

    def __init__(self) -> None:
        self._value: str | None = None

    def __str__(self) -> str:
        if self._value is None:
            self._value = secrets.token_urlsafe(16)
        return self._value

    @property
    def used(self) -> bool:
        return self._value is not None


MESSAGE_IMAGES = "'self' data: http: https:"  # a message's own pictures, shown as a mail client would
ERROR_ALONE_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"
MESSAGE_ALONE_CSP = ("sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
                     "style-src 'unsafe-inline'; img-src data: http: https:; frame-ancestors 'none'")  # fmt: skip


class SecurityHeaders:
    """Pure ASGI (no per-request task or buffering), so the public routes stay fast under a burst."""

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = Nonce()
        scope.setdefault("state", {})["nonce"] = nonce
        https = self.hsts or scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", csp(nonce if nonce.used else None))
                headers.setdefault("Cache-Control", "no-store")
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "no-referrer"
                headers["X-Frame-Options"] = "DENY"
                headers["Cross-Origin-Opener-Policy"] = "same-origin"
                if https:
                    headers["Strict-Transport-Security"] = "max-age=31536000"
            await send(message)

        await self.app(scope, receive, send_with_headers)
