"""``/events?after=CURSOR``: what happened, in order; ``next`` is the cursor to ask with next time."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from outreach.accounts.tokens import Bearer
from outreach.web.api.deps import requires, run, workspace
from outreach.web.api.models import Cursor, EventPage, EventType

router = APIRouter(tags=["events"])


@router.get("/events", response_model=EventPage,
            summary="Events after a cursor: sent, failed, bounce, complaint, reply (with its intent), "
                    "unsubscribe, outcome")  # fmt: skip
async def events(request: Request, who: Annotated[Bearer, Depends(requires("events:read"))],
                 after: Annotated[Cursor, Query(description="the `next` of the answer before; 0 from the start")] = 0,
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                 type: Annotated[list[EventType] | None, Query(description="only these types (repeatable)")] = None,
                 ) -> Any:  # fmt: skip
    page = await run(request, workspace(request).events, after, limit, type)
    return {"events": [e.as_dict() for e in page.events], "next": page.next}
