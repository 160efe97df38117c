"""Where a campaign stands, and the lifecycle commands that change it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from outreach.errors import NotFoundError, StateError
from outreach.guardrails import sent_today, warmup_allowance
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import changed_rows, counts, outbox, transaction, utcnow
from outreach.storage.models import Campaign, Outbox

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
    window_opens: datetime | None = None  # the first queued row held for its sending window comes due then (UTC)
    # a dead sender's rows this status check took over (queued again, uncertain): `campaign send` reads the
    # status first, and must still say what it took over when the lease had run out before it started
    taken_over: tuple[int, int] = (0, 0)

    def as_dict(self) -> dict[str, Any]:
        allowance = self.allowance.as_dict() if self.allowance else None
        opens = self.window_opens.isoformat() + "Z" if self.window_opens else None
        return {"campaign": self.campaign, "state": self.state, "reason": self.reason, **self.counts,
                "window_opens": opens, "allowance": allowance}  # fmt: skip


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
                    defined: Sequence[str] | None = None, *, recount: bool = False) -> Status:  # fmt: skip
    """Counts by state and event; with ``ws``, also today's warm-up allowance of the sender; with
    ``defined`` (the workspace's campaign names), an unknown name says which campaigns there are.

    The counts are the ones the database keeps (storage/counts.py): a few rows, whatever the campaign's
    size. ``recount``: count the outbox and the events instead, as before they were kept (the benchmark's
    baseline; the tests' check that the kept ones are right). ``taken_over``: a dead sender's rows this check
    took over (queued again, uncertain), which ``campaign send`` reports.
    """
    now = utcnow()
    taken_over = outbox.expire_leases(engine, now) if recount else (0, 0)
    with transaction(engine) as session:
        row = built_campaign(session, name, defined)
        kept = counts.recount(session, row.id) if recount else counts.read(session, row.id)
    in_flight = kept.get("claimed") or kept.get("sending")  # only then can a lease have run out
    if not recount and in_flight:
        taken_over = outbox.expire_leases(engine, now, row.id)
        if any(taken_over):
            with transaction(engine) as session:  # a dead worker's rows: uncertain (or queued again), not in flight
                kept = counts.read(session, row.id)
    with Session(engine) as session:
        waiting, opens = outbox.window_wait(session, row.id, now, kept.get("queued_later", 0))
    queued = kept.get("queued", 0) + kept.get("queued_later", 0)
    events = {key: kept.get(f"ev:{kind}", 0) for key, kind in EVENT_COUNTS.items()}
    states = ("retry", "claimed", "sending", "sent", "failed", "uncertain", "suppressed", "cancelled")
    total = queued + sum(kept.get(s, 0) for s in states)
    result = {
        "total": total,
        "queued": queued + kept.get("retry", 0) + kept.get("claimed", 0),
        "in_flight": kept.get("sending", 0),
        "retry": kept.get("retry", 0),
        "sent": kept.get("sent", 0),
        "failed": kept.get("failed", 0),
        "uncertain": kept.get("uncertain", 0),
        "suppressed": kept.get("suppressed", 0),
        "cancelled": kept.get("cancelled", 0),
        # what the dashboard shows apart: due now, on their way, held until their window opens
        "ready": queued - waiting,
        "sending_now": kept.get("claimed", 0) + kept.get("sending", 0),
        "waiting_window": waiting,
        **events,
    }
    return Status(name, row.state, row.state_reason, result, _allowance(engine, ws, row.sender), opens, taken_over)


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


def hand_to_worker(engine: Engine, name: str, who: str = "a user", at: datetime | None = None) -> str:
    """Mark a built campaign to be sent now (or from ``at``, naive UTC) by ``outreach worker`` (state
    ``scheduled``, due then).

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
        queued = counts.read(session, row.id)
        if not sum(queued.get(s, 0) for s in ("queued", "queued_later", "retry")):
            raise StateError(f"campaign {name} has nothing queued; build it first")
        now = utcnow()
        if at is not None and at <= now:
            raise StateError(f"campaign {name}: the start {at:%Y-%m-%d %H:%M} UTC has passed; choose a later time, "
                             "or send it now")  # fmt: skip
        row.state, row.schedule_at, row.updated_at = "scheduled", at or now, now
        row.state_reason = (f"scheduled by {who} for {at:%Y-%m-%d %H:%M} UTC; `outreach worker` starts it then"
                            if at else f"handed to the worker by {who}; `outreach worker` sends it")  # fmt: skip
        return row.state
