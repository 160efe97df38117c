"""Recording what comes back: match each inbound message to its outbox row, act on it.

Matching, most certain first: the VERP token of the envelope, the Message-ID
the message refers to (In-Reply-To/References, or the original message
returned inside a bounce), then the address against the newest message sent
to it. Each inbound message is recorded once (its Message-ID is the key), so
ingesting the same mailbox twice changes nothing.
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
from outreach.storage.models import Contact, Event, Outbox
from outreach.tracking.authresults import authentication_results
from outreach.tracking.classify import Classification, classify_message

EVENT_KIND = {"bounce": "bounced", "complaint": "complained", "reply": "replied",
              "auto_reply": "auto_reply", "unsubscribe": "unsubscribed"}  # fmt: skip
ADDRESS_MATCH_WINDOW = timedelta(days=120)


@dataclass
class IngestReport:
    counts: Counter[str] = field(default_factory=Counter)
    unmatched: int = 0
    duplicates: int = 0
    suppressed: int = 0
    watch: set[int] = field(default_factory=set)  # campaigns with new bounces or complaints
    paused: list[str] = field(default_factory=list)  # why guardrails paused a campaign

    def summary(self) -> str:
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items())) or "nothing"
        return (
            f"Read {sum(self.counts.values())} message(s): {kinds}; {self.unmatched} unmatched, "
            f"{self.duplicates} already recorded, {self.suppressed} contact(s) suppressed"
        ) + "".join(f"\nGuardrail: {why}" for why in self.paused)


def _source_id(cls: Classification, raw: bytes) -> str:
    if cls.message_id:
        return cls.message_id[:250]
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _addresses(cls: Classification) -> tuple[str, ...]:
    """Whose message this is about: a bounce's or complaint's recipients, else the sender."""
    if cls.kind in ("bounce", "complaint"):
        return cls.recipients
    return (cls.from_address,) if cls.from_address else ()


def match_row(session: Session, cls: Classification, signer: Signer | None) -> Outbox | None:
    if signer is not None and cls.kind in ("bounce", "complaint", "auto_reply", "reply"):
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
    since = utcnow() - ADDRESS_MATCH_WINDOW
    for address in _addresses(cls):
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


def record_message(engine: Engine, raw: bytes, signer: Signer | None, report: IngestReport,
                   now: datetime | None = None, policy: SoftBouncePolicy | None = None) -> Classification:  # fmt: skip
    cls = classify_message(raw)
    report.counts[cls.kind] += 1
    if cls.kind == "other":
        return cls
    now = now or utcnow()
    try:
        with transaction(engine) as session:
            row = match_row(session, cls, signer)
            contact_id = row.contact_id if row else _contact_by_address(session, cls)
            if row is None and contact_id is None:
                report.unmatched += 1
                return cls
            event = Event(
                kind=EVENT_KIND[cls.kind], at=now, campaign_id=row.campaign_id if row else None,
                outbox_id=row.id if row else None, contact_id=contact_id,
                source_id=_source_id(cls, raw), detail=_detail(cls, raw),
            )  # fmt: skip
            session.add(event)
            session.flush()
            if row is not None and cls.kind in ("bounce", "complaint"):
                report.watch.add(row.campaign_id)
            if _suppress(session, cls, row, contact_id, now, policy or SoftBouncePolicy()):
                report.suppressed += 1
    except IntegrityError:
        report.duplicates += 1
    return cls


def _contact_by_address(session: Session, cls: Classification) -> int | None:
    for address in _addresses(cls):
        cid = session.scalar(select(Contact.id).where(Contact.email == address.lower()))
        if cid is not None:
            return cid
    return None


def _detail(cls: Classification, raw: bytes) -> dict[str, object]:
    detail: dict[str, object] = {
        "subject": (cls.subject or "")[:300], "from": cls.from_address, "reason": cls.reason,
        "status": cls.status, "hard": cls.hard, "recipients": list(cls.recipients),
    }  # fmt: skip
    if cls.reply_text:
        detail["reply_text"] = cls.reply_text[:4000]
    if cls.return_date:
        detail["return_date"] = cls.return_date.isoformat()
    if auth := authentication_results(raw, returned=cls.kind in ("bounce", "complaint")):
        detail["auth"] = auth
    return detail


def _persistent_soft(session: Session, contact_id: int | None, policy: SoftBouncePolicy) -> bool:
    if contact_id is None:
        return False
    times = [at for at, detail in session.execute(
        select(Event.at, Event.detail).where(Event.contact_id == contact_id, Event.kind == "bounced"))
        if not (detail or {}).get("hard")]  # fmt: skip
    return len(times) >= policy.limit and max(times) - min(times) > policy.spread


def _suppress(session: Session, cls: Classification, row: Outbox | None, contact_id: int | None,
              now: datetime, policy: SoftBouncePolicy) -> bool:  # fmt: skip
    reason = {"complaint": "complaint", "unsubscribe": "unsubscribe"}.get(cls.kind)
    if cls.kind == "bounce" and cls.hard:
        reason = f"hard_bounce:{cls.reason or 'other'}"
    elif cls.kind == "bounce" and _persistent_soft(session, contact_id, policy):
        reason = f"soft_bounces:{cls.reason or 'other'}"
    if reason is None:
        return False
    email = row.email if row else session.scalar(select(Contact.email).where(Contact.id == contact_id))
    if not email:
        return False
    return outbox_store.add_suppression(
        session, email, reason, cls.status or cls.subject, row.campaign_id if row else None, now
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
