"""``/followups``: the callers' queues, and a caller's outcome with the team app's optimistic concurrency.

A callers' item carries a ``version`` (also its ETag). ``PATCH`` says which
version it was made on, by ``If-Match: "N"`` or ``version`` in the body; when
someone saved the item since, nothing changes and the answer is 412 (If-Match)
or 409 (body), with the ``current_version``. The outcome goes through the same
core as the team app's buttons and the callers' spreadsheet
(``Workspace.save_outcome``). A caller's token sees its own queue only: its
sales executive's items and the unassigned ones, as in the app.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response

from outreach.accounts.tokens import Bearer
from outreach.errors import ConflictError
from outreach.followups.queue import Item
from outreach.web.api.deps import requires, run, web, workspace
from outreach.web.api.models import Cursor, FollowupOut, FollowupPage, FollowupPatch, ProblemOut
from outreach.web.api.problems import MEDIA_TYPE, Problem
from outreach.web.caller import owners_of

router = APIRouter(tags=["followups"])
PROBLEM = {"model": ProblemOut, "content": {MEDIA_TYPE: {}}}
ItemId = Annotated[int, Path(ge=1, le=2**31 - 1)]
_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,10})"?\s*$')


def _owners(who: Bearer) -> list[str] | None:
    return owners_of(who.account) if who.account.role == "caller" else None


@router.get("/followups", response_model=FollowupPage, summary="Follow-up items, a page at a time, in id order")
async def items(request: Request, who: Annotated[Bearer, Depends(requires("followups:read"))],
                queue: Annotated[Literal["call", "visit"] | None, Query()] = None,
                state: Annotated[Literal["open", "done", "all"], Query()] = "open",
                after: Annotated[Cursor, Query()] = 0,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:  # fmt: skip
    found = await run(request, workspace(request).followup_page, queue=queue, owners=_owners(who),
                      state=None if state == "all" else state, after=after, limit=limit)  # fmt: skip
    return FollowupPage(followups=[_out(request, i) for i in found], next=found[-1].id if len(found) == limit else None)


@router.get("/followups/{item_id}", response_model=FollowupOut, responses={404: PROBLEM},
            summary="One follow-up item; its ETag is its version")  # fmt: skip
async def item(request: Request, response: Response, item_id: ItemId,
               who: Annotated[Bearer, Depends(requires("followups:read"))]) -> Any:  # fmt: skip
    found = await _visible(request, who, item_id)
    response.headers["ETag"] = f'"{found.version}"'
    return _out(request, found)


@router.patch("/followups/{item_id}", response_model=FollowupOut,
              responses={404: PROBLEM, 409: PROBLEM, 412: PROBLEM, 422: PROBLEM, 428: PROBLEM},
              summary="A caller's outcome, notes and visit time, on the version it was made on")  # fmt: skip
async def save(request: Request, response: Response, item_id: ItemId, change: Annotated[FollowupPatch, Body()],
               who: Annotated[Bearer, Depends(requires("followups:write"))],
               if_match: Annotated[str | None, Header(max_length=100)] = None) -> Any:  # fmt: skip
    current = await _visible(request, who, item_id)
    version, via = _version(if_match, change, current)
    outcome = change.outcome or current.outcome
    if not outcome:
        raise Problem(422, "outcome is required: the item has none yet",
                      errors=[{"location": "body", "field": "outcome", "message": "required"}])  # fmt: skip
    notes = change.notes if change.notes is not None else current.notes
    visit_at = _local(request, change.visit_at) if change.visit_at else (
        current.visit_at if outcome == "visit_scheduled" else None)  # fmt: skip
    try:
        await run(request, workspace(request).save_outcome, item_id, version, outcome, notes, visit_at)
    except ConflictError as exc:
        now = await run(request, workspace(request).followup, item_id)
        raise Problem(412 if via == "If-Match" else 409, f"{exc}; nothing was changed: read it again and retry",
                      current_version=now.version if now else None) from None  # fmt: skip
    saved = await _visible(request, who, item_id)
    response.headers["ETag"] = f'"{saved.version}"'
    return _out(request, saved)


def _version(if_match: str | None, change: FollowupPatch, current: Item) -> tuple[int, str]:
    """The version the change was made on, and where it was said (If-Match wins over the body)."""
    if if_match is not None:
        if if_match.strip() == "*":
            return current.version, "If-Match"
        match = _ETAG.match(if_match)
        if match is None:
            raise Problem(412, f'If-Match {if_match[:40]!r} is not this item\'s ETag (like "3")',
                          current_version=current.version)  # fmt: skip
        return int(match.group(1)), "If-Match"
    if change.version is not None:
        return change.version, "body"
    raise Problem(428, 'say which version you changed: an If-Match: "N" header (the ETag of GET) or "version"',
                  current_version=current.version)  # fmt: skip


async def _visible(request: Request, who: Bearer, item_id: int) -> Item:
    found = await run(request, workspace(request).followup, item_id)
    owners = _owners(who)
    if found is None or (owners is not None and found.owner not in owners):
        raise Problem(404, f"no follow-up {item_id}" + (" in your queue" if owners is not None else ""))
    return found


def _local(request: Request, at: datetime) -> datetime:
    """A time with an offset, as the workspace's wall-clock time (how follow-ups keep it)."""
    tz = web(request).ws.config.tz
    return at.astimezone(tz).replace(tzinfo=None) if at.tzinfo else at


def _out(request: Request, i: Item) -> FollowupOut:
    tz = web(request).ws.config.tz
    return FollowupOut(id=i.id, queue=i.queue, state=i.state, priority=i.priority, contact=i.email,
                       contact_name=i.contact_name, title=i.title, company=i.company, phone=i.phone, owner=i.owner,
                       reason=i.reason, campaign=i.campaign, last_subject=i.last_subject,
                       reply_excerpt=i.reply_excerpt, due_date=i.due_date or None, outcome=i.outcome, notes=i.notes,
                       visit_at=i.visit_at.replace(tzinfo=tz) if i.visit_at else None, version=i.version,
                       updated_at=i.updated_at.replace(tzinfo=UTC) if i.updated_at else None)  # fmt: skip
