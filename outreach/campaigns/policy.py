"""The contact policy: nobody is mailed too often, whichever campaign mails them.

``contact_policy`` in outreach.yaml (0 turns a rule off)::

    min_gap: 7d            # between two campaign emails to one contact
    max_per_30d: 4         # campaign emails to one contact in any 30 days
    hold_after_reply: 30d  # after a reply, and while the contact has an open follow-up item
    hold_after_decline: 180d  # after a reply that said no (its intent, tracking/intents.py)

It is applied when a campaign is built, to the contacts about to be queued:
what was sent to them by any campaign, and what another campaign has already
queued for them (two campaigns built the same morning would otherwise both
go out that day). The check is one SQL statement over the candidates, with
correlated sub-selects on indexed columns, so it costs the same for 20 or
20,000 contacts; only the held-out contacts come back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from outreach.settings.config import ContactPolicy
from outreach.storage.models import Contact, Event, FollowUp, Outbox, ReplyIntent

PENDING = ("queued", "retry", "claimed", "sending")
REASONS = ("declined", "followup", "replied", "gap", "queued", "cap")  # the order a contact's one reason is chosen in
SHOWN = 3


@dataclass
class Held:
    """Contacts held out of a build, by reason, with the first few named."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    ids: set[int] = field(default_factory=set)

    def add(self, contact_id: int, email: str, reason: str) -> None:
        self.ids.add(contact_id)
        self.counts[reason] = self.counts.get(reason, 0) + 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < SHOWN:
            shown.append(email)

    @property
    def total(self) -> int:
        return len(self.ids)

    def lines(self, describe: dict[str, str]) -> list[str]:
        out = []
        for reason in sorted(self.counts, key=lambda r: REASONS.index(r) if r in REASONS else 99):
            n, shown = self.counts[reason], self.examples[reason]
            more = f" and {n - len(shown)} more" if n > len(shown) else ""
            out.append(f"  {n} {describe.get(reason, reason)}: {', '.join(shown)}{more}")
        return out


def _days(seconds: float) -> str:
    days = seconds / 86400
    return f"{days:g} day" + ("" if days == 1 else "s") if days >= 1 else f"{seconds / 3600:g} hours"


def describe(rules: ContactPolicy) -> dict[str, str]:
    """Each reason as the build report says it, with the workspace's own numbers."""
    return {
        "declined": f"declined by reply in the last {_days(rules.hold_after_decline)} (hold_after_decline)",
        "followup": "have an open follow-up item (hold_after_reply)",
        "replied": f"replied in the last {_days(rules.hold_after_reply)} (hold_after_reply)",
        "gap": f"were emailed by a campaign in the last {_days(rules.min_gap)} (min_gap)",
        "queued": "are already queued in another campaign (min_gap)",
        "cap": f"already had {rules.max_per_30d} campaign emails in 30 days (max_per_30d)",
    }


def held_out(session: Session, candidates: Select[Any], campaign_id: int, rules: ContactPolicy,
             now: datetime) -> Held:  # fmt: skip
    """The candidates (a select of contacts) the policy holds out of ``campaign_id``, in one statement."""
    held = Held()
    conditions = _conditions(campaign_id, rules, now)
    if not conditions:
        return held
    reason = case(*((cond, name) for name, cond in conditions), else_=None).label("reason")
    query = (
        candidates.with_only_columns(Contact.id, Contact.email, reason)
        .where(or_(*(cond for _name, cond in conditions)))
        .order_by(Contact.id)
    )
    for contact_id, email, why in session.execute(query):
        held.add(contact_id, email, why)
    return held


def _conditions(campaign_id: int, rules: ContactPolicy, now: datetime) -> list[tuple[str, ColumnElement[bool]]]:
    out: list[tuple[str, ColumnElement[bool]]] = []
    o = aliased(Outbox)
    mine = o.contact_id == Contact.id
    other = o.campaign_id != campaign_id
    if rules.hold_after_decline > 0:
        since = now - timedelta(seconds=rules.hold_after_decline)
        out.append(("declined", exists().where(ReplyIntent.contact_id == Contact.id,
                                               ReplyIntent.intent == "not_interested", ReplyIntent.at >= since)))
    if rules.hold_after_reply > 0:
        out.append(("followup", exists().where(FollowUp.contact_id == Contact.id, FollowUp.state == "open")))
        since = now - timedelta(seconds=rules.hold_after_reply)
        out.append(("replied", exists().where(Event.contact_id == Contact.id, Event.kind == "replied",
                                              Event.at >= since)))  # fmt: skip
    if rules.min_gap > 0:
        since = now - timedelta(seconds=rules.min_gap)
        out.append(("gap", exists().where(mine, o.state == "sent", o.sent_at >= since)))
        out.append(("queued", exists().where(mine, other, o.state.in_(PENDING), o.step == 0)))
    if rules.max_per_30d > 0:
        since = now - timedelta(days=30)
        recent = (
            select(func.count(o.id))
            .where(mine, or_(and_(o.state == "sent", o.sent_at >= since), and_(other, o.state.in_(PENDING))))
            .scalar_subquery()
        )
        out.append(("cap", recent >= rules.max_per_30d))
    return out
