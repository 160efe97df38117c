"""Every error of the API is an RFC 9457 problem details object (``application/problem+json``).

``{"type": "about:blank", "title": "Not Found", "status": 404, "detail": "..."}``,
with extension members where they help a client act: ``errors`` (each with
the item's ``index`` in a list body, the ``field`` and the ``message``) for a
request that did not validate, ``current_version`` for a stale update.
Nothing internal (a stack trace, a SQL statement) is ever in one: a server
error is logged and answered with a bare 500 problem.

OutreachError subclasses map onto statuses once, here: a missing thing is
404, a stale or conflicting change 409, a refused input 422, a workspace
file that does not load is the operator's to fix (500, its message kept).
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from outreach.errors import ConfigError, ConflictError, InputError, NotFoundError, OutreachError, StateError

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("outreach.api")


class Problem(Exception):
    """Raised by an endpoint: answered as a problem with ``status``, ``detail`` and any extension members."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers, self.extra = status, detail, headers, extra


def problem(status: int, detail: str | None = None, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:  # fmt: skip
    body: dict[str, Any] = {"type": "about:blank", "title": _title(status), "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


STATUS_OF: tuple[tuple[type[OutreachError], int], ...] = (
    (NotFoundError, 404), (ConflictError, 409), (StateError, 409), (InputError, 422), (ConfigError, 500),
)  # fmt: skip


def from_outreach(exc: OutreachError) -> Problem:
    """The error's own words; for a workspace file that does not load, without the server's file path."""
    status = next((code for cls, code in STATUS_OF if isinstance(exc, cls)), 422)
    if status == 500:
        log.error("the workspace's configuration: %s", exc)
        return Problem(500, f"the workspace's configuration has an error: {exc.detail}")
    return Problem(status, str(exc))


async def on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    return problem(exc.status, exc.detail, exc.headers, **exc.extra)


async def on_outreach_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OutreachError)
    return await on_problem(request, from_outreach(exc))


async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != _title(exc.status_code) else None
    return problem(exc.status_code, detail, dict(exc.headers) if exc.headers else None)


async def on_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [field_error(e) for e in exc.errors()]
    first = errors[0] if errors else {"message": "the request is not valid"}
    where = " ".join(str(p) for p in (f"item {first['index']}" if "index" in first else None,
                                      first.get("field")) if p)  # fmt: skip
    return problem(422, f"{where}: {first['message']}" if where else first["message"], errors=errors)


async def on_server_error(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return problem(500, "Something went wrong on our side; it has been logged.")


def field_error(error: Any) -> dict[str, Any]:
    """One pydantic error as ``{location, index?, field?, message}``: the item of a list body by its index,
    the field by its name (the union's branch names and 'body' are left out)."""
    loc = [p for p in error.get("loc", ()) if p not in ("one", "many")]
    out: dict[str, Any] = {"location": str(loc[0]) if loc else "body"}
    rest = loc[1:]
    if out["location"] == "body" and rest and isinstance(rest[0], int):
        out["index"] = rest[0]
        rest = rest[1:]
    if rest:
        out["field"] = ".".join(str(p) for p in rest)
    out["message"] = str(error.get("msg", "not valid"))[:300]
    return out


HANDLERS = {Problem: on_problem, OutreachError: on_outreach_error, HTTPException: on_http_error,
            RequestValidationError: on_invalid, Exception: on_server_error}  # fmt: skip
