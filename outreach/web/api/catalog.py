"""``/segments`` (each with its size now) and ``/campaigns`` (the list; one's status as the CLI's ``--json``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from outreach.accounts.tokens import Bearer
from outreach.web.api.deps import requires, run, workspace
from outreach.web.api.models import (
    CampaignList,
    CampaignOut,
    CampaignStatus,
    Name,
    ProblemOut,
    SegmentList,
    SegmentOut,
)
from outreach.web.api.problems import MEDIA_TYPE, Problem

router = APIRouter()
PROBLEM = {"model": ProblemOut, "content": {MEDIA_TYPE: {}}}


@router.get("/segments", response_model=SegmentList, tags=["segments"], summary="Every segment and its size now")
async def segments(request: Request, who: Annotated[Bearer, Depends(requires("segments:read"))]) -> Any:
    found = await run(request, workspace(request).segments)
    return SegmentList(segments=[SegmentOut(name=s.name, description=s.description, count=s.count or 0)
                                 for s in found if s.count is not None])  # fmt: skip


@router.get("/segments/{name}", response_model=SegmentOut, responses={404: PROBLEM}, tags=["segments"],
            summary="One segment's size now")  # fmt: skip
async def segment(request: Request, name: Annotated[Name, Path()],
                  who: Annotated[Bearer, Depends(requires("segments:read"))]) -> Any:  # fmt: skip
    found = {s.name: s for s in await run(request, workspace(request).segments)}
    if name not in found:
        raise Problem(404, f"no segment {name!r} (segments: {', '.join(found) or 'none'})")
    s = found[name]
    if s.count is None:
        raise Problem(500, f"segment {name} does not load: {s.error.message if s.error else ''}")
    return SegmentOut(name=s.name, description=s.description, count=s.count)


@router.get("/campaigns", response_model=CampaignList, tags=["campaigns"],
            summary="Every campaign: segment, sender, state and counts")  # fmt: skip
async def campaigns(request: Request, who: Annotated[Bearer, Depends(requires("campaigns:read"))]) -> Any:
    found = await run(request, workspace(request).campaign_overview)
    return CampaignList(campaigns=[
        CampaignOut(name=c.name, state=c.state, segment=c.segment, sender=c.sender,
                    counts=c.counts if c.status else None, error=c.error)
        for c in found
    ])  # fmt: skip


@router.get("/campaigns/{name}", response_model=CampaignStatus, responses={404: PROBLEM}, tags=["campaigns"],
            summary="One campaign's status, as `outreach campaign status NAME --json`")  # fmt: skip
async def campaign(request: Request, name: Annotated[Name, Path()],
                   who: Annotated[Bearer, Depends(requires("campaigns:read"))]) -> Any:  # fmt: skip
    ws = workspace(request)
    if name not in ws.campaigns():
        raise Problem(404, f"no campaign {name!r} (campaigns: {', '.join(ws.campaigns()) or 'none'})")
    status = await run(request, ws.status, name)
    return CampaignStatus.model_validate(status.as_dict())
