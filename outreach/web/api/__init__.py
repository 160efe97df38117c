"""The JSON API under ``/api/v1``, for other systems (a CRM pushing leads, pulling replies and outcomes).

FastAPI on the same Starlette stack as the team app: the pydantic models of
``models.py`` validate every request and are the OpenAPI document at
``/api/v1/openapi.json``. ``gate.ApiGate`` stands in front of it (token, rate
limit, body size); every error is a problem details object (``problems.py``).
The endpoints call the same core as the CLI and the app through
``Workspace``: the contact import, the callers' outcome, the campaign status,
the event feed. See docs/api.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from starlette.types import ASGIApp

from outreach import __version__
from outreach.accounts.tokens import Bearer, bearer
from outreach.web.api import catalog, contacts, feed, followups
from outreach.web.api.gate import ApiGate, TokenBuckets
from outreach.web.api.models import ProblemOut
from outreach.web.api.problems import HANDLERS, MEDIA_TYPE

if TYPE_CHECKING:
    from outreach.web.app import WebContext

PREFIX = "/api/v1"
DESCRIPTION = """The JSON API of outreach. Every request carries `Authorization: Bearer TOKEN`, a token from
`outreach users token NAME`; it acts with that user's role. Errors are RFC 9457 problem details
(`application/problem+json`). Each token is rate-limited (429 with Retry-After); bodies are at most 1 MiB."""
COMMON = {status: {"model": ProblemOut, "content": {MEDIA_TYPE: {}}, "description": text}
          for status, text in ((400, "the body cannot be read (not UTF-8)"),
                               (401, "no valid token"), (403, "the token's role may not do this"),
                               (413, "the body is over 1 MiB"),
                               (429, "the token's rate limit is reached"))}  # fmt: skip


def create_api(ctx: WebContext) -> ASGIApp:
    """The API as an ASGI app to mount at ``PREFIX``."""
    api = FastAPI(title="outreach", version=__version__, description=DESCRIPTION, openapi_url="/openapi.json",
                  docs_url=None, redoc_url=None, swagger_ui_oauth2_redirect_url=None,
                  exception_handlers=HANDLERS)  # type: ignore[arg-type]  # fmt: skip
    for module in (contacts, catalog, followups, feed):
        api.include_router(module.router, responses=COMMON)  # type: ignore[arg-type]
    api.state.web = ctx
    api.openapi = functools.partial(_openapi, api, api.openapi)  # type: ignore[method-assign]
    settings = ctx.ws.config.settings.api

    async def authenticate(token: str) -> Bearer | None:
        return await ctx.run(bearer, ctx.ws.engine, token)

    return ApiGate(api, authenticate=authenticate, buckets=TokenBuckets(settings.rate, settings.burst))


def _openapi(api: FastAPI, generate: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """FastAPI's document, with every error answer as what it is: a problem, application/problem+json
    (FastAPI would list its own validation error body as application/json)."""
    if api.openapi_schema:
        return api.openapi_schema
    document = generate()
    problem = {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/ProblemOut"}}}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                if status[:1] in "45":
                    answer["content"] = problem
                if status == "422":
                    answer["description"] = "the request did not validate: `errors` names each item and field"
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    api.openapi_schema = document
    return document
