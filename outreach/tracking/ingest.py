"""Recording what comes back: match each inbound message to its outbox row, act on it.

Matching, most certain first: the VERP token of the envelope, the Message-ID
the message refers to (In-Reply-To/References, or the original message
returned inside a bounce), then the address against the newest message sent
to it. A bounce that names several failed recipients records one event per
recipient, each matched to its own outbox row and suppressed (or not) by its
own hard flag. Each inbound message is recorded once (its Message-ID is the
key), so ingesting the same mailbox twice changes nothing.

Bounces whose reason is the sender's problem (spam, policy, blocked, relay,
authentication... see ``reasons.py``) never suppress the recipient, not even
when they repeat: the event records their category so the campaign report and
auto-pause can show that the relay or the content is at fault. A DMARC/SPF
authentication-failure report is recorded the same way (event ``auth_failure``)
and suppresses no one.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from outreach.guardrails import enforce
from outreach.settings.config import Guardrails, Settings
from outreach.settings.tokens import Signer, parse_verp
from outreach.storage import outbox as outbox_store
from outreach.storage import transaction, utcnow
from outreach.storage.aliases import contact_by_alias
from outreach.storage.models import Contact, Event, Outbox
from outreach.tracking import reply_effects
from outreach.tracking.authresults import authentication_results
from outreach.tracking.bounces import Failure
from outreach.tracking.classify import Classification, classify_message
from outreach.tracking.reasons import AUTH_FAILURE

EVENT_KIND = {"bounce": "bounced", "complaint": "complained", "reply": "replied",
              "auto_reply": "auto_reply", "unsubscribe": "unsubscribed", "auth_failure": "auth_failure"}  # fmt: skip
ADDRESS_MATCH_WINDOW = timedelta(days=120)


@dataclass
class IngestReport:
    counts: Counter[str] = field(default_factory=Counter)
    unmatched: int = 0
    duplicates: int = 0
    suppressed: int = 0
    watch: set[int] = field(default_factory=set)  # campaigns with new bounces or complaints
    paused: list[str] = field(default_factory=list)  # why guardrails paused a campaign
    intents: Counter[str] = field(default_factory=Counter)  # recorded replies by intent

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items())) or "nothing"
        return (
            f"Read {sum(self.counts.values())} message(s): {kinds}; {self.unmatched} unmatched, "
            f"{self.duplicates} already recorded, {self.suppressed} contact(s) suppressed"
        ) + "".join(f"\nGuardrail: {why}" for why in self.paused) + self._intent_line()

    def _intent_line(self) -> str:
        if not self.intents:
            return ""
        return "\nReplies: " + ", ".join(f"{n} {name}" for name, n in sorted(self.intents.items()))


def _source_id(cls: Classification, raw: bytes) -> str:
    if cls.message_id:
        return cls.message_id[:250]
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _addresses(cls: Classification) -> tuple[str, ...]:
    """Whose message this is about: a bounce's or complaint's recipients (with the other names
    a bounce gives them), else the sender."""
    if cls.kind == "bounce":
        return tuple(dict.fromkeys([*cls.recipients, *(a for f in cls.failures for a in f.also)]))
    if cls.kind in ("complaint", "unsubscribe") and cls.recipients:
        return cls.recipients
    return (cls.from_address,) if cls.from_address else ()


def match_row(session: Session, cls: Classification, signer: Signer | None) -> Outbox | None:
    if signer is not None and cls.kind in ("bounce", "complaint", "auto_reply", "reply", "other"):
        for address in cls.envelope_recipients:
            outbox_id = parse_verp(signer, address)
            if outbox_id is not None and (row := session.get(Outbox, outbox_id)) is not None:
                return row
    if cls.related_ids:
        row = session.scalar(select(Outbox).where(Outbox.message_id.in_(cls.related_ids)))
        if row is not None:
            return row
    if cls.kind == "unsubscribe" and cls.unsubscribe_token and signer is not None:
        ids = signer.verify(cls.unsubscribe_token)
        if ids:
            return session.scalar(select(Outbox).where(
                Outbox.contact_id == ids[0], Outbox.campaign_id == ids[1]).order_by(Outbox.step))  # fmt: skip
    return _newest_sent(session, _addresses(cls))


def _newest_sent(session: Session, addresses: Iterable[str]) -> Outbox | None:
    """The newest message sent to any of ``addresses`` within the matching window."""
    since = utcnow() - ADDRESS_MATCH_WINDOW
    for address in addresses:
        row = session.scalar(
            select(Outbox)
            .where(Outbox.email == address.lower(), Outbox.state == "sent", Outbox.sent_at >= since)
            .order_by(Outbox.sent_at.desc(), Outbox.id.desc())
            .limit(1)
        )
        if row is not None:
            return row
    return None


@dataclass(frozen=True)
class SoftBouncePolicy:
    """Soft bounces suppress only when they persist: ``limit`` of them spread over more than ``spread``."""

    limit: int = 3
    spread: timedelta = timedelta(days=7)


def _kind(cls: Classification) -> str:
    """What gets recorded: the classification's kind, or "auth_failure" for a DMARC failure report."""
    return "auth_failure" if cls.kind == "other" and cls.reason == AUTH_FAILURE else cls.kind


