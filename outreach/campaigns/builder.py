"""Freezing a segment into outbox rows, with every message rendered first.

Build is one transaction: either every recipient's message renders and all
new rows are written, or nothing is. Contacts already in the outbox are
skipped (building twice adds nothing), and so are suppressed contacts and
those in a cooling-off period.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from outreach.audience.contacts import ContactView
from outreach.audience.fields import fields_of
from outreach.audience.segments import contacts_query, load_segment
from outreach.campaigns.definition import CampaignSpec, load_campaign
from outreach.campaigns.messages import MessageFactory, compile_versions, step_factories
from outreach.campaigns.policy import Held, describe, held_out
from outreach.content.problems import Problems
from outreach.errors import StateError, TemplateError
from outreach.settings.tokens import workspace_signer
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import transaction, utcnow
from outreach.storage.models import Campaign, Contact, Outbox, Suppression

BATCH = 500


@dataclass(frozen=True)
class BuildResult:
    campaign: str
    added: int
    existing: int
    suppressed: int
    total: int
    held: Held = field(default_factory=Held)  # by the contact policy
    policy_reasons: dict[str, str] = field(default_factory=dict)
    lacking: Held = field(default_factory=Held)  # by the campaign's require:
    empty: list[str] = field(default_factory=list)  # variables that print empty, one line each
    ignored_policy: bool = False
    languages: dict[str, int] = field(default_factory=dict)  # added per language version (bilingual only)

    def summary(self) -> str:
        lines = [
            f"Campaign {self.campaign}: {self.added} added to the outbox, {self.existing} already "
            f"there, {self.suppressed} skipped (suppressed); {self.total} in the outbox"
        ]
        if self.held.total:
            lines.append(f"Held out by the contact policy (outreach.yaml contact_policy): {self.held.total}; "
                         f"`outreach campaign build {self.campaign} --ignore-policy` queues them anyway")  # fmt: skip
            lines += self.held.lines(self.policy_reasons)
        elif self.ignored_policy:
            lines.append("The contact policy was ignored for this build (--ignore-policy)")
        if self.languages:
            each = ", ".join(f"{lang} {n}" for lang, n in sorted(self.languages.items()))
            lines.append(f"By language (each contact gets the version of its own): {each}")
        if self.lacking.total:
            lines.append(f"Held out by require: {self.lacking.total} missing a required field")
            lines += self.lacking.lines({r: f"without {r}" for r in self.lacking.counts})
        if self.empty:
            lines.append("Empty personalisation (write {{ contact.FIELD | default(\"...\") }}, or hold those "
                         "contacts out with require: [FIELD] in the campaign):")  # fmt: skip
            lines += [f"  {line}" for line in self.empty]
        return "\n".join(lines)


def to_utc(moment: datetime, ws: WorkspaceConfig) -> datetime:
    """A schedule written in the workspace timezone (unless it names one), as naive UTC."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=ws.tz)
    return aware.astimezone(UTC).replace(tzinfo=None)


def new_message_id(domain: str) -> str:
    return f"{secrets.token_hex(12)}@{domain}"


