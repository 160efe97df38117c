"""Turning one outbox row into the bytes a recipient gets.

Built once per campaign (content compiled, sender and links fixed); each
recipient then costs one template render and one MIME assembly. A bilingual
campaign compiles each language version once; each contact gets the one of
its language (see ``ContentFiles``), and its outbox row remembers which.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine

from outreach.audience.contacts import ContactView
from outreach.campaigns.definition import CampaignSpec, ContentFiles
from outreach.content import mime
from outreach.content.dkim import DkimSigner
from outreach.content.images import InlineImage
from outreach.content.includes import Drafts
from outreach.content.problems import Variable, is_empty
from outreach.content.rendering import CompiledContent, Organization, Rendered, load_compiled
from outreach.settings import LANGUAGES
from outreach.settings.tokens import Signer, workspace_signer
from outreach.settings.workspace import WorkspaceConfig


@dataclass(frozen=True)
class CampaignInfo:
    """What templates see as ``campaign``."""

    __template_fields__ = frozenset({"name"})
    name: str


@dataclass(frozen=True)
class SenderInfo:
    """What templates see as ``sender``."""

    __template_fields__ = frozenset({"name", "email", "title", "phone"})
    name: str
    email: str
    title: str
    phone: str


@dataclass(frozen=True)
class Prepared:
    rendered: Rendered
    data: bytes
    envelope_from: str
    lang: str = "en"  # of the content version used
    images: tuple[InlineImage, ...] = ()  # embedded: ``cid:`` URLs in the HTML refer to them

    def html_for_browser(self) -> str:
        """The HTML part with its embedded pictures as ``data:`` URLs, for a browser (which knows no ``cid:``)."""
        html = self.rendered.html
        for image in self.images:
            data = image.b64.replace(b"\r\n", b"").decode("ascii")
            html = html.replace(f'"{image.src}"', f'"data:{image.content_type};base64,{data}"')
        return html


def compile_file(ws: WorkspaceConfig, path: Path, drafts: Drafts | None = None) -> CompiledContent:
    """A content file compiled with this workspace's footer, theme and click-tracking setting (``drafts``:
    unsaved text in place of files, for the editor's preview: the same compile as a real send)."""
    org = ws.settings.organization
    return load_compiled(path, Organization(org.name, org.address), ws.settings.tracking.clicks,
                         ws.settings.theme, ws.root, drafts)  # fmt: skip


@dataclass(frozen=True)
class Versions:
    """One email's content compiled in each language it is written in."""

    files: ContentFiles
    compiled: dict[Path, CompiledContent]

    @classmethod
    def single(cls, content: CompiledContent, language: str) -> Versions:
        return cls(ContentFiles(content.path, {}, language), {content.path: content})

    def pick(self, language: str | None) -> CompiledContent:
        return self.compiled[self.files.pick(language)]

    @property
    def all(self) -> list[CompiledContent]:
        return list(self.compiled.values())


def compile_versions(ws: WorkspaceConfig, files: ContentFiles, drafts: Drafts | None = None) -> Versions:
    return Versions(files, {path: compile_file(ws, path, drafts) for path in files.paths or [files.base]})


