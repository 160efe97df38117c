"""One campaign's results: the funnel from targeted to visits, outcomes and A/B variants.

Everything is counted from the database rows as they are (outbox, events,
follow-ups), never from counters kept on the side, so a report run twice or
after a re-import says the same thing. Events are counted once per message
(a contact who replies twice is one reply in the funnel), and the month
report cuts months at midnight in the workspace timezone, not in UTC: a
message sent at 01:00 WIB on 1 December is December's work.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, distinct, func, select
from sqlalchemy.orm import Session

from outreach.campaigns.status import built_campaign
from outreach.errors import OutreachError
from outreach.followups.queue import OUTCOMES
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage.models import Event, FollowUp, Outbox

FUNNEL = (
    ("targeted", "Targeted"),
    ("sent", "Sent"),
    ("delivered", "Delivered"),
    ("bounced_hard", "Bounced (hard)"),
    ("bounced_soft", "Bounced (soft)"),
    ("complained", "Complaints"),
    ("replied", "Replied"),
    ("auto_replied", "Auto-replies"),
    ("unsubscribed", "Unsubscribed"),
    ("failed", "Failed"),
    ("call", "Promoted to call"),
    ("visit", "Promoted to visit"),
)
NO_RATE = ("targeted", "sent")  # rates are shares of what was sent
EVENT_KEYS = {"replied": "replied", "auto_reply": "auto_replied", "unsubscribed": "unsubscribed",
              "complained": "complained"}  # fmt: skip
OUTCOME_LABELS = {
    "reached": "Reached", "no_answer": "No answer", "callback": "Call back",
    "visit_scheduled": "Visit scheduled", "not_interested": "Not interested", "wrong_contact": "Wrong contact",
}  # fmt: skip


def percent(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def fmt_percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


# -- one campaign -------------------------------------------------------------------


@dataclass(frozen=True)
class VariantRow:
    """One A/B subject line: how many got it and how many answered."""

    label: str
    subject: str
    sent: int
    replied: int

    @property
    def reply_rate(self) -> float | None:
        return percent(self.replied, self.sent)


@dataclass(frozen=True)
class CampaignReport:
    campaign: str
    state: str
    sender: str
    funnel: dict[str, int]
    outcomes: dict[str, int]  # outcome -> follow-ups with that outcome, in OUTCOMES order
    awaiting: int  # follow-ups without an outcome yet
    variants: tuple[VariantRow, ...]

    def rate(self, key: str) -> float | None:
        """The share of sent messages, in percent (None for the base rows or when nothing was sent)."""
        return None if key in NO_RATE else percent(self.funnel[key], self.funnel["sent"])


def campaign_report(engine: Engine, name: str, ws: WorkspaceConfig | None = None) -> CampaignReport:
    """Count the funnel of campaign ``name``; ``ws`` (optional) supplies the A/B subject texts."""
    with Session(engine) as session:
        row = built_campaign(session, name)
        funnel = _outbox_counts(session, row.id)
        funnel.update(_event_counts(session, row.id))
        funnel["delivered"] = max(funnel["sent"] - funnel["bounced_hard"] - funnel["bounced_soft"], 0)
        funnel.update(_followup_queues(session, row.id))
        outcomes, awaiting = _outcomes(session, row.id)
        variants = _variants(session, row.id, _subjects(ws, name))
    return CampaignReport(
        campaign=name, state=row.state, sender=row.sender, funnel={k: funnel[k] for k, _ in FUNNEL},
        outcomes=outcomes, awaiting=awaiting, variants=variants,
    )  # fmt: skip


def _outbox_counts(session: Session, campaign_id: int) -> dict[str, int]:
    states = dict(session.execute(
        select(Outbox.state, func.count()).where(Outbox.campaign_id == campaign_id).group_by(Outbox.state)
    ).all())  # fmt: skip
    return {"targeted": sum(states.values()), "sent": states.get("sent", 0), "failed": states.get("failed", 0)}


def _event_key(outbox_id: int | None, contact_id: int | None, event_id: int) -> tuple[str, int]:
    """What an event is counted once per: its message, else its contact, else itself."""
    if outbox_id is not None:
        return ("message", outbox_id)
    if contact_id is not None:
        return ("contact", contact_id)
    return ("event", event_id)


def _event_counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Distinct messages per event kind; a bounce is hard when any bounce of that message was."""
    seen: dict[str, set[tuple[str, int]]] = {key: set() for key in EVENT_KEYS.values()}
    bounces: dict[tuple[str, int], bool] = {}
    rows = session.execute(
        select(Event.kind, Event.outbox_id, Event.contact_id, Event.id, Event.detail)
        .where(Event.campaign_id == campaign_id, Event.kind.in_(("bounced", *EVENT_KEYS)))
        .execution_options(yield_per=1000)
    )
    for kind, outbox_id, contact_id, event_id, detail in rows:
        key = _event_key(outbox_id, contact_id, event_id)
        if kind == "bounced":
            bounces[key] = bounces.get(key, False) or bool((detail or {}).get("hard"))
        else:
            seen[EVENT_KEYS[kind]].add(key)
    hard = sum(bounces.values())
    return {"bounced_hard": hard, "bounced_soft": len(bounces) - hard, **{k: len(v) for k, v in seen.items()}}