def record_message(engine: Engine, raw: bytes, signer: Signer | None, report: IngestReport,
                   now: datetime | None = None, policy: SoftBouncePolicy | None = None) -> Classification:  # fmt: skip
    cls = classify_message(raw)
    record_classified(engine, cls, _source_id(cls, raw), signer, report, now=now, policy=policy, raw=raw)
    return cls


def record_classified(engine: Engine, cls: Classification, source_id: str, signer: Signer | None,
                      report: IngestReport, *, now: datetime | None = None, policy: SoftBouncePolicy | None = None,
                      raw: bytes = b"", via: str | None = None) -> None:  # fmt: skip
    """Record what one classified message (or an email service's event) says: the one recording path.

    Mail (``record_message``) and the email services' HTTP hooks (``tracking/esp``) both come here,
    so a bounce is matched, suppressed, soft-counted and watched by the guardrails the same way
    whichever way it arrived. ``source_id`` is the key that makes it recorded once (the message's
    Message-ID, or the service's own event id); ``via`` names the service in the event's detail.
    """
    report.counts[cls.kind] += 1
    kind = _kind(cls)
    if kind == "other":
        return
    now = now or utcnow()
    try:
        with transaction(engine) as session:
            row = match_row(session, cls, signer)
            failures = [f for f in cls.failures if f.address] if kind == "bounce" else []
            if len(failures) > 1:
                matched, suppressed = _record_failures(session, cls, raw, row, failures, now, policy, report.watch,
                                                       source_id, via)  # fmt: skip
                report.unmatched += int(matched == 0)
                report.suppressed += suppressed
                return
            contact_id = row.contact_id if row else _contact_by_address(session, cls)
            if row is None and contact_id is None:
                report.unmatched += 1
                return
            failure = failures[0] if failures else None
            event = _add_event(session, kind, row, contact_id, source_id, _detail(cls, raw, failure, via), now,
                               report.watch)
            if _suppress(session, cls, failure, row, contact_id, now, policy or SoftBouncePolicy()):
                report.suppressed += 1
            if kind == "reply" and cls.intent is not None:
                reply = reply_effects.record(session, event, cls.intent, now)
                report.intents[reply.intent] += 1
                report.suppressed += reply_effects.apply(session, reply, now)
    except IntegrityError:
        report.duplicates += 1


def _add_event(session: Session, kind: str, row: Outbox | None, contact_id: int | None, source_id: str,
               detail: dict[str, object], now: datetime, watch: set[int]) -> Event:  # fmt: skip
    """One event; a bounce or complaint puts its campaign on ``watch`` for the guardrails."""
    event = Event(kind=EVENT_KIND[kind], at=now, campaign_id=row.campaign_id if row else None,
                  outbox_id=row.id if row else None, contact_id=contact_id, source_id=source_id, detail=detail)
    session.add(event)
    session.flush()
    if row is not None and kind in ("bounce", "complaint"):
        watch.add(row.campaign_id)
    return event


def _record_failures(session: Session, cls: Classification, raw: bytes, base: Outbox | None,
                     failures: list[Failure], now: datetime, policy: SoftBouncePolicy | None,
                     watch: set[int], source_id: str, via: str | None) -> tuple[int, int]:  # fmt: skip
    """One event per failed recipient of a multi-recipient bounce: (matched, suppressed)."""
    matched = suppressed = 0
    for failure in failures:
        names = (failure.address, *failure.also)
        row = base if base is not None and base.email.lower() in names else _newest_sent(session, names)
        contact_id = row.contact_id if row else _contact_for(session, names)
        if row is None and contact_id is None:
            continue
        matched += 1
        source = f"{source_id[:200]}|{failure.address}"[:255]
        _add_event(session, "bounce", row, contact_id, source, _detail(cls, raw, failure, via), now, watch)
        suppressed += _suppress(session, cls, failure, row, contact_id, now, policy or SoftBouncePolicy())
    return matched, suppressed


def _contact_by_address(session: Session, cls: Classification) -> int | None:
    return _contact_for(session, _addresses(cls))


