"""Signed session cookies and the CSRF token that every form of the team app carries.

Why this shape:

* The session lives in the cookie, signed (itsdangerous, HMAC-SHA1 over a key
  derived from the workspace secret) and timestamped; nothing is stored on the
  server. It only holds the user id, the user's ``session_gen`` (bumped at
  logout or a new password, which ends every session at once), the login time
  and the CSRF token.
* The cookie is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (another
  site's form posts without it), scoped to the app's path, and ``Secure``
  whenever the request came over TLS (directly, or per a trusted proxy's
  ``X-Forwarded-Proto``) or the configured public address is https.
* CSRF: a random token per session, in a hidden ``csrf_token`` field of every
  form (or the ``X-CSRF-Token`` header htmx sends) and compared in constant
  time with the session's copy. A login form gets one too, before any login,
  so nobody can log a victim into the attacker's account either.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import FormData, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request, cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "outreach_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_FORM_FIELDS = 40


def session_key(workspace_secret: bytes) -> bytes:
    """A key for cookies only: a leaked cookie key says nothing about the unsubscribe or click MACs."""
    return hmac.new(workspace_secret, b"outreach team app session cookies", hashlib.sha256).digest()


class SessionMiddleware:
    """Puts the cookie's dict at ``scope["session"]`` (``request.session``) and writes it back if changed."""

    def __init__(self, app: ASGIApp, *, secret: bytes, max_age: int, path: str = "/app",
                 always_secure: bool = False) -> None:  # fmt: skip
        self.app = app
        self.serializer = URLSafeTimedSerializer(secret, salt="outreach.session")
        self.max_age, self.path, self.always_secure = max_age, path, always_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        data = self._load(scope)
        scope["session"] = data
        before = json.dumps(data, sort_keys=True)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                session = scope["session"]
                if json.dumps(session, sort_keys=True) != before:
                    MutableHeaders(scope=message).append("Set-Cookie", self._cookie(scope, session))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _load(self, scope: Scope) -> dict[str, Any]:
        for name, value in scope["headers"]:
            if name == b"cookie":
                raw = cookie_parser(value.decode("latin-1")).get(COOKIE)
                if raw:
                    try:
                        data = self.serializer.loads(raw, max_age=self.max_age)
                    except BadSignature:  # forged, altered or expired: a fresh anonymous session
                        return {}
                    return data if isinstance(data, dict) else {}
        return {}

    def _cookie(self, scope: Scope, session: dict[str, Any]) -> str:
        secure = "; Secure" if self.always_secure or scope.get("scheme") == "https" else ""
        flags = f"; Path={self.path}; HttpOnly; SameSite=Lax{secure}"
        if not session:
            return f"{COOKIE}=; Max-Age=0{flags}"
        return f"{COOKIE}={self.serializer.dumps(session)}; Max-Age={self.max_age}{flags}"


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made on first use."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return token


async def checked_form(request: Request, max_part_size: int = 64 * 1024, limit: int | None = None,
                       max_fields: int = MAX_FORM_FIELDS) -> FormData:  # fmt: skip
    """The POSTed form, after its CSRF token matched the session's; 403 otherwise. Every POST handler
    reads its form through this, so none can forget the check. ``max_part_size``: the largest field (the
    writer's editor posts a whole content file); ``limit``: the whole body's bytes, read no further (413);
    ``max_fields``: more fields than this is a 400 (the import's column mapping has one per column)."""
    if limit is not None:
        try:
            request = _replayed(request, await bounded_body(request, limit))
        except TooLarge:
            too_big = f"This form is larger than {limit // 1024 // 1024} MB; nothing was saved."
            raise HTTPException(413, too_big) from None
    form = await request.form(max_files=0, max_fields=max_fields, max_part_size=max_part_size)
    check_csrf(request, form)
    return form


def _replayed(request: Request, body: bytes) -> Request:
    """The request again, its body already read (``bounded_body``), for the form parser."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(request.scope, replay)


class TooLarge(Exception):
    """A request body over the limit, noticed before more than the limit was read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"over {limit} bytes")
        self.limit = limit


async def bounded_body(request: Request, limit: int) -> bytes:
    """The request's body, read as it streams in and given up on (``TooLarge``) as soon as it passes ``limit``
    bytes: a 20 MB upload costs at most ``limit`` bytes of memory, or none when its Content-Length says so."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def checked_upload(request: Request, limit: int) -> FormData:
    """A multipart form with one file, at most ``limit`` bytes in all (``TooLarge``), after its CSRF check."""
    replayed = _replayed(request, await bounded_body(request, limit))
    form = await replayed.form(max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=limit)
    check_csrf(request, form)
    return form


def check_csrf(request: Request, form: FormData) -> None:
    """403 unless the form's (or the X-CSRF-Token header's) token is the session's; for forms read another way
    (uploads) too."""
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    expected = request.session.get("csrf")
    if not isinstance(sent, str) or not isinstance(expected, str) or not hmac.compare_digest(
            sent.encode("utf-8", "replace"), expected.encode("utf-8", "replace")):  # fmt: skip
        raise HTTPException(403, "This form has expired or did not come from this site. Reload the page and try again.")