def _followup_queues(session: Session, campaign_id: int) -> dict[str, int]:
    queues = dict(session.execute(
        select(FollowUp.queue, func.count()).where(FollowUp.campaign_id == campaign_id).group_by(FollowUp.queue)
    ).all())  # fmt: skip
    return {"call": queues.get("call", 0), "visit": queues.get("visit", 0)}


def _outcomes(session: Session, campaign_id: int) -> tuple[dict[str, int], int]:
    counts: dict[str, int] = {}
    for outcome, n in session.execute(
        select(FollowUp.outcome, func.count()).where(FollowUp.campaign_id == campaign_id).group_by(FollowUp.outcome)
    ):  # fmt: skip
        counts[outcome or ""] = counts.get(outcome or "", 0) + n
    awaiting = counts.pop("", 0)
    order = [o for o in OUTCOMES if o in counts] + sorted(o for o in counts if o not in OUTCOMES)
    return {o: counts[o] for o in order}, awaiting


def _variants(session: Session, campaign_id: int, subjects: tuple[str, ...]) -> tuple[VariantRow, ...]:
    in_campaign = (Outbox.campaign_id == campaign_id, Outbox.variant.is_not(None))
    names = sorted((v for v in session.scalars(select(Outbox.variant).where(*in_campaign).distinct()) if v),
                   key=_variant_order)
    if not names:
        return ()
    sent = dict(session.execute(
        select(Outbox.variant, func.count()).where(*in_campaign, Outbox.state == "sent").group_by(Outbox.variant)
    ).all())  # fmt: skip
    replied = dict(session.execute(
        select(Outbox.variant, func.count(distinct(Outbox.id)))
        .join(Event, Event.outbox_id == Outbox.id)
        .where(*in_campaign, Event.kind == "replied")
        .group_by(Outbox.variant)
    ).all())  # fmt: skip
    return tuple(
        VariantRow(_variant_label(v), _variant_subject(v, subjects), sent.get(v, 0), replied.get(v, 0)) for v in names
    )


def _variant_order(variant: str) -> tuple[int, str]:
    return (int(variant), "") if variant.isdigit() else (10**6, variant)


def _variant_label(variant: str) -> str:
    """Variants are stored as 0, 1, ...; people call them A, B, ..."""
    return chr(ord("A") + int(variant)) if variant.isdigit() and int(variant) < 26 else variant


def _variant_subject(variant: str, subjects: tuple[str, ...]) -> str:
    return subjects[int(variant)] if variant.isdigit() and int(variant) < len(subjects) else ""


def _subjects(ws: WorkspaceConfig | None, name: str) -> tuple[str, ...]:
    """The subject templates of the campaign's content, when its files are still there to read."""
    if ws is None:
        return ()
    from outreach.campaigns.definition import load_campaign
    from outreach.content.rendering import read_content

    try:
        source = read_content(load_campaign(ws, name).content_path)
    except OutreachError:
        return ()
    return (source.subject, *source.variants)


def campaign_text(report: CampaignReport) -> str:
    """The funnel as a fixed-width plain text table (deterministic, so scripts can diff it)."""
    out = [f"Campaign {report.campaign} (state {report.state}, sender {report.sender})", ""]
    out.append(f"{'':<22}{'count':>8}{'% of sent':>12}")
    labels = dict(FUNNEL)
    for key, value in report.funnel.items():
        rate = "" if key in NO_RATE else fmt_percent(report.rate(key))
        out.append(f"{labels[key]:<22}{value:>8}{rate:>12}".rstrip())
    if report.outcomes or report.awaiting:
        out += ["", "Follow-up outcomes"]
        for outcome, count in report.outcomes.items():
            out.append(f"  {OUTCOME_LABELS.get(outcome, outcome):<20}{count:>8}")
        out.append(f"  {'Awaiting an outcome':<20}{report.awaiting:>8}")
    if report.variants:
        out += ["", "A/B subjects", f"  {'variant':<9}{'sent':>6}{'replied':>9}{'reply rate':>12}  subject"]
        for v in report.variants:
            out.append(f"  {v.label:<9}{v.sent:>6}{v.replied:>9}{fmt_percent(v.reply_rate):>12}  {v.subject}")
    return "\n".join(out) + "\n"