def get_or_create_campaign(session: Session, spec: CampaignSpec) -> Campaign:
    row = session.scalar(select(Campaign).where(Campaign.name == spec.name))
    if row is None:
        now = utcnow()
        row = Campaign(
            name=spec.name, segment=spec.file.segment, sender=spec.sender_key, state="built",
            created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(row)
        session.flush()
    return row


def campaign_id(engine: Engine, spec: CampaignSpec, *, create: bool) -> int:
    """The campaign's id; when it was never built, 0, or with ``create`` a new row (state ``built``).

    Previews need a stable id for the unsubscribe link; lint never writes to the database.
    """
    with Session(engine) as session:
        found = session.scalar(select(Campaign.id).where(Campaign.name == spec.name))
    if found is not None or not create:
        return found or 0
    with transaction(engine) as session:
        return get_or_create_campaign(session, spec).id


def build_campaign(ws: WorkspaceConfig, engine: Engine, name: str, today: date | None = None, *,
                   ignore_policy: bool = False, now: datetime | None = None) -> BuildResult:  # fmt: skip
    """Freeze the segment into the outbox: every recipient's message rendered first, the contact
    policy and ``require:`` applied, all in one transaction (any render error: nothing written)."""
    spec = load_campaign(ws, name)
    segment = load_segment(ws, spec.file.segment)
    query = contacts_query(ws, segment, today, engine=engine)
    signer = workspace_signer(engine, ws)  # before the transaction: it may write the secret
    content = compile_versions(ws, spec.content_files)  # each language version, compiled once
    now = now or utcnow()
    with transaction(engine) as session:
        campaign = get_or_create_campaign(session, spec)
        if campaign.state == "cancelled":
            raise StateError(f"campaign {name} was cancelled; copy it under a new name to send again")
        if spec.file.schedule is not None and campaign.state in ("built", "scheduled"):
            # the worker starts it when the time comes; `campaign send` before then only says so
            campaign.state, campaign.schedule_at = "scheduled", to_utc(spec.file.schedule, ws)
        factory = MessageFactory(ws, spec, campaign.id, signer, content)
        factories = step_factories(ws, spec, factory)
        check = _Check(ws, factories)
        views = fields_of(ws).view  # the workspace's ContactView class
        # rows queued by an earlier build render again: a template broken since then fails the same way
        for contact, variant, step, lang in _pending(session, campaign.id):
            check.render(views.of(contact), {step: int(variant or 0)}, lang)
        today = today or now.date()
        in_outbox = exists().where(Outbox.campaign_id == campaign.id, Outbox.contact_id == Contact.id,
                                   Outbox.step == 0)  # fmt: skip
        blocked = or_(Contact.email.in_(select(Suppression.email)),
                      and_(Contact.cooling_until.is_not(None), Contact.cooling_until > today))  # fmt: skip
        existing = _count(session, query.where(in_outbox))
        skipped = _count(session, query.where(~in_outbox, blocked))
        candidates = query.where(~in_outbox, ~blocked)
        rules = ws.settings.contact_policy
        held = Held() if ignore_policy else held_out(session, candidates, campaign.id, rules, now)
        lacking = Held()
        added = 0
        languages: dict[str, int] = {}
        for contact in _stream(session, candidates):  # filtered in SQL, streamed
            if contact.id in held.ids:
                continue
            view = views.of(contact)
            missing = lacking_fields(view, spec.file.require)
            if missing:
                lacking.add(view.id, view.email, missing[0])
                continue
            variant = added % factory.subject_count
            if not check.render(view, {k: variant if k == 0 else 0 for k in factories}):
                continue
            lang = factory.content_for(view).lang
            session.add(_row(campaign.id, view, spec, variant, factory.subject_count, lang))
            languages[lang] = languages.get(lang, 0) + 1
            added += 1
            if added % BATCH == 0:
                session.flush()
        if check.errors:
            raise TemplateError(check.failure(name, "nothing was written"))
        campaign.content_hash = content_digest(factories)
        campaign.preflight_ok = True
        campaign.updated_at = utcnow()
    bilingual = bool(spec.content_files.versions)
    return BuildResult(name, added, existing, skipped, added + existing, held, describe(rules), lacking,
                       check.empty_lines(), ignore_policy, languages if bilingual else {})  # fmt: skip


def lacking_fields(view: ContactView, required: tuple[str, ...]) -> list[str]:
    """The required fields a contact has no value for (``custom.X`` for a custom column)."""
    out = []
    for name in required:
        value = view.custom.get(name[len("custom."):]) if name.startswith("custom.") else getattr(view, name, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(name)
    return out


def policy_holds(ws: WorkspaceConfig, engine: Engine, name: str, now: datetime | None = None) -> Held:
    """Who the contact policy would hold out of building ``name`` now (nothing is written)."""
    spec = load_campaign(ws, name)
    query = contacts_query(ws, load_segment(ws, spec.file.segment), engine=engine)
    with Session(engine) as session:
        found = session.scalar(select(Campaign.id).where(Campaign.name == name)) or 0
        in_outbox = exists().where(Outbox.campaign_id == found, Outbox.contact_id == Contact.id, Outbox.step == 0)
        blocked = Contact.email.in_(select(Suppression.email))
        return held_out(session, query.where(~in_outbox, ~blocked), found, ws.settings.contact_policy,
                        now or utcnow())  # fmt: skip


def segment_holds(ws: WorkspaceConfig, engine: Engine, segment: str, now: datetime | None = None) -> Held:
    """Who the contact policy would hold out of a new campaign to ``segment`` built now: the same rules as
    a build (every campaign counts as "another"), suppressed contacts left aside as a build leaves them."""
    query = contacts_query(ws, load_segment(ws, segment), engine=engine)
    with Session(engine) as session:
        blocked = Contact.email.in_(select(Suppression.email))
        return held_out(session, query.where(~blocked), 0, ws.settings.contact_policy, now or utcnow())


class _Check:
    """Renders each recipient's messages (every step) and keeps what went wrong, once per problem."""

    def __init__(self, ws: WorkspaceConfig, factories: dict[int, MessageFactory]) -> None:
        self.ws = ws
        self.factories = factories
        self.errors = Problems()
        self.empty = Problems()
        self.rendered = 0

    def render(self, view: ContactView, variants: dict[int, int], lang: str | None = None) -> bool:
        """Each step's message for ``view`` (in ``lang``, an outbox row's, else the contact's language)."""
        self.rendered += 1
        ok = True
        for step, variant in variants.items():
            factory = self.factories.get(step, self.factories[0])
            try:
                factory.render(view, variant, lang)
            except TemplateError as exc:
                self.errors.add_error(exc, view.email)
                ok = False
                continue
            for variable in factory.empty_variables(view, lang):
                self.empty.add(variable.file or factory.content_for(view, lang).path, variable.line,
                               f"`{variable.name}` is empty", view.email)  # fmt: skip
        return ok

    def rel(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.ws.root).as_posix()
        except ValueError:
            return str(path)

    def empty_lines(self) -> list[str]:
        return self.empty.lines(self.rel, self.rendered)

    def failure(self, name: str, outcome: str) -> str:
        failed = len(self.errors.recipients)
        head = (f"campaign {name}: the content does not render for {failed} of {self.rendered} "
                f"recipient(s); {outcome}:")  # fmt: skip
        return "\n".join([head, *(f"  {line}" for line in self.errors.lines(self.rel, self.rendered))])


def _pending(session: Session, campaign_id: int) -> Iterator[Any]:
    """Contacts with a row of this campaign still to send, with the row's variant, step and language."""
    query = (
        select(Contact, Outbox.variant, Outbox.step, Outbox.language)
        .join(Outbox, Outbox.contact_id == Contact.id)
        .where(Outbox.campaign_id == campaign_id, Outbox.state.in_(("queued", "retry")))
        .order_by(Outbox.id)
    )
    yield from session.execute(query.execution_options(yield_per=BATCH))


def _count(session: Session, query: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def _stream(session: Session, query: Select[Any]) -> Iterator[Contact]:
    yield from session.scalars(query.execution_options(yield_per=BATCH))


def _row(campaign_id: int, view: ContactView, spec: CampaignSpec, variant: int, subjects: int,
         language: str) -> Outbox:  # fmt: skip
    """A queued row; with A/B subjects, recipients are split evenly in build order."""
    now = utcnow()
    return Outbox(
        campaign_id=campaign_id, contact_id=view.id, step=0, email=view.email, state="queued",
        message_id=new_message_id(spec.sender.domain), attempts=0, created_at=now, updated_at=now,
        variant=str(variant) if subjects > 1 else None, language=language,
    )  # fmt: skip


def content_digest(factories: dict[int, MessageFactory]) -> str:
    """One hash over every step's compiled content: a change means preflight again."""
    return hashlib.sha256("".join(f.content_hash for _, f in sorted(factories.items())).encode()).hexdigest()


def preflight(ws: WorkspaceConfig, engine: Engine, factories: dict[int, MessageFactory], campaign_id: int,
              name: str) -> int:  # fmt: skip
    """Render every still-queued message of a campaign with its step's content; raise if any fails."""
    check, views = _Check(ws, factories), fields_of(ws).view
    with Session(engine) as session:
        for contact, variant, step, lang in _pending(session, campaign_id):
            check.render(views.of(contact), {step: int(variant or 0)}, lang)
    if check.errors:
        raise TemplateError(check.failure(name, "nothing was sent"))
    return check.rendered
