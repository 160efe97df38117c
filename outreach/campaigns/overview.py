"""Every campaign of the workspace at a glance: its definition and, once built, its counts.

What the API's ``GET /api/v1/campaigns`` lists. A campaign whose YAML does not
load is listed as ``broken`` with the error (one bad file must not hide the
others); one never built as ``not built``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from outreach.campaigns.definition import campaign_names, load_campaign
from outreach.campaigns.status import campaign_status
from outreach.errors import NotFoundError, OutreachError
from outreach.settings.workspace import WorkspaceConfig


@dataclass(frozen=True)
class Overview:
    name: str
    state: str
    segment: str | None = None
    sender: str | None = None  # the key in outreach.yaml's senders
    counts: dict[str, int] | None = None  # as `campaign status`; None until built
    error: str | None = None  # why its definition does not load


def campaign_overview(ws: WorkspaceConfig, engine: Engine) -> list[Overview]:
    out = []
    for name in campaign_names(ws):
        try:
            spec = load_campaign(ws, name)
        except OutreachError as exc:
            out.append(Overview(name, "broken", error=exc.message))
            continue
        try:
            status = campaign_status(engine, name, ws)
        except NotFoundError:
            out.append(Overview(name, "not built", spec.file.segment, spec.sender_key))
            continue
        out.append(Overview(name, status.state, spec.file.segment, spec.sender_key, dict(status.counts)))
    return out
