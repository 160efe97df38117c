"""``/contacts``: upsert one or many (validated as a CSV import is), list with filters, get one."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from pydantic import StringConstraints

from outreach.accounts.tokens import Bearer
from outreach.audience.contacts import ContactView
from outreach.audience.importer import ImportResult
from outreach.web.api.deps import requires, run, workspace
from outreach.web.api.models import (
    ContactIn,
    ContactOut,
    ContactPage,
    ContactsBody,
    Cursor,
    ItemError,
    ItemResult,
    Name,
    ProblemOut,
    UpsertResult,
)
from outreach.web.api.problems import MEDIA_TYPE, Problem

router = APIRouter(tags=["contacts"])
EmailText = Annotated[str, StringConstraints(min_length=1, max_length=320, pattern=r"^[^\x00-\x1f\x7f\s/]+$")]
PROBLEM = {"model": ProblemOut, "content": {MEDIA_TYPE: {}}}


@router.post("/contacts", response_model=UpsertResult, responses={422: PROBLEM},
             summary="Create or update contacts (one object or a list of at most 1,000), by email")  # fmt: skip
async def upsert(request: Request, body: Annotated[ContactsBody, Body()],
                 who: Annotated[Bearer, Depends(requires("contacts:write"))]) -> Any:  # fmt: skip
    """Each item is checked as a row of a CSV import is and goes in unless it is bad; a bad item is reported
    with its index and the field at fault. Nothing went in when every item was bad: 422."""
    items: list[ContactIn] = body if isinstance(body, list) else [body]
    result = await run(request, workspace(request).upsert_contacts, [item.record() for item in items])
    out = _result(items, result)
    if out.rejected == len(items):
        errors = [{"index": i.index, **e.model_dump()} for i in out.items for e in i.errors]
        detail = "no contact was written: " + (f"item {errors[0]['index']}: {errors[0]['message']}" if errors else "")
        raise Problem(422, detail, errors=errors, **out.model_dump(mode="json"))
    return out


def _result(items: list[ContactIn], result: ImportResult) -> UpsertResult:
    outcomes = result.outcomes or {}
    reasons = {line: reason for line, reason, _row in result.rejected}
    warnings: dict[int, list[str]] = {}
    for line, warning in result.warnings:
        warnings.setdefault(line, []).append(warning)
    out = []
    for index, item in enumerate(items):
        fate = outcomes.get(index, "rejected")
        errors = [ItemError(field=result.fields.get(index), message=reasons[index])] if index in reasons else []
        out.append(ItemResult(index=index, email=item.email[:320], result=fate, warnings=warnings.get(index, []),
                              errors=errors))  # fmt: skip
    return UpsertResult(created=result.imported, updated=result.updated, rejected=len(result.rejected), items=out)


@router.get("/contacts", response_model=ContactPage, responses={404: PROBLEM},
            summary="List contacts, filtered, a page at a time")  # fmt: skip
async def find(request: Request, who: Annotated[Bearer, Depends(requires("contacts:read"))],
               segment: Annotated[Name | None, Query(description="only this segment's contacts")] = None,
               email: Annotated[EmailText | None, Query()] = None,
               status: Annotated[Literal["prospect", "existing"] | None, Query()] = None,
               updated_since: Annotated[datetime | None, Query(description="ISO; UTC without an offset")] = None,
               after: Annotated[Cursor, Query(description="the `next` of the page before")] = 0,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:  # fmt: skip
    known = workspace(request).segment_names()
    if segment is not None and segment not in known:
        raise Problem(404, f"no segment {segment!r} (segments: {', '.join(known) or 'none'})")
    since = updated_since
    if since is not None and since.tzinfo is not None:
        since = since.astimezone(UTC).replace(tzinfo=None)
    views = await run(request, workspace(request).find_contacts, segment, email=email, status=status,
                      updated_since=since, after=after, limit=limit)  # fmt: skip
    return ContactPage(contacts=[contact_out(v) for v in views], next=views[-1].id if len(views) == limit else None)


@router.get("/contacts/{email}", response_model=ContactOut, responses={404: PROBLEM}, summary="One contact")
async def one(request: Request, email: Annotated[EmailText, Path()],
              who: Annotated[Bearer, Depends(requires("contacts:read"))]) -> Any:  # fmt: skip
    views = await run(request, workspace(request).find_contacts, email=email, limit=1)
    if not views:
        raise Problem(404, f"no contact {email.strip().lower()!r}")
    return contact_out(views[0])


def contact_out(v: ContactView) -> ContactOut:
    return ContactOut(email=v.email, first_name=v.first_name, last_name=v.last_name, title=v.title, phone=v.phone,
                      company=v.company, industry=v.industry, city=v.city, timezone=v.timezone, status=v.status,
                      owner=v.owner, last_contacted_at=v.last_contacted_at, transactions=v.transactions,
                      tags=list(v.tags), language=v.language, custom=dict(v.custom),
                      updated_at=v.updated_at.replace(tzinfo=UTC) if v.updated_at else None)  # fmt: skip
