"""Turning one outbox row into the bytes a recipient gets.

Built once per campaign (content compiled, sender and links fixed); each
recipient then costs one template render and one MIME assembly.
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
from outreach.campaigns.definition import CampaignSpec
from outreach.content import mime
from outreach.content.dkim import DkimSigner
from outreach.content.problems import Variable, is_empty
from outreach.content.rendering import CompiledContent, Organization, Rendered, load_compiled
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


def compile_file(ws: WorkspaceConfig, path: Path) -> CompiledContent:
    """A content file compiled with this workspace's footer and click-tracking setting."""
    org = ws.settings.organization
    return load_compiled(path, Organization(org.name, org.address), ws.settings.tracking.clicks)


class MessageFactory:
    def __init__(self, ws: WorkspaceConfig, spec: CampaignSpec, campaign_id: int, signer: Signer,
                 content: CompiledContent | None = None, dkim: DkimSigner | None = None) -> None:  # fmt: skip
        self.ws = ws
        self.dkim = dkim
        self.spec = spec
        self.campaign_id = campaign_id
        self.signer = signer
        self.content = content or compile_file(ws, spec.content_path)
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
        return 1 + len(self.content.source.variants)

    @property
    def content_hash(self) -> str:
        h = hashlib.sha256(self.content.html_source.encode())
        h.update(self.content.text_source.encode())
        h.update("\0".join(self.content.source.variants or (self.content.source.subject,)).encode())
        return h.hexdigest()

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

    def empty_variables(self, contact: ContactView) -> list[Variable]:
        """The content's plain ``{{ ... }}`` outputs that print nothing for ``contact``."""
        if not self.content.variables:
            return []
        context = self.context(contact, "")
        return [v for v in self.content.variables if is_empty(context, v)]

    def render(self, contact: ContactView, variant: int = 0) -> Rendered:
        token = self.signer.sign(contact.id, self.campaign_id)
        return self.content.render(self.context(contact, token), variant)

    def prepare(self, contact: ContactView, message_id: str, to_email: str | None = None,
                variant: int = 0, now: datetime | None = None, in_reply_to: str | None = None,
                sign: bool = True) -> Prepared:  # fmt: skip
        """The message's bytes; ``sign=False`` leaves DKIM to the caller (the engine signs in batches)."""
        token = self.signer.sign(contact.id, self.campaign_id)
        rendered = self.content.render(self.context(contact, token), variant)
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
        data = mime.build(envelope, rendered.text, rendered.html)
        if sign and self.dkim is not None:
            data = self.dkim.sign(data)
        return Prepared(rendered=rendered, data=data, envelope_from=self.spec.sender.email)


def step_factories(ws: WorkspaceConfig, spec: CampaignSpec, base: MessageFactory) -> dict[int, MessageFactory]:
    """One compiled factory per step (0 = the first email), built once per run."""
    factories = {0: base}
    for k, step in enumerate(spec.file.steps, 1):
        content = compile_file(ws, ws.campaigns_dir / step.content)
        factories[k] = MessageFactory(ws, spec, base.campaign_id, base.signer, content, base.dkim)
    return factories
