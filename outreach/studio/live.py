"""The writer's live preview, without the HTTP: compile once per change, render per request.

``/version`` (in the web app) is a hash of the watched files' mtimes and
sizes (outreach.yaml, the campaign's YAML, its Markdown and language versions,
the blocks they include, the step contents, the segment); the first request that sees a new version recompiles, every
other request reuses the compiled factories. A render error (a syntax error
with file and line, an undefined variable for this contact, a broken YAML)
is kept in the View instead of raised: the page shows it (its files named from
the workspace, never by the server's own folders) and the next save can fix
it. The lint findings are computed once per version too, since they render
every contact of the segment.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from outreach.audience.contacts import ContactView, get_contact
from outreach.audience.fields import fields_of
from outreach.audience.segments import contacts_query, load_segment, segment_path
from outreach.campaigns.builder import campaign_id, new_message_id
from outreach.campaigns.definition import CampaignSpec, load_campaign
from outreach.campaigns.messages import MessageFactory, Prepared, step_factories
from outreach.errors import NotFoundError, OutreachError
from outreach.settings.config import SETTINGS_FILE
from outreach.settings.workspace import WorkspaceConfig, load_workspace
from outreach.studio.lint import LintResult, lint_workspace

MAX_CONTACTS = 200  # in the switcher; any other contact is one ?contact=EMAIL away
GMAIL_CLIP = 102 * 1024  # Gmail hides everything after this many bytes of HTML
_PREHEADER = re.compile(r'<div class="preheader"[^>]*>(.*?)</div>', re.S)
_TAGS = re.compile(r"<[^>]+>")


def file_version(paths: tuple[Path, ...]) -> str:
    """A short hash of the files' mtimes and sizes: changes whenever an editor saves one."""
    h = hashlib.sha256()
    for path in paths:
        try:
            st = path.stat()
            h.update(f"{path}\0{st.st_mtime_ns}\0{st.st_size}\n".encode())
        except OSError:
            h.update(f"{path}\0missing\n".encode())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Compiled:
    """One version of the campaign, ready to render: factories per step, or the error that stopped it."""

    version: str
    files: tuple[Path, ...]
    ws: WorkspaceConfig | None = None
    spec: CampaignSpec | None = None
    factories: dict[int, MessageFactory] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class View:
    """Everything one page shows; ``error`` replaces the message when rendering failed."""

    version: str
    contacts: tuple[ContactView, ...] = ()
    contact: ContactView | None = None
    steps: int = 1
    step: int = 0
    variants: int = 1  # A/B subject lines of the shown step
    variant: int = 0
    languages: tuple[str, ...] = ()  # the step's language versions (none: one file for everyone)
    lang: str | None = None  # the version asked for; None: the one the contact gets
    prepared: Prepared | None = None
    error: str | None = None

    @property
    def preheader(self) -> str:
        """As the recipient's inbox shows it: read back from the rendered HTML part."""
        if self.prepared is None:
            return ""
        match = _PREHEADER.search(self.prepared.rendered.html)
        return " ".join(html.unescape(_TAGS.sub("", match.group(1))).split()) if match else ""

    @property
    def html_size(self) -> int:
        return len(self.prepared.rendered.html.encode()) if self.prepared else 0

    @property
    def clipped(self) -> bool:
        return self.html_size > GMAIL_CLIP


