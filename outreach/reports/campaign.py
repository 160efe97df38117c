"""One campaign's results: the funnel from targeted to visits, outcomes and A/B variants.

Everything is counted from the database rows as they are (outbox, events,
follow-ups), never from counters kept on the side, so a report run twice or
after a re-import says the same thing. Events are counted once per message
(a contact who replies twice is one reply in the funnel), and the month
report cuts months at midnight in the workspace timezone, not in UTC: a
message sent at 01:00 WIB on 1 December is December's work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine, distinct, func, select
from sqlalchemy.orm import Session

from outreach.campaigns.status import built_campaign
from outreach.errors import OutreachError
from outreach.followups.queue import OUTCOMES
from outreach.guardrails import Rates, campaign_rates
from outreach.settings import LANGUAGE_NAMES
from outreach.settings.config import Guardrails
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage.models import Event, FollowUp, Outbox, ReplyIntent

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
    ("opted_out_by_reply", "Opt-outs by reply"),
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
class LanguageRow:
    """One language version of a bilingual campaign: how many got it and how many answered."""

    language: str
    sent: int
    replied: int

    @property
    def reply_rate(self) -> float | None:
        return percent(self.replied, self.sent)

    @property
    def label(self) -> str:
        return LANGUAGE_NAMES.get(self.language, self.language)



@dataclass(frozen=True)
class DeferredDomain:
    """A recipient domain that answered "try later" (4xx): how often, and its last words."""

    domain: str
    messages: int
    deferrals: int
    last: str


@dataclass(frozen=True)
class Deliverability:
    """Complaint and bounce rates against the guardrails, what receivers said about our
    authentication, and the domains that deferred most."""

    rates: Rates
    limits: Guardrails
    auth: dict[str, dict[str, int]] = field(default_factory=dict)  # method -> result -> count
    deferred: tuple[DeferredDomain, ...] = ()

    def rate_lines(self) -> list[tuple[str, float | None, int, int, float]]:
        """(label, rate, part, whole, limit) for complaints and hard bounces."""
        r, g = self.rates, self.limits
        return [("Complaints", r.complaint_rate, r.complaints, r.delivered, g.complaint_rate),
                ("Hard bounces", r.hard_bounce_rate, r.hard_bounces, r.sent, g.hard_bounce_rate)]  # fmt: skip


@dataclass(frozen=True)
class CampaignReport:
    campaign: str
    state: str
    sender: str
    funnel: dict[str, int]
    outcomes: dict[str, int]  # outcome -> follow-ups with that outcome, in OUTCOMES order
    awaiting: int  # follow-ups without an outcome yet
    variants: tuple[VariantRow, ...]
    deliverability: Deliverability | None = None
    # bounces that blame the sending side (spam, blocked, policy, authentication...), and DMARC
    # failure reports, by reason: the relay, the domain or the content is at fault, not the list
    sender_problems: dict[str, int] = field(default_factory=dict)
    languages: tuple[LanguageRow, ...] = ()  # a campaign sent in more than one language, by language

    def rate(self, key: str) -> float | None:
        """The share of sent messages, in percent (None for the base rows or when nothing was sent)."""
        return None if key in NO_RATE else percent(self.funnel[key], self.funnel["sent"])


def campaign_report(engine: Engine, name: str, ws: WorkspaceConfig | None = None,
                    defined: Sequence[str] | None = None) -> CampaignReport:  # fmt: skip
    """Count the funnel of campaign ``name``; ``ws`` (optional) supplies the A/B subject texts; with
    ``defined`` (the workspace's campaign names), an unknown name says which campaigns there are."""
    with Session(engine) as session:
        row = built_campaign(session, name, defined)
        funnel = _outbox_counts(session, row.id)
        funnel.update(_event_counts(session, row.id))
        funnel["opted_out_by_reply"] = _opt_out_replies(session, row.id)
        funnel["delivered"] = max(funnel["sent"] - funnel["bounced_hard"] - funnel["bounced_soft"], 0)
        funnel.update(_followup_queues(session, row.id))
        outcomes, awaiting = _outcomes(session, row.id)
        variants = _variants(session, row.id, _subjects(ws, name))
        deliverability = Deliverability(
            campaign_rates(session, row.id), ws.settings.guardrails if ws else Guardrails(),
            _auth_results(session, row.id, _our_domains(ws, row.sender)), _deferred(session, row.id),
        )  # fmt: skip
        problems = _sender_problems(session, row.id)
        languages = _languages(session, row.id)
    return CampaignReport(
        campaign=name, state=row.state, sender=row.sender, funnel={k: funnel[k] for k, _ in FUNNEL},
        outcomes=outcomes, awaiting=awaiting, variants=variants, deliverability=deliverability,
        sender_problems=problems, languages=languages,
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


def _opt_out_replies(session: Session, campaign_id: int) -> int:
    """Contacts whose reply asked to stop all mail (apart from link and mailto unsubscribes)."""
    return session.scalar(select(func.count(distinct(ReplyIntent.contact_id))).where(
        ReplyIntent.campaign_id == campaign_id, ReplyIntent.intent == "opt_out")) or 0  # fmt: skip


def _sender_problems(session: Session, campaign_id: int) -> dict[str, int]:
    """Distinct messages per reason among the bounces and auth-failure reports that ingest marked
    ``category: sender``, most frequent first."""
    seen: dict[str, set[tuple[str, int]]] = {}
    rows = session.execute(
        select(Event.outbox_id, Event.contact_id, Event.id, Event.detail)
        .where(Event.campaign_id == campaign_id, Event.kind.in_(("bounced", "auth_failure")))
        .execution_options(yield_per=1000)
    )
    for outbox_id, contact_id, event_id, detail in rows:
        if (detail or {}).get("category") == "sender":
            reason = str(detail.get("reason") or "other")
            seen.setdefault(reason, set()).add(_event_key(outbox_id, contact_id, event_id))
    return dict(sorted(((r, len(k)) for r, k in seen.items()), key=lambda item: (-item[1], item[0])))


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


def _languages(session: Session, campaign_id: int) -> tuple[LanguageRow, ...]:
    """Recipients sent the first email and those who replied (to any step), per language version: each
    outbox row remembers its own. Empty unless the campaign went out in two languages."""
    in_campaign = (Outbox.campaign_id == campaign_id, Outbox.language.is_not(None))
    sent = dict(session.execute(
        select(Outbox.language, func.count())
        .where(*in_campaign, Outbox.step == 0, Outbox.state == "sent").group_by(Outbox.language)
    ).all())  # fmt: skip
    built = sorted(v for v in session.scalars(select(Outbox.language).where(*in_campaign).distinct()) if v)
    if len(built) < 2:
        return ()
    replied = dict(session.execute(
        select(Outbox.language, func.count(distinct(Event.contact_id)))
        .join(Event, Event.outbox_id == Outbox.id)
        .where(*in_campaign, Event.kind == "replied")
        .group_by(Outbox.language)
    ).all())  # fmt: skip
    return tuple(LanguageRow(lang, sent.get(lang, 0), replied.get(lang, 0)) for lang in built)


def _our_domains(ws: WorkspaceConfig | None, sender_key: str) -> tuple[str, ...]:
    """The domains our mail is authenticated as: From, DKIM d= and the envelope (bounce) domain."""
    if ws is None or sender_key not in ws.settings.senders:
        return ()
    s = ws.settings
    addresses = (s.senders[sender_key].email, s.bounces.address or "")
    domains = {a.rsplit("@", 1)[-1].lower() for a in addresses if "@" in a}
    if s.dkim is not None:
        domains.add(s.dkim.domain.lower())
    return tuple(sorted(domains))


def _ours(domain: str, ours: tuple[str, ...]) -> bool:
    return any(domain == o or domain.endswith("." + o) or o.endswith("." + domain) for o in ours if domain)


def _auth_results(session: Session, campaign_id: int, ours: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Counts of the Authentication-Results ingest kept: those in the headers of our own message
    returned by a bounce or complaint, and any other that names one of our domains."""
    counts: dict[str, Counter[str]] = {}
    rows = session.execute(
        select(Event.detail).where(Event.campaign_id == campaign_id, Event.kind.in_(
            ("bounced", "complained", "replied", "auto_reply", "unsubscribed")))
        .execution_options(yield_per=1000)
    )  # fmt: skip
    for (detail,) in rows:
        for result in (detail or {}).get("auth") or ():
            if not isinstance(result, dict):
                continue
            if result.get("where") == "returned" or _ours(str(result.get("domain", "")), ours):
                counts.setdefault(str(result.get("method")), Counter())[str(result.get("result"))] += 1
    return {m: dict(c.most_common()) for m, c in sorted(counts.items())}


def _deferred(session: Session, campaign_id: int, top: int = 5) -> tuple[DeferredDomain, ...]:
    """Recipient domains by the temporary failures (4xx, timeouts) their messages met."""
    stats: dict[str, list[int]] = {}
    last: dict[str, str] = {}
    rows = session.execute(
        select(Outbox.email, Outbox.state, Outbox.attempts, Outbox.last_code, Outbox.last_error)
        .where(Outbox.campaign_id == campaign_id, (Outbox.attempts > 1) | (Outbox.state == "retry"))
        .order_by(Outbox.updated_at)
    )  # fmt: skip
    for email, state, attempts, code, error in rows:
        domain = email.rsplit("@", 1)[-1].lower()
        deferrals = attempts - (1 if state in ("sent", "failed") else 0)
        if deferrals <= 0:
            continue
        entry = stats.setdefault(domain, [0, 0])
        entry[0] += 1
        entry[1] += deferrals
        if error:
            last[domain] = " ".join(str(error).split())[:120]
        elif code:
            last.setdefault(domain, str(code))
    ranked = sorted(stats.items(), key=lambda kv: (-kv[1][1], -kv[1][0], kv[0]))[:top]
    return tuple(DeferredDomain(d, m, n, last.get(d, "")) for d, (m, n) in ranked)


def _variant_order(variant: str) -> tuple[int, str]:
    return (int(variant), "") if variant.isdigit() else (10**6, variant)


def _variant_label(variant: str) -> str:
    """Variants are stored as 0, 1, ...; people call them A, B, ..."""
    return chr(ord("A") + int(variant)) if variant.isdigit() and int(variant) < 26 else variant


def _variant_subject(variant: str, subjects: tuple[str, ...]) -> str:
    return subjects[int(variant)] if variant.isdigit() and int(variant) < len(subjects) else ""


def _subjects(ws: WorkspaceConfig | None, name: str) -> tuple[str, ...]:
    """The subject templates of the campaign's content (of the workspace language's version), when its files
    are still there to read."""
    if ws is None:
        return ()
    from outreach.campaigns.definition import load_campaign
    from outreach.content.rendering import read_content

    try:
        source = read_content(load_campaign(ws, name).content_files.pick(None), ws.root, check_html=False)
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
    if report.languages:
        out += ["", "Replies by language", f"  {'language':<18}{'sent':>6}{'replied':>9}{'reply rate':>12}"]
        for row in report.languages:
            out.append(f"  {row.label:<18}{row.sent:>6}{row.replied:>9}{fmt_percent(row.reply_rate):>12}")
    if report.deliverability is not None:
        out += ["", *deliverability_lines(report.deliverability)]
    if report.sender_problems:
        out += ["", "Sender's problems (relay, domain or content; no recipient suppressed)"]
        for reason, count in report.sender_problems.items():
            out.append(f"  {reason.replace('_', ' '):<20}{count:>8}")
    return "\n".join(out) + "\n"


def deliverability_lines(d: Deliverability) -> list[str]:
    out = ["Deliverability"]
    for label, rate, part, whole, limit in d.rate_lines():
        shown = "-" if rate is None else f"{rate:.2%}"
        out.append(f"  {label:<20}{shown:>8} ({part} of {whole}), guardrail {limit:.2%}")
    out.append(f"  Guardrails pause the campaign past these, from {d.limits.min_delivered} delivered on")
    out.append("  Authentication reported by receivers")
    if not d.auth:
        out.append("    none yet (receivers report it in the bounces and complaints they send back)")
    for method, results in d.auth.items():
        out.append(f"    {method:<8}" + ", ".join(f"{result} {n}" for result, n in results.items()))
    out.append("  Deferred most (temporary failures)")
    if not d.deferred:
        out.append("    none")
    for dd in d.deferred:
        out.append(f"    {dd.domain:<28}{dd.messages:>5} message(s){dd.deferrals:>6} deferral(s)"
                   + (f"  last: {dd.last}" if dd.last else ""))  # fmt: skip
    return out