def _contact_for(session: Session, addresses: Iterable[str]) -> int | None:
    """The contact of the first address that has one: its own, or the one it was merged into (an alias)."""
    for address in addresses:
        cid = session.scalar(select(Contact.id).where(Contact.email == address.lower()))
        if cid is None:
            cid = contact_by_alias(session, address)
        if cid is not None:
            return cid
    return None


def _detail(cls: Classification, raw: bytes, failure: Failure | None = None,
            via: str | None = None) -> dict[str, object]:  # fmt: skip
    """What the event keeps: the message's facts, and for a bounce the failed recipient's own.

    ``category`` ("dead", "mailbox", "sender", "other") is what the campaign report
    and auto-pause count; "sender" marks a bounce that is the relay's or the content's fault.
    """
    detail: dict[str, object] = {
        "subject": (cls.subject or "")[:300], "from": cls.from_address, "reason": cls.reason,
        "status": cls.status, "hard": cls.hard, "recipients": list(cls.recipients),
    }  # fmt: skip
    if failure is not None:
        detail.update(address=failure.address, reason=failure.reason, status=failure.status, hard=failure.hard,
                      stage=failure.stage, category=failure.category, diagnostic=failure.diagnostic[:500])  # fmt: skip
    elif cls.category is not None:
        detail.update(category=cls.category, stage=cls.stage)
    if cls.reply_text:
        detail["reply_text"] = cls.reply_text[:4000]
    if cls.intent is not None:
        detail["intent"] = cls.intent.name
    if cls.return_date:
        detail["return_date"] = cls.return_date.isoformat()
    if raw and (auth := authentication_results(raw, returned=cls.kind in ("bounce", "complaint"))):
        detail["auth"] = auth
    if via:
        detail["via"] = via  # the email service that reported it over HTTP
    return detail


def _persistent_soft(session: Session, contact_id: int | None, policy: SoftBouncePolicy) -> bool:
    """Soft bounces about the recipient's mailbox that keep coming; sender-side ones never count."""
    if contact_id is None:
        return False
    times = [at for at, detail in session.execute(
        select(Event.at, Event.detail).where(Event.contact_id == contact_id, Event.kind == "bounced"))
        if not (detail or {}).get("hard") and (detail or {}).get("category") != "sender"]  # fmt: skip
    return len(times) >= policy.limit and max(times) - min(times) > policy.spread


def _suppress(session: Session, cls: Classification, failure: Failure | None, row: Outbox | None,
              contact_id: int | None, now: datetime, policy: SoftBouncePolicy) -> bool:  # fmt: skip
    reason = {"complaint": "complaint", "unsubscribe": "unsubscribe"}.get(cls.kind)
    hard, why = (failure.hard, failure.reason) if failure is not None else (cls.hard, cls.reason or "other")
    sender_side = (failure.category if failure is not None else cls.category) == "sender"
    if cls.kind == "bounce" and hard:
        reason = f"hard_bounce:{why}"
    elif cls.kind == "bounce" and not sender_side and _persistent_soft(session, contact_id, policy):
        reason = f"soft_bounces:{why}"
    if reason is None:
        return False
    email = row.email if row else session.scalar(select(Contact.email).where(Contact.id == contact_id))
    if not email:
        return False
    status = (failure.status if failure is not None else None) or cls.status
    return outbox_store.add_suppression(
        session, email, reason, status or cls.subject, row.campaign_id if row else None, now
    )


def ingest(engine: Engine, messages: Iterable[tuple[str, bytes]], signer: Signer | None,
           policy: SoftBouncePolicy | None = None, now: datetime | None = None,
           limits: Guardrails | None = None) -> IngestReport:  # fmt: skip
    report = IngestReport()
    for _label, raw in messages:
        record_message(engine, raw, signer, report, now=now, policy=policy)
    check_guardrails(engine, report, limits or Guardrails(), now)
    return report


def check_guardrails(engine: Engine, report: IngestReport, limits: Guardrails, now: datetime | None = None) -> None:
    """After a batch: pause each campaign whose new bounces or complaints crossed a guardrail.

    Once per campaign per batch (one aggregate query each), not per message: a flood of
    bounces costs one check, and the engine re-checks on its own watch loop anyway.
    """
    for campaign_id in sorted(report.watch):
        reason = enforce(engine, campaign_id, limits, now or utcnow())
        if reason:
            report.paused.append(reason)
    report.watch.clear()


def policy_of(settings: Settings) -> SoftBouncePolicy:
    """The soft-bounce policy of a workspace's settings (``bounces.soft_limit`` / ``soft_spread``)."""
    b = settings.bounces
    return SoftBouncePolicy(b.soft_limit, timedelta(seconds=b.soft_spread))