class Previewer:
    """The campaign being previewed: watches its files and keeps the latest compiled version."""

    def __init__(self, ws: WorkspaceConfig, engine: Engine, name: str, default_email: str | None = None) -> None:
        self.root, self.engine, self.name, self.default_email = ws.root, engine, name, default_email
        self._lock = threading.Lock()
        self._lint_lock = threading.Lock()
        self._lint: tuple[str, LintResult] | None = None
        self._compiled = self._compile(ws, self._base_files())

    def _base_files(self) -> tuple[Path, ...]:
        return self.root / SETTINGS_FILE, self.root / "campaigns" / f"{self.name}.yaml"

    def version(self) -> str:
        """What ``/version`` answers; cheap (a few stat calls), polled every second by each open page."""
        return file_version(self._compiled.files)

    def current(self) -> Compiled:
        """The compiled campaign for the files as they are now; recompiles only after a change."""
        with self._lock:  # one recompile per change, even with several tabs polling at once
            compiled = self._compiled
            if file_version(compiled.files) != compiled.version:
                self._compiled = compiled = self._recompile(compiled.files)
            return compiled

    def _recompile(self, files: tuple[Path, ...]) -> Compiled:
        """outreach.yaml is read again too: a changed sender or organization shows at once."""
        before = file_version(files)
        try:
            ws = load_workspace(self.root)
        except OutreachError as exc:
            return Compiled(before, files, error=exc.message_in(self.root))
        return self._compile(ws, files, before)

    def _compile(self, ws: WorkspaceConfig, files: tuple[Path, ...], before: str | None = None) -> Compiled:
        """Keyed by the version taken before reading, so a save during the compile triggers another."""
        before = before or file_version(files)
        spec = None
        try:
            spec = load_campaign(ws, self.name)
            watched = self._watched(ws, spec, {})
            base = MessageFactory.for_campaign(ws, self.engine, spec, campaign_id(self.engine, spec, create=True))
            factories = step_factories(ws, spec, base)
            watched = self._watched(ws, spec, factories)
        except OutreachError as exc:  # spec kept when only the content failed: the contact list still shows
            if spec is None:
                return Compiled(before, files, ws=ws, error=exc.message_in(self.root))
            # watch the file at fault too (a block with a syntax error): saving the fix shows at once
            at_fault = (Path(exc.path),) if exc.path else ()
            watched = tuple(dict.fromkeys((*self._watched(ws, spec, {}), *at_fault)))
            version = before if watched == files else file_version(watched)
            return Compiled(version, watched, ws=ws, spec=spec, error=exc.message_in(self.root))
        version = before if watched == files else file_version(watched)
        return Compiled(version, watched, ws=ws, spec=spec, factories=factories)

    def _watched(self, ws: WorkspaceConfig, spec: CampaignSpec,
                 factories: dict[int, MessageFactory]) -> tuple[Path, ...]:  # fmt: skip
        """Every content file (a language version not written yet too) and every block they include."""
        content = [p for k in range(len(spec.file.steps) + 1) for p in spec.step_files(k).candidates]
        blocks = [p for f in factories.values() for c in f.versions.all for p in c.source.files]
        segment = segment_path(ws, spec.file.segment)
        return tuple(dict.fromkeys((*self._base_files(), spec.path, *content, *blocks, segment)))

    def view(self, email: str | None, step: int = 0, variant: int = 0, lang: str | None = None) -> View:
        """Render ``step`` with subject ``variant`` for ``email`` (default: the segment's first contact),
        in language version ``lang`` (default: the contact's)."""
        compiled = self.current()
        view = View(compiled.version, steps=max(len(compiled.factories), 1), step=step, variant=variant,
                    lang=lang, error=compiled.error)  # fmt: skip
        if compiled.ws is None or compiled.spec is None:
            return view
        try:
            view = replace(view, contacts=self._contacts(compiled.ws, compiled.spec))
            contact = self._contact(view.contacts, email or self.default_email)
            view = replace(view, contact=contact)
            if compiled.error is not None:
                return view
            if step not in compiled.factories:
                raise NotFoundError(f"campaign {self.name!r} has no step {step} (steps 0 to {view.steps - 1})")
            factory = compiled.factories[step]
            languages = tuple(factory.versions.files.versions)
            view = replace(view, variants=factory.subject_count, languages=languages)
            if not 0 <= variant < factory.subject_count:
                raise NotFoundError(f"campaign {self.name!r} has no subject variant {variant} "
                                    f"(0 to {factory.subject_count - 1})")  # fmt: skip
            if lang is not None and lang not in languages:
                raise NotFoundError(f"campaign {self.name!r} has no {lang} version of this email "
                                    f"(versions: {', '.join(languages) or 'none'})")  # fmt: skip
            prepared = factory.prepare(contact, new_message_id(compiled.spec.sender.domain), variant=variant,
                                       lang=lang)  # fmt: skip
        except OutreachError as exc:
            return replace(view, error=compiled.error or exc.message_in(self.root))
        return replace(view, prepared=prepared)

    def lint(self) -> tuple[str, LintResult | None, str | None]:
        """(version, findings, error) for the files as they are now; computed once per version."""
        compiled = self.current()
        if compiled.ws is None:
            return compiled.version, None, compiled.error
        with self._lint_lock:
            if self._lint is None or self._lint[0] != compiled.version:
                try:
                    self._lint = (compiled.version, lint_workspace(compiled.ws, self.engine, [self.name]))
                except OutreachError as exc:
                    return compiled.version, None, exc.message_in(self.root)
            return self._lint[0], self._lint[1], None

    def _contacts(self, ws: WorkspaceConfig, spec: CampaignSpec) -> tuple[ContactView, ...]:
        """The segment's first contacts, read per request: an import shows without a restart."""
        query = contacts_query(ws, load_segment(ws, spec.file.segment), engine=self.engine).limit(MAX_CONTACTS)
        with Session(self.engine) as session:
            return tuple(fields_of(ws).view.of(c) for c in session.scalars(query))

    def _contact(self, contacts: tuple[ContactView, ...], email: str | None) -> ContactView:
        if email:
            found = next((c for c in contacts if c.email == email.strip().lower()), None)
            found = found or get_contact(self.engine, email[:320])
            if found is None:
                raise NotFoundError(f"no contact {email!r}; import it first or pick another")
            return found
        if not contacts:
            raise NotFoundError("the campaign's segment has no contacts to preview with; import contacts "
                                "or add ?contact=EMAIL to the address")  # fmt: skip
        return contacts[0]
