"""Where a campaign stands, and the lifecycle commands that change it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, distinct, func, select, update
from sqlalchemy.orm import Session

from outreach.errors import NotFoundError, StateError
from outreach.guardrails import sent_today, warmup_allowance
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import changed_rows, outbox, transaction, utcnow
from outreach.storage.models import Campaign, Event, Outbox

EVENT_COUNTS = {"bounced": "bounced", "replied": "replied", "unsubscribed": "unsubscribed",
                "complained": "complained", "auto_replied": "auto_reply", "clicked": "clicked"}  # fmt: skip


@dataclass(frozen=True)
class DailyAllowance:
    """A warming-up sender's allowance for today, and what it has used."""

    sender: str
    limit: int
    sent_today: int
    day: int  # 1 on the first day of sending

    def as_dict(self) -> dict[str, Any]:
        return {"sender": self.sender, "limit": self.limit, "sent_today": self.sent_today, "day": self.day,
                "left": max(self.limit - self.sent_today, 0)}  # fmt: skip

    def line(self) -> str:
        return (f"today's allowance: {self.limit} (warm-up day {self.day} of sender {self.sender}; "
                f"{self.sent_today} sent today, {max(self.limit - self.sent_today, 0)} left)")  # fmt: skip


@dataclass(frozen=True)
class Status:
    campaign: str
    state: str
    reason: str | None
    counts: dict[str, int]
    allowance: DailyAllowance | None = None
    # a dead sender's rows this status check took over (queued again, uncertain): `campaign send` reads the
    # status first, and must still say what it took over when the lease had run out before it started
    taken_over: tuple[int, int] = (0, 0)

    def as_dict(self) -> dict[str, Any]:
        allowance = self.allowance.as_dict() if self.allowance else None
        return {"campaign": self.campaign, "state": self.state, "reason": self.reason, **self.counts,
                "allowance": allowance}  # fmt: skip


def built_campaign(session: Session, name: str, defined: Sequence[str] | None = None) -> Campaign:
    """The campaign's row; a clear error telling what to run when it was never built, or, given the
    workspace's campaign files (``defined``), that there is no such campaign and which there are."""
    row = session.scalar(select(Campaign).where(Campaign.name == name))
    if row is None:
        if defined is not None and name not in defined:
            known = sorted({*defined, *session.scalars(select(Campaign.name))})
            raise NotFoundError(f"there is no campaign {name!r} (campaigns: {', '.join(known) or 'none yet'})")
        raise NotFoundError(f"campaign {name!r} has not been built yet; run `outreach campaign build {name}` first")
    return row


def campaign_status(engine: Engine, name: str, ws: WorkspaceConfig | None = None,
                    defined: Sequence[str] | None = None) -> Status:  # fmt: skip
    """Counts by state and event; with ``ws``, also today's warm-up allowance of the sender; with
    ``defined`` (the workspace's campaign names), an unknown name says which campaigns there are."""
    taken_over = outbox.expire_leases(engine, utcnow())  # a dead worker's rows show as uncertain, not in flight
    with transaction(engine) as session:
        row = built_campaign(session, name, defined)
        states = outbox.state_counts(session, row.id)
        events = dict(session.execute(
            select(Event.kind, func.count(distinct(Event.outbox_id)))
            .where(Event.campaign_id == row.id, Event.outbox_id.is_not(None),
                   Event.kind.in_(EVENT_COUNTS.values()))  # not the feed's one `sent` event a message
            .group_by(Event.kind)
        ).all())  # fmt: skip
    counts = {
        "total": sum(states.values()),
        "queued": sum(states.get(s, 0) for s in ("queued", "retry", "claimed")),
        "in_flight": states.get("sending", 0),
        "retry": states.get("retry", 0),
        "sent": states.get("sent", 0),
        "failed": states.get("failed", 0),
        "uncertain": states.get("uncertain", 0),
        "suppressed": states.get("suppressed", 0),
        "cancelled": states.get("cancelled", 0),
        **{key: events.get(kind, 0) for key, kind in EVENT_COUNTS.items()},
    }
    return Status(name, row.state, row.state_reason, counts, _allowance(engine, ws, row.sender), taken_over)


def _allowance(engine: Engine, ws: WorkspaceConfig | None, sender: str) -> DailyAllowance | None:
    if ws is None:
        return None
    now = utcnow()
    found = warmup_allowance(engine, ws, sender, now)
    if found is None:
        return None
    cap = ws.settings.throttle.daily_cap
    return DailyAllowance(sender, min(found.limit, cap) if cap else found.limit,
                          sent_today(engine, ws, sender, now), found.good_days + 1)  # fmt: skip


def set_lifecycle(engine: Engine, name: str, action: str, defined: Sequence[str] | None = None) -> str:
    """pause | resume | cancel. Running workers see the change before their next claim."""
    with transaction(engine) as session:
        row = built_campaign(session, name, defined)
        if row.state == "cancelled":
            raise StateError(f"campaign {name} is cancelled; it cannot be {action}d")
        if action == "pause":
            if row.state == "done":
                raise StateError(f"campaign {name} is done; there is nothing to pause")
            row.state, row.state_reason = "paused", "paused by a user"
        elif action == "resume":
            if row.state != "paused":
                raise StateError(f"campaign {name} is not paused (it is {row.state})")
            row.state, row.state_reason = ("scheduled" if row.schedule_at else "built"), None
        elif action == "cancel":
            if row.state == "done":  # everything was sent or settled: "cancelled" would misreport it
                raise StateError(f"campaign {name} is done; there is nothing to cancel")
            row.state, row.state_reason = "cancelled", "cancelled by a user"
            outbox.cancel_pending(session, row.id, utcnow())
        row.updated_at = utcnow()
        return row.state


def resend_uncertain(engine: Engine, name: str, defined: Sequence[str] | None = None) -> int:
    """Put messages whose fate a crash left unknown back in the queue, on request only."""
    with transaction(engine) as session:
        row = built_campaign(session, name, defined)
        if row.state == "cancelled":
            raise StateError(f"campaign {name} is cancelled")
        res = session.execute(
            update(Outbox)
            .where(Outbox.campaign_id == row.id, Outbox.state == "uncertain")
            .values(state="queued", updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        n = changed_rows(res)
        if n and row.state == "done":
            row.state = "built"
        return n


def hand_to_worker(engine: Engine, name: str, who: str = "a user") -> str:
    """Mark a built campaign to be sent now by ``outreach worker`` (state ``scheduled``, due at once).

    This is how the team app sends: the web process never talks SMTP, so a
    blast survives the browser closing and runs at the worker's pace, with its
    retries, windows and follow-up steps.
    """
    with transaction(engine) as session:
        row = built_campaign(session, name)
        if row.state == "cancelled":
            raise StateError(f"campaign {name} is cancelled; nothing more will be sent")
        if row.state == "paused":
            raise StateError(f"campaign {name} is paused; resume it first")
        if row.state == "sending":
            raise StateError(f"campaign {name} is already sending")
        queued = outbox.state_counts(session, row.id)
        if not sum(queued.get(s, 0) for s in ("queued", "retry")):
            raise StateError(f"campaign {name} has nothing queued; build it first")
        now = utcnow()
        row.state, row.schedule_at, row.updated_at = "scheduled", now, now
        row.state_reason = f"handed to the worker by {who}; `outreach worker` sends it"
        return row.state
