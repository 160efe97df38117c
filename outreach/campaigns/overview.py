"""Every campaign at a glance: `outreach campaign list` and the executive's dashboard.

A campaign is every ``campaigns/NAME.yaml`` of the workspace, built or not
("not built"), plus any built one whose file has since been removed (its
segment and sender then come from the database). A file that does not load
is listed too, as "broken" with its error, so one typo hides nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.campaigns.definition import load_campaign
from outreach.campaigns.status import Status, campaign_status
from outreach.errors import NotFoundError, OutreachError
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage.models import Campaign

HANDLED = ("sent", "failed", "uncertain", "suppressed", "cancelled")  # settled: nothing more will happen to them
COUNTS = ("total", "queued", "sent", "failed", "uncertain", "bounced", "replied", "unsubscribed", "suppressed")


@dataclass(frozen=True)
class CampaignSummary:
    """One campaign: its definition (segment, sender) and where it stands."""

    name: str
    segment: str = ""
    sender: str = ""  # the key of senders in outreach.yaml
    sender_name: str = ""
    status: Status | None = None  # None: never built
    error: str | None = None  # its YAML does not load (workspace-relative)

    @property
    def state(self) -> str:
        if self.error is not None:
            return "broken"
        if self.status is None or (self.status.state == "built" and not self.status.counts["total"]):
            return "not built"
        return self.status.state

    @property
    def counts(self) -> dict[str, int]:
        return self.status.counts if self.status else {}

    @property
    def done(self) -> int:
        return sum(self.counts.get(k, 0) for k in HANDLED)

    @property
    def percent(self) -> int:
        total = self.counts.get("total", 0)
        return round(100 * self.done / total) if total else 0

    def progress(self) -> str:
        """``12 of 40 sent, 28 queued`` (and failed, uncertain when any); the error of a broken file."""
        if self.error is not None:
            return self.error
        if not self.counts.get("total"):
            return "-"
        c = self.counts
        extra = "".join(f", {c[k]} {k}" for k in ("queued", "failed", "uncertain") if c.get(k))
        return f"{c['sent']} of {c['total']} sent{extra}"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "reason": self.status.reason if self.status else None,
                "segment": self.segment, "sender": self.sender,
                **{k: self.counts.get(k, 0) for k in COUNTS}, "error": self.error}  # fmt: skip


def summarise_campaign(ws: WorkspaceConfig, engine: Engine, name: str, *, recount: bool = False) -> CampaignSummary:
    """One campaign: its file when there is one, its row when it was built (``recount``: campaign_status's)."""
    segment = sender = sender_name = ""
    error = None
    try:
        spec = load_campaign(ws, name)
        segment, sender, sender_name = spec.file.segment, spec.sender_key, spec.sender.name
    except NotFoundError:  # built, then its file was removed: the row still tells
        pass
    except OutreachError as exc:
        error = exc.message_in(ws.root)
    try:
        status: Status | None = campaign_status(engine, name, recount=recount)
    except NotFoundError:
        status = None
    if not segment and status is not None:
        with Session(engine) as session:
            row = session.scalar(select(Campaign).where(Campaign.name == name))
        if row is not None:
            segment, sender = row.segment, row.sender
            sender_name = ws.settings.senders[sender].name if sender in ws.settings.senders else sender
    return CampaignSummary(name, segment, sender, sender_name, status, error)


def campaign_overview(ws: WorkspaceConfig, engine: Engine, *, recount: bool = False) -> list[CampaignSummary]:
    """Every campaign of the workspace, by name: defined in campaigns/*.yaml, or built."""
    with Session(engine) as session:
        built = set(session.scalars(select(Campaign.name)))
    return [summarise_campaign(ws, engine, name, recount=recount) for name in sorted(set(ws.campaign_names()) | built)]