class MessageFactory:
    def __init__(self, ws: WorkspaceConfig, spec: CampaignSpec, campaign_id: int, signer: Signer,
                 content: CompiledContent | Versions | None = None,
                 dkim: DkimSigner | None = None) -> None:  # fmt: skip
        self.ws = ws
        self.dkim = dkim
        self.spec = spec
        self.campaign_id = campaign_id
        self.signer = signer
        if isinstance(content, CompiledContent):
            content = Versions.single(content, ws.settings.language)
        self.versions = content or compile_versions(ws, spec.content_files)
        self.content = self.versions.pick(None)  # the workspace language's version
        self.click_base = ws.settings.unsubscribe.base_url + "/c/"
        self.campaign = CampaignInfo(spec.name)
        s = spec.sender
        self.sender = SenderInfo(s.name, s.email, s.title, s.phone)
        self.unsub_base = ws.settings.unsubscribe.base_url + "/u/"
        mailto = ws.settings.unsubscribe.mailto or f"unsubscribe@{spec.sender.domain}"
        self.mailto = f"mailto:{mailto}?subject=unsubscribe%20"

    @classmethod
    def for_campaign(cls, ws: WorkspaceConfig, engine: Engine, spec: CampaignSpec, campaign_id: int) -> MessageFactory:
        dkim = DkimSigner.from_settings(ws.settings.dkim, ws.root) if ws.settings.dkim else None  # key read once
        return cls(ws, spec, campaign_id, workspace_signer(engine, ws), dkim=dkim)

    @property
    def subject_count(self) -> int:
        return max(1 + len(c.source.variants) for c in self.versions.all)

    @property
    def content_hash(self) -> str:
        h = hashlib.sha256()
        for content in self.versions.all:
            h.update(content.html_source.encode())
            h.update(content.text_source.encode())
            h.update("\0".join(content.source.variants or (content.source.subject,)).encode())
            for image in content.images:
                h.update(image.cid.encode())
        return h.hexdigest()

    def language(self, contact: ContactView) -> str:
        """The contact's language: its own, else the workspace's."""
        return contact.language if contact.language in LANGUAGES else self.ws.settings.language

    def content_for(self, contact: ContactView, lang: str | None = None) -> CompiledContent:
        """The version ``contact`` gets; ``lang`` (an outbox row's, a preview's choice) overrides its language."""
        return self.versions.pick(lang or self.language(contact))

    def context(self, contact: ContactView, token: str) -> dict[str, Any]:
        return {
            "contact": contact,
            "sender": self.sender,
            "campaign": self.campaign,
            "unsubscribe_url": self.unsub_base + quote(token),
            "track_click": lambda url: self.tracked(token, url),
        }

    def tracked(self, token: str, url: str) -> str:
        """The click-tracking URL for ``url`` in this recipient's message."""
        return f"{self.click_base}{quote(token)}?u={quote(url, safe='')}&s={self.signer.link_mac(token, url)}"

    def empty_variables(self, contact: ContactView, lang: str | None = None) -> list[Variable]:
        """The content's plain ``{{ ... }}`` outputs that print nothing for ``contact``."""
        content = self.content_for(contact, lang)
        if not content.variables:
            return []
        context = self.context(contact, "")
        return [v for v in content.variables if is_empty(context, v)]

    def render(self, contact: ContactView, variant: int = 0, lang: str | None = None) -> Rendered:
        token = self.signer.sign(contact.id, self.campaign_id)
        return self.content_for(contact, lang).render(self.context(contact, token), variant)

    def prepare(self, contact: ContactView, message_id: str, to_email: str | None = None,
                variant: int = 0, now: datetime | None = None, in_reply_to: str | None = None,
                sign: bool = True, lang: str | None = None) -> Prepared:  # fmt: skip
        """The message's bytes; ``sign=False`` leaves DKIM to the caller (the engine signs in batches).
        ``lang``: the language version to use (an outbox row's); by default the contact's."""
        token = self.signer.sign(contact.id, self.campaign_id)
        content = self.content_for(contact, lang)
        rendered = content.render(self.context(contact, token), variant)
        envelope = mime.Envelope(
            from_name=self.spec.sender.name,
            from_email=self.spec.sender.email,
            to_name=contact.full_name,
            to_email=to_email or contact.email,
            subject=rendered.subject,
            message_id=message_id,
            date=now or datetime.now(UTC),
            list_unsubscribe_url=self.unsub_base + quote(token),
            list_unsubscribe_mailto=self.mailto + quote(token),
            reply_to=self.spec.file.reply_to,
            extra=(("X-Outreach-Campaign", self.spec.name),) + (
                (("In-Reply-To", f"<{in_reply_to}>"), ("References", f"<{in_reply_to}>")) if in_reply_to else ()
            ),  # a follow-up step threads under the first email
        )
        data = mime.build(envelope, rendered.text, rendered.html, content.images)
        if sign and self.dkim is not None:
            data = self.dkim.sign(data)
        return Prepared(rendered=rendered, data=data, envelope_from=self.spec.sender.email, lang=content.lang,
                        images=content.images)  # fmt: skip


def step_factories(ws: WorkspaceConfig, spec: CampaignSpec, base: MessageFactory) -> dict[int, MessageFactory]:
    """One compiled factory per step (0 = the first email), built once per run."""
    factories = {0: base}
    for k in range(1, len(spec.file.steps) + 1):
        content = compile_versions(ws, spec.step_files(k))
        factories[k] = MessageFactory(ws, spec, base.campaign_id, base.signer, content, base.dkim)
    return factories
