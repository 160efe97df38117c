"""The editor's live check: the text being typed, rendered and linted as it would be sent, with nothing written.

The draft stands in for its file (``drafts``: read by ``read_content`` and the
block loader in place of the file), so the message is compiled and
personalised by the same code as a real send (``compile_file``,
``MessageFactory.prepare``) and linted by ``content lint``'s own checks. For a
block, the message of the first campaign that includes it; a block no campaign
includes yet is shown inside an empty message of the first campaign.

Personalisation is tried with the segment's first ``LIVE_SAMPLE`` contacts
(the check runs after every pause in typing); ``content lint`` and the build
try every contact.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from outreach.audience.contacts import ContactView, get_contact
from outreach.audience.fields import fields_of
from outreach.audience.segments import contacts_query, load_segment
from outreach.campaigns.builder import campaign_id, new_message_id
from outreach.campaigns.definition import CampaignSpec, load_campaign
from outreach.campaigns.messages import MessageFactory, Prepared, compile_file
from outreach.errors import OutreachError
from outreach.settings.tokens import workspace_signer
from outreach.settings.workspace import WorkspaceConfig
from outreach.studio.editable import Editable, campaigns_using, included_blocks
from outreach.studio.frontmatter import Fields, read_fields
from outreach.studio.lint import Finding, lint_campaign, placeholder_contact

LIVE_SAMPLE = 200  # contacts personalisation is tried with, per pause in typing
SWITCHER = 50  # contacts offered to preview as


@dataclass(frozen=True)
class DraftCheck:
    """What the editor shows beside the text: the message, the findings, the fields as the text has them."""

    file: Editable
    campaign: str | None = None
    contacts: tuple[ContactView, ...] = ()
    contact: ContactView | None = None
    prepared: Prepared | None = None
    error: str | None = None  # why there is no message (a syntax error, no campaign, no contact)
    findings: list[Finding] = field(default_factory=list)
    fields: Fields | None = None
    checked: str = ""  # whom personalisation was tried with

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.level == "error") + (1 if self.error and not self.findings else 0)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.level == "warning")


def check_draft(ws: WorkspaceConfig, engine: Engine, file: Editable, source: str, email: str | None = None,
                sample: int = LIVE_SAMPLE) -> DraftCheck:  # fmt: skip
    """Render and lint ``source`` as ``file`` (for ``email``, else the segment's first contact)."""
    drafts = {file.path.resolve(): source}
    base = DraftCheck(file, fields=read_fields(source))
    using = sorted(campaigns_using(ws, file), key=lambda n: n != file.name)  # promo.md: campaign promo first
    name = using[0] if using else _any_campaign(ws)
    if name is None:
        return _alone(ws, base, drafts, "no campaign sends this file yet, so there is nobody to preview it for")
    try:
        spec = load_campaign(ws, name)
    except OutreachError as exc:
        return _alone(ws, base, drafts, f"campaign {name} does not load: {exc.message_in(ws.root)}")
    target = _target(ws, spec, file, drafts, bool(using))
    contacts, contact, note = _contacts(ws, engine, spec, email, sample)
    check = DraftCheck(file, name, contacts, contact, fields=base.fields, checked=note)
    try:
        compiled = compile_file(ws, target, drafts)
        factory = MessageFactory(ws, spec, campaign_id(engine, spec, create=False), workspace_signer(engine, ws),
                                 compiled)  # fmt: skip
        prepared = factory.prepare(contact, new_message_id(spec.sender.domain), sign=False)
        check = DraftCheck(file, name, contacts, contact, prepared, fields=base.fields, checked=note)
    except OutreachError as exc:
        check = DraftCheck(file, name, contacts, contact, error=exc.message_in(ws.root), fields=base.fields,
                           checked=note)  # fmt: skip
    # a file a campaign sends: that campaign's whole lint; a block no campaign includes: its syntax
    findings = lint_campaign(ws, engine, name, drafts=drafts, sample=sample) if using else _syntax(ws, target, drafts)
    return replace(check, findings=findings)


def _any_campaign(ws: WorkspaceConfig) -> str | None:
    for name in ws.campaign_names():
        try:
            load_campaign(ws, name)
        except OutreachError:
            continue
        return name
    return None


def _target(ws: WorkspaceConfig, spec: CampaignSpec, file: Editable, drafts: dict[Path, str], used: bool) -> Path:
    """The content file to render: the file itself, or for a block the campaign's file that includes it (else an
    empty message around it, which exists only as a draft)."""
    if file.kind == "content":
        return file.path
    if used:
        for path in spec.all_content():
            if file.relpath in included_blocks(path):
                return path
    wrapper = ws.campaigns_dir / f".block-preview.{file.name.replace('/', '.')}.md"
    drafts[wrapper.resolve()] = f'---\nsubject: "Block {file.name}"\n---\n{{% include "{file.relpath}" %}}\n'
    return wrapper


def _contacts(ws: WorkspaceConfig, engine: Engine, spec: CampaignSpec, email: str | None,
              sample: int) -> tuple[tuple[ContactView, ...], ContactView, str]:  # fmt: skip
    """The switcher's contacts, the one to show (``email``'s, else the first; the sample contact for an empty
    segment) and a note on whom the lint tried."""
    registry = fields_of(ws)
    try:
        query = contacts_query(ws, load_segment(ws, spec.file.segment))
        with Session(engine) as session:
            shown = tuple(registry.view.of(c) for c in session.scalars(query.limit(SWITCHER)))
            total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    except OutreachError:
        shown, total = (), 0
    contact = next((c for c in shown if email and c.email == email.strip().lower()), None)
    if contact is None and email:
        contact = get_contact(engine, email[:320], registry)
    if contact is None:
        contact = shown[0] if shown else placeholder_contact(ws, spec)
    if total == 0:
        note = f"segment {spec.file.segment} has no contacts: a sample contact stands in"
    elif total > sample:
        note = f"personalisation tried with the first {sample} of the {total} contacts of segment {spec.file.segment}"
    else:
        note = f"personalisation tried with all {total} contacts of segment {spec.file.segment}"
    return shown, contact, note


def _alone(ws: WorkspaceConfig, base: DraftCheck, drafts: dict[Path, str], why: str) -> DraftCheck:
    """No campaign to render with: the syntax is still checked."""
    return replace(base, error=why, findings=_syntax(ws, base.file.path, drafts))


def _syntax(ws: WorkspaceConfig, path: Path, drafts: dict[Path, str]) -> list[Finding]:
    """The one check that needs no campaign: the text reads and compiles (front matter, template syntax, HTML)."""
    from outreach.content.rendering import Organization, compile_content, read_content

    org = ws.settings.organization
    try:
        source = read_content(path, ws.root, drafts=drafts)
        compile_content(source, Organization(org.name, org.address), False, ws.settings.theme, ws.root)
    except OutreachError as exc:
        where = Path(exc.path) if exc.path else path
        try:
            rel = where.resolve().relative_to(ws.root.resolve()).as_posix()
        except ValueError:
            rel = where.name
        return [Finding("error", rel, exc.line, exc.detail)]
    return []
