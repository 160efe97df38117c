"""What one recipient would get: for the writer's preview, dry runs and test sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from outreach.audience.contacts import ContactView, iter_contacts
from outreach.audience.fields import fields_of
from outreach.audience.segments import contacts_query, load_segment
from outreach.campaigns.builder import campaign_id, new_message_id
from outreach.campaigns.definition import CampaignSpec, load_campaign
from outreach.campaigns.messages import MessageFactory, Prepared
from outreach.campaigns.status import built_campaign
from outreach.content.problems import Problems
from outreach.errors import NotFoundError
from outreach.settings.tokens import Signer
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage.models import Contact, Outbox, Suppression


def preview_contact(ws: WorkspaceConfig, engine: Engine, spec: CampaignSpec, email: str | None,
                    sample_if_empty: bool = False) -> ContactView:  # fmt: skip
    """``email``'s contact, else the segment's first; ``sample_if_empty``: lint's sample contact for an empty
    segment (how a message looks hardly depends on who gets it)."""
    with Session(engine) as session:
        if email:
            contact = session.scalar(select(Contact).where(Contact.email == email.strip().lower()))
            if contact is None:
                raise NotFoundError(f"no contact {email!r}; import it first or pick another with --contact")
        else:
            query = contacts_query(ws, load_segment(ws, spec.file.segment), engine=engine).limit(1)
            contact = session.scalars(query).first()
            if contact is None and sample_if_empty:
                from outreach.studio.lint import placeholder_contact

                return placeholder_contact(ws, spec)
            if contact is None:
                raise NotFoundError(
                    f"segment {spec.file.segment!r} has no contacts to preview with; "
                    "import contacts or pass --contact EMAIL"
                )
        return fields_of(ws).view.of(contact)


def render_preview(ws: WorkspaceConfig, engine: Engine, name: str, email: str | None,
                   to: str | None = None, variant: int = 0, lang: str | None = None,
                   sample_if_empty: bool = False) -> Prepared:  # fmt: skip
    """``lang``: show that language version (default: the one the contact gets)."""
    spec = load_campaign(ws, name)
    check_language(spec, lang)
    factory = MessageFactory.for_campaign(ws, engine, spec, campaign_id(engine, spec, create=True))
    contact = preview_contact(ws, engine, spec, email, sample_if_empty)
    return factory.prepare(contact, new_message_id(spec.sender.domain), to_email=to, variant=variant, lang=lang)


def check_language(spec: CampaignSpec, lang: str | None) -> None:
    """A language asked for must have a version of its own, or the preview would silently show another."""
    files = spec.content_files
    if lang and lang not in files.versions:
        written = ", ".join(p.name for p in files.versions.values()) or "none"
        raise NotFoundError(f"campaign {spec.name} has no {lang} version: no "
                            f"{files.base.name.removesuffix('.md')}.{lang}.md (language versions: {written})")


def empty_personalisation(ws: WorkspaceConfig, engine: Engine, name: str) -> list[str]:
    """Each variable of the content that prints empty for some contacts of the segment:
    ``campaigns/x.md:5: `contact.title` is empty — 3 of 40 contacts: a, b, c``."""
    spec = load_campaign(ws, name)
    factory = MessageFactory(ws, spec, 0, Signer(b"preview"))
    if not any(content.variables for content in factory.versions.all):
        return []
    empty = Problems()
    total = 0
    for view in iter_contacts(engine, contacts_query(ws, load_segment(ws, spec.file.segment), engine=engine),
                              registry=fields_of(ws)):
        total += 1
        for variable in factory.empty_variables(view):
            empty.add(variable.file or factory.content_for(view).path, variable.line, f"`{variable.name}` is empty",
                      view.email)  # fmt: skip
    return empty.lines(lambda p: _relative(ws, p), total, f"contacts of segment {spec.file.segment}")


def _relative(ws: WorkspaceConfig, path: Path) -> str:
    try:
        return path.resolve().relative_to(ws.root).as_posix()
    except ValueError:
        return str(path)


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9@._-]+", "_", text)[:120]


def dry_run(ws: WorkspaceConfig, engine: Engine, name: str, out: Path) -> Iterator[Path]:
    """Write the .eml of every queued message; change nothing in the database."""
    spec = load_campaign(ws, name)
    with Session(engine) as session:
        campaign = built_campaign(session, name)
        factory = MessageFactory.for_campaign(ws, engine, spec, campaign.id)
        views = fields_of(ws).view
        out.mkdir(parents=True, exist_ok=True)
        rows = session.execute(
            select(Outbox, Contact).join(Contact, Contact.id == Outbox.contact_id)
            .where(Outbox.campaign_id == campaign.id, Outbox.state.in_(("queued", "retry")),
                   Outbox.email.not_in(select(Suppression.email)))  # never sent: not shown either
            .order_by(Outbox.id).execution_options(yield_per=500)
        )  # fmt: skip
        for row, contact in rows:
            prepared = factory.prepare(views.of(contact), row.message_id, row.email, int(row.variant or 0),
                                       lang=row.language)  # fmt: skip
            path = out / f"{row.id:07d}-{_safe_name(row.email)}.eml"
            path.write_bytes(prepared.data)
            yield path
