"""Promotion: which answers become a phone call, which go straight to a visit, and in what order.

A genuine reply always earns a follow-up (auto-replies never do); clicks on
tracked links earn a call when nobody replied, ranked below any reply. A reply
from an existing customer, or one that asks for a meeting, a quotation or a
price — in English or Bahasa Indonesia — goes to the visit queue. Priority
puts existing customers, buyers who ask for something and larger companies
first. Each contact has one open item at a time, owned by the contact's owner
or else the sales executive with the fewest open items. An out-of-office
with a return date holds the contact's item until then.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from outreach.settings.config import FollowupRules
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import transaction, utcnow
from outreach.storage.models import Contact, Event, FollowUp, ReplyIntent
from outreach.workdays import BusinessCalendar

EXCERPT = 300
CALLABLE = ("interested", "meeting", "question", "other")  # intents that earn a call or visit (tracking/intents.py)


def asks_to_meet(text: str, rules: FollowupRules) -> bool:
    words = "|".join(re.escape(k) for k in rules.visit_keywords)
    # a prefix match: Indonesian suffixes count too (harganya, penawarannya, bertemunya)
    return bool(words) and re.search(rf"\b(?:{words})", text, re.I) is not None


def priority(contact: Contact, wants_meeting: bool, rules: FollowupRules) -> int:
    """0-100: a reply is worth 50; existing customers +20, a request +15, size up to +15."""
    score = 50 + (20 if contact.status == "existing" else 0) + (15 if wants_meeting else 0)
    if rules.size_field:
        try:
            size = float(str((contact.custom or {}).get(rules.size_field, "")).replace(",", ""))
        except ValueError:
            size = 0.0
        score += min(15, int(5 * math.log10(size))) if size >= 1 else 0
    return min(score, 100)


def owner_for(session: Session, ws: WorkspaceConfig, contact: Contact) -> str:
    if contact.owner:
        return contact.owner
    load = dict(session.execute(
        select(FollowUp.owner, func.count()).where(FollowUp.state == "open").group_by(FollowUp.owner)
    ).all())  # fmt: skip
    return min(sorted(ws.settings.senders), key=lambda s: (load.get(s, 0), s))


def strip_re(subject: str) -> str:
    s = subject.strip()
    while (m := re.match(r"(?i)^\s*(re|aw|bls|balas|fw|fwd)\s*:\s*", s)) is not None:
        s = s[m.end() :]
    return s


def contact_today(contact: Contact, ws: WorkspaceConfig) -> date:
    tz = ws.zone(contact.timezone or (contact.company.timezone if contact.company else ""))
    return datetime.now(tz).date()


def promote(engine: Engine, ws: WorkspaceConfig, today: date | None = None) -> int:
    """Turn genuine replies not yet handled into follow-up items; apply out-of-office holds."""
    rules = ws.settings.followups
    created = 0
    with transaction(engine) as session:
        handled = select(FollowUp.event_id).where(FollowUp.event_id.is_not(None))
        # an opt-out, a decline, a departure or a referral puts nobody on a call list
        refused = select(ReplyIntent.event_id).where(ReplyIntent.intent.not_in(CALLABLE))
        events = session.scalars(
            select(Event).where(Event.kind == "replied", Event.contact_id.is_not(None),
                                Event.id.not_in(handled), Event.id.not_in(refused)).order_by(Event.id)
        ).all()  # fmt: skip
        for event in events:
            created += _promote_one(session, ws, rules, event, today)
        created += _promote_clicks(session, ws, rules, today)
        _hold_for_out_of_office(session)
    return created


def _promote_one(session: Session, ws: WorkspaceConfig, rules: FollowupRules, event: Event, today: date | None) -> int:
    contact = session.get(Contact, event.contact_id)
    if contact is None:
        return 0
    detail = event.detail or {}
    text = str(detail.get("reply_text") or "")
    reply = session.scalar(select(ReplyIntent).where(ReplyIntent.event_id == event.id))
    intent, question = (reply.intent, reply.question) if reply is not None else (None, None)
    excerpt = " ".join(text.split())[:EXCERPT]
    if question and " ".join(question.split()) not in excerpt:  # the caller reads the question first, quoted
        excerpt = f"Q: \u201c{' '.join(question.split())}\u201d \u2014 {excerpt}"[:EXCERPT + 200]
    open_item = session.scalar(select(FollowUp).where(FollowUp.contact_id == contact.id, FollowUp.state == "open"))
    if open_item is not None and not open_item.reason.startswith("clicked"):
        open_item.reply_excerpt = excerpt or open_item.reply_excerpt  # one open item carries the newest reply
        open_item.intent, open_item.question = intent or open_item.intent, question or open_item.question
        open_item.updated_at = utcnow()
        return 0
    wants = intent == "meeting" or asks_to_meet(text, rules)  # the reply's own words: the subject is usually ours
    existing = rules.existing_to_visit and contact.status == "existing"
    fields = {
        "campaign_id": event.campaign_id, "event_id": event.id, "queue": "visit" if wants or existing else "call",
        "priority": priority(contact, wants, rules),
        "reason": "replied" + (f" ({intent})" if intent else "")
                  + (": asks for a meeting or a price" if wants else ": existing customer" if existing else ""),
        "intent": intent, "question": question,
        "last_subject": strip_re(str(detail.get("subject") or "")), "reply_excerpt": excerpt,
        "updated_at": utcnow(),
    }  # fmt: skip
    if open_item is not None:  # it was opened for clicks; the reply outranks them
        for name, value in fields.items():
            setattr(open_item, name, value)
        return 0
    _open(session, ws, rules, contact, today, fields)
    return 1


def _open(session: Session, ws: WorkspaceConfig, rules: FollowupRules, contact: Contact, today: date | None,
          fields: Mapping[str, object]) -> None:  # fmt: skip
    session.add(FollowUp(
        contact_id=contact.id, state="open", owner=owner_for(session, ws, contact),
        due_date=BusinessCalendar.of(ws.settings.calendar).add(today or contact_today(contact, ws),
                                                               rules.due_business_days),
        outcome="", notes="", created_at=utcnow(), **fields,
    ))  # fmt: skip
    session.flush()


def _promote_clicks(session: Session, ws: WorkspaceConfig, rules: FollowupRules, today: date | None) -> int:
    """Clickers nobody has answered for: one call per contact and campaign (replied > several clicks > one)."""
    if rules.promote_clicks <= 0:
        return 0
    created = 0
    clicks = session.execute(
        select(Event.contact_id, Event.campaign_id, func.count(), func.max(Event.id))
        .where(Event.kind == "clicked", Event.contact_id.is_not(None))
        .group_by(Event.contact_id, Event.campaign_id)
    ).all()
    for contact_id, campaign_id, n, last_event in clicks:
        if n < rules.promote_clicks or contact_id is None or _handled(session, contact_id, campaign_id):
            continue
        contact = session.get(Contact, contact_id)
        if contact is None:
            continue
        base = priority(contact, False, rules) - (15 if n > 1 else 25)  # a reply is worth 50; clicks 35 or 25
        fields = {
            "campaign_id": campaign_id, "event_id": last_event, "queue": "call", "priority": base,
            "reason": f"clicked {n} link(s)", "last_subject": "", "reply_excerpt": "", "updated_at": utcnow(),
        }  # fmt: skip
        _open(session, ws, rules, contact, today, fields)
        created += 1
    return created


def _handled(session: Session, contact_id: int, campaign_id: int | None) -> bool:
    """An open item already, or one for this campaign before (called back, closed...)."""
    return session.scalar(select(func.count(FollowUp.id)).where(
        FollowUp.contact_id == contact_id,
        (FollowUp.state == "open") | (FollowUp.campaign_id == campaign_id),
    )) != 0  # fmt: skip


def away_until(session: Session) -> dict[int, date]:
    """Contacts whose out-of-office reply said when they are back: the latest such date."""
    away: dict[int, date] = {}
    for contact_id, detail in session.execute(
        select(Event.contact_id, Event.detail).where(Event.kind == "auto_reply", Event.contact_id.is_not(None))
    ):
        back = (detail or {}).get("return_date")
        if back:
            away[contact_id] = max(away.get(contact_id, date.min), date.fromisoformat(back))
    return away


def _hold_for_out_of_office(session: Session) -> None:
    """An out-of-office that says when the person is back moves their open item to that day."""
    for contact_id, back in away_until(session).items():
        for item in session.scalars(select(FollowUp).where(FollowUp.contact_id == contact_id,
                                                           FollowUp.state == "open")):  # fmt: skip
            if item.due_date is None or item.due_date < back:
                item.due_date = back
