"""The library face: ``from outreach import Workspace``.

One object for a workspace opened for work (its validated settings and its
database) with the operations a user runs as methods, so scripts, the CLI, the
worker and the web app all call the same core::

    from outreach import Workspace

    with Workspace.open("my-workspace") as ws:
        ws.import_contacts("contacts.csv")
        print(ws.build("solusi-jaringan").summary())
        report = ws.send("solusi-jaringan")
        print(report.sent, "sent;", ws.status("solusi-jaringan").counts)
        ws.ingest(["replies.mbox"])
        ws.export_followups("call", "call-list.xlsx")

Each method imports what it needs when it is called: opening a workspace to
read a campaign's status does not load the renderer, the SMTP client or the
bounce classifier. The database is opened (and migrated) on first use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from outreach.accounts.users import Account
    from outreach.audience.contacts import ContactView
    from outreach.audience.history import Change, ContactRecord
    from outreach.audience.hygiene import HygieneReport
    from outreach.audience.importer import ImportOptions, ImportResult, Peek
    from outreach.audience.merge import MergeResult
    from outreach.audience.profile import Profile
    from outreach.audience.proposals import Proposal
    from outreach.audience.search import Choices, ContactFilter, ContactPage
    from outreach.audience.segment_editing import SavedSegment, SegmentForm
    from outreach.audience.segments import SegmentSummary
    from outreach.audience.verify import Enqueued
    from outreach.audit import Record
    from outreach.campaigns.builder import BuildResult
    from outreach.campaigns.editing import CampaignForm, SavedCampaign
    from outreach.campaigns.messages import Prepared
    from outreach.campaigns.overview import CampaignSummary
    from outreach.campaigns.policy import Held
    from outreach.campaigns.status import Status
    from outreach.deliverability.findings import Checkup
    from outreach.events.feed import Page
    from outreach.fields import FieldSet
    from outreach.followups.history import Happening
    from outreach.followups.outcomes import ImportCounts
    from outreach.followups.queue import Item
    from outreach.operations.backup import BackupResult
    from outreach.operations.heartbeat import WorkerStatus
    from outreach.reports.campaign import CampaignReport
    from outreach.reports.monthly import MonthlyReport
    from outreach.sending.engine import SendOptions, SendReport
    from outreach.settings.workspace import WorkspaceConfig
    from outreach.studio.drafts import DraftCheck
    from outreach.studio.editable import Editable, Overview
    from outreach.studio.history import Diff, Version
    from outreach.studio.lint import LintResult
    from outreach.studio.saving import Opened, Saved
    from outreach.studio.screenshot import Shot
    from outreach.studio.starters import NewCampaign
    from outreach.studio.uploads import Stored
    from outreach.tracking.esp.hooks import Hooks
    from outreach.tracking.imap import PollReport
    from outreach.tracking.ingest import IngestReport
    from outreach.tracking.reply_review import Flagged
    from outreach.webhooks.status import ReceiverStatus


def login_name() -> str:
    """Who ran a command, as the history records it: the system user (``cli`` when that is unknown)."""
    import getpass

    try:
        return getpass.getuser()[:120]
    except (OSError, KeyError):
        return "cli"


class Workspace:
    """A workspace opened for work. Close it (or use ``with``) to release the database."""

    def __init__(self, config: WorkspaceConfig, engine: Engine | None = None, *, recount: bool = False) -> None:
        self.config = config
        self._engine = engine
        self._recount = recount  # status by counting the outbox, as before counts were kept (bench/web_sizes.py)

    @classmethod
    def open(cls, path: str | Path | None = None) -> Workspace:
        """Load ``outreach.yaml`` from ``path`` (default: $OUTREACH_WORKSPACE, else the current directory)."""
        from outreach.settings.workspace import load_workspace

        return cls(load_workspace(path))

    # -- the basics ------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return self.config.root

    @property
    def engine(self) -> Engine:
        """The database, opened and brought to the newest schema on first use."""
        if self._engine is None:
            from outreach.storage import open_engine

            self._engine = open_engine(self.config.database_url,
                                       busy_timeout=self.config.settings.database.busy_timeout)
        return self._engine

    def secret(self) -> bytes:
        """The workspace secret (``$OUTREACH_SECRET``, else generated once and kept in the database)."""
        from outreach.settings.tokens import workspace_secret

        return workspace_secret(self.engine, self.config.settings.unsubscribe.secret_env)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.close()

    # -- contacts and segments ------------------------------------------------------------

    def import_contacts(self, path: str | Path, mapping: Sequence[str] = (),
                        progress: Callable[[int, int], None] | None = None, *, who: str = "cli", via: str = "cli",
                        label: str | None = None) -> ImportResult:  # fmt: skip
        """Import a CSV; re-importing updates contacts by email. ``mapping``: ``["COLUMN=FIELD", ...]``
        for columns the header synonyms do not recognise (as ``--map``); ``progress(bytes read, bytes
        in the file)`` is called after each batch of rows. The audit log records ``who`` imported
        ``label`` (default: the file's name) through ``via``."""
        from outreach.audience.importer import import_contacts

        return import_contacts(self.engine, Path(path), self._import_options(mapping), progress, who=who, via=via,
                               label=label)  # fmt: skip

    def peek_contacts(self, path: str | Path, mapping: Sequence[str] = (), rows: int = 5) -> Peek:
        """How an import would read the file's columns (the same recognition and ``mapping``), and its first
        rows, without importing: the app's mapping table. A missing email column is listed, not raised."""
        from outreach.audience.headers import parse_mapping
        from outreach.audience.importer import peek_file

        return peek_file(Path(path), parse_mapping(mapping, self.fields), self.fields, rows)

    def upsert_contacts(self, records: Sequence[Mapping[str, Any]]) -> ImportResult:
        """Contacts as records (field -> text, ``custom``: key -> text), imported as a CSV's rows are: the same
        validation, upsert by email; ``result.outcomes`` has each record's fate by its index."""
        from outreach.audience.records import upsert_records

        return upsert_records(self.engine, records, self._import_options())

    def _import_options(self, mapping: Sequence[str] = ()) -> ImportOptions:
        from outreach.audience.headers import parse_mapping
        from outreach.audience.importer import ImportOptions

        settings = self.config.settings
        return ImportOptions(region=settings.contacts.default_region,
                             senders={key: (s.name, s.email) for key, s in settings.senders.items()},
                             mapping=parse_mapping(mapping, self.fields), registry=self.fields)  # fmt: skip

    def find_contacts(self, segment: str | None = None, *, email: str | None = None, status: str | None = None,
                      updated_since: datetime | None = None, after: int = 0, limit: int = 100) -> list[ContactView]:
        """A page of contacts (a segment's, or all) in id order after id ``after``, filtered (the API's list)."""
        from outreach.audience.contacts import find_contacts
        from outreach.audience.segments import contacts_query, load_segment

        query = contacts_query(self.config, load_segment(self.config, segment), engine=self.engine) if segment else None
        return find_contacts(self.engine, query, email=email, status=status, updated_since=updated_since,
                             after=after, limit=limit)  # fmt: skip

    def segment_names(self) -> list[str]:
        from outreach.audience.segments import list_segments

        return list_segments(self.config)

    def events(self, after: int = 0, limit: int = 100, types: Collection[str] | None = None) -> Page:
        """The event feed after cursor ``after``: sent, failed, bounce, complaint, reply, unsubscribe, outcome."""
        from outreach.events.feed import TYPES, read_feed

        return read_feed(self.engine, after, limit, types or TYPES, self.config.tz)

    def segments(self) -> list[SegmentSummary]:
        """Every segment (segments/*.yaml) with its size; a broken file with its error, the rest still counted."""
        from outreach.audience.segments import summarise_segments

        return summarise_segments(self.engine, self.config)

    def segment_size(self, name: str) -> int:
        """How many contacts segment ``name`` holds now."""
        from outreach.audience.segments import count_segment, load_segment

        return count_segment(self.engine, self.config, load_segment(self.config, name))

    def segment_form(self, name: str) -> tuple[SegmentForm | None, str, str]:
        """Segment NAME for the app's editor: its conditions as the form (None when the file says more than
        the form shows), its text and its version."""
        from outreach.audience.segment_editing import form_of

        return form_of(self.config, name)

    def save_segment(self, name: str, text: str, *, who: str, via: str = "app", editing: bool = False,
                     base: str | None = None) -> SavedSegment:  # fmt: skip
        """Write ``segments/NAME.yaml`` after the loader accepted ``text`` (``SegmentError`` with the line
        otherwise); atomically, refusing an existing name unless ``editing``; who did it is recorded."""
        from outreach.audience.segment_editing import save_segment

        return save_segment(self.config, name, text, who=who, via=via, engine=self.engine, editing=editing,
                            base=base)  # fmt: skip

    def segment_holds(self, name: str) -> Held:
        """Who the contact policy would hold out of a campaign to segment ``name`` built now (no campaign
        needed, nothing written)."""
        from outreach.campaigns.builder import segment_holds

        return segment_holds(self.config, self.engine, name)

    def contacts(self, segment: str | None = None) -> Iterator[ContactView]:
        """Every contact, or a segment's, streamed in id order."""
        from outreach.audience.contacts import iter_contacts
        from outreach.audience.segments import contacts_query, load_segment

        query = contacts_query(self.config, load_segment(self.config, segment), engine=self.engine) if segment else None
        return iter_contacts(self.engine, query, registry=self.fields)

    @property
    def fields(self) -> FieldSet:
        """The workspace's contact fields: the registry's built-in ones and the workspace's own."""
        from outreach.audience.fields import fields_of

        return fields_of(self.config)

    def contact(self, email: str) -> ContactRecord:
        """A contact's fields and its recorded changes (``contacts show``)."""
        from sqlalchemy.orm import Session

        from outreach.audience.history import contact_record

        with Session(self.engine) as session:
            return contact_record(session, email, self.fields)

    def change_contact(self, email: str, updates: Mapping[str, object], who: str, via: str,
                       base: str | None = None) -> list[Change]:  # fmt: skip
        """Correct a contact: each value parsed as an import's cell (a bad one raises ``FieldError``
        and nothing changes), every change kept with its old value, ``who`` and ``via``; with ``base``
        (the profile's ``version`` the person edited), ConflictError if the contact changed since."""
        from outreach.audience.history import change_contact
        from outreach.fields.parsers import Plain
        from outreach.storage import transaction

        settings = self.config.settings
        context = Plain(settings.contacts.default_region,
                        {key: (s.name, s.email) for key, s in settings.senders.items()})  # fmt: skip
        with transaction(self.engine) as session:
            return change_contact(session, email, updates, who, via, registry=self.fields, context=context,
                                  base=base)  # fmt: skip

    def search_contacts(self, flt: ContactFilter, *, after: str | None = None, before: str | None = None,
                        limit: int = 50) -> ContactPage:  # fmt: skip
        """A page of the contacts ``flt`` matches, in email order (the app's contact list)."""
        from outreach.audience.search import search_contacts

        return search_contacts(self.engine, flt, after=after, before=before, limit=limit)

    def contact_choices(self) -> Choices:
        """The values the contact list's filters offer (cities, owners, ...), as the contacts have them."""
        from outreach.audience.search import filter_choices

        return filter_choices(self.engine)

    def contact_profile(self, key: str | int) -> Profile:
        """A contact (by id or address) with its fields and everything that happened with it."""
        from outreach.audience.profile import contact_profile

        return contact_profile(self.engine, key, self.fields)

    def suppress(self, key: str | int, reason: str, who: str = "cli", via: str = "cli") -> str:
        """Never mail this contact again, for ``reason`` (kept in its history and the audit log)."""
        from outreach.audience.suppression import suppress

        return suppress(self.engine, key, reason, who, via)

    def unsuppress(self, key: str | int, reason: str, who: str = "cli", via: str = "cli", confirm: str = "") -> str:
        """Lift the contact's suppression for ``reason``; one the person asked for needs ``confirm`` = its address."""
        from outreach.audience.suppression import unsuppress

        return unsuppress(self.engine, key, reason, who, via, confirm)

    # -- the sales admin's month: hygiene, merge, verify by phone -------------------------

    def hygiene(self, *, stale_months: int | None = None, dns: bool = False, nameserver: str | None = None,
                only: Sequence[str] = (), today: date | None = None) -> HygieneReport:  # fmt: skip
        """Doubtful contact data in groups (``contacts hygiene``); ``dns``: also the contacts whose domain takes
        no mail, asked of doctor's resolver (``nameserver``, else outreach.yaml's, else the system's)."""
        from outreach.audience.hygiene import contact_domains, dead_domain_group, hygiene_report

        settings = self.config.settings
        today = today or datetime.now(self.config.tz).date()
        report = hygiene_report(self.engine, settings.hygiene, today, stale_months, only)
        if dns and (not only or "dead_domain" in only):
            from outreach.deliverability.domains import dead_domains

            by_domain = contact_domains(self.engine)
            d = settings.deliverability
            verdicts = dead_domains(by_domain, nameserver or d.nameserver, d.dns_timeout)
            report.groups["dead_domain"] = dead_domain_group(by_domain, verdicts.dead, verdicts.note())
        return report

    def merge_contacts(self, keep: str, other: str, who: str) -> MergeResult:
        """One contact from two: OTHER's messages, replies, follow-ups, history and suppressions move to KEEP,
        OTHER's address stays an alias of KEEP (a reply from it still matches); one transaction."""
        from outreach.audience.merge import merge_contacts

        return merge_contacts(self.engine, keep, other, who)

    # -- campaigns ------------------------------------------------------------------------

    def campaigns(self) -> list[str]:
        """The campaigns defined in the workspace (campaigns/*.yaml), built or not."""
        from outreach.campaigns.definition import campaign_names

        return campaign_names(self.config)

    def campaign_overview(self) -> list[CampaignSummary]:
        """Every campaign (defined in campaigns/*.yaml, or built) with its segment, sender, state and counts;
        one never built is "not built", one whose file does not load is "broken", with its error."""
        from outreach.campaigns.overview import campaign_overview

        return campaign_overview(self.config, self.engine, recount=self._recount)

    def campaign_summary(self, name: str) -> CampaignSummary:
        """One campaign as ``campaign_overview`` lists it."""
        from outreach.campaigns.overview import summarise_campaign

        return summarise_campaign(self.config, self.engine, name, recount=self._recount)

    def content_choices(self) -> list[str]:
        """The content files a campaign can name (``x.md``; language versions listed as their base)."""
        from outreach.campaigns.editing import content_choices

        return content_choices(self.config)

    def campaign_form(self, name: str) -> tuple[CampaignForm, str]:
        """``campaigns/NAME.yaml`` as the app's campaign form shows it, and the file's version."""
        from outreach.campaigns.editing import form_of

        return form_of(self.config, name)

    def save_campaign(self, form: CampaignForm, *, who: str, via: str = "app", editing: bool = False,
                      base: str | None = None) -> SavedCampaign:  # fmt: skip
        """Write ``campaigns/NAME.yaml`` from ``form``, validated exactly as the loader reads it (``FormError``:
        each field's error, nothing written); new content from a starter when ``form.starter`` is set."""
        from outreach.campaigns.editing import save_campaign
        from outreach.studio.starters import write_starter

        def make_content(f: CampaignForm) -> Path:
            return write_starter(self.config, f.name, f.starter, f.lang or self.config.settings.language,
                                 f.sender or next(iter(self.config.settings.senders)), f.subject_lines())

        return save_campaign(self.config, form, who=who, via=via, engine=self.engine, editing=editing, base=base,
                             make_content=make_content)  # fmt: skip

    def record_audit(self, kind: str, name: str, action: str, *, who: str, via: str, detail: str = "") -> None:
        """Record who did ``action`` to campaign or segment ``name`` (and through what: app, cli)."""
        from outreach import audit

        audit.record_now(self.engine, who=who, via=via, kind=kind, name=name, action=action, detail=detail)

    def audit_entries(self, kind: str, name: str, limit: int = 50) -> list[Record]:
        from outreach import audit

        return list(audit.entries(self.engine, kind, name, limit))

    def audience_size(self, name: str) -> int:
        """How many contacts the campaign's segment holds now (before the contact policy)."""
        from outreach.audience.segments import count_segment, load_segment
        from outreach.campaigns.definition import load_campaign

        spec = load_campaign(self.config, name)
        return count_segment(self.engine, self.config, load_segment(self.config, spec.file.segment))

    def build(self, name: str, *, ignore_policy: bool = False) -> BuildResult:
        """Freeze the campaign's segment into the outbox (again: adds only new contacts); the contact
        policy holds out who was mailed too lately, unless ``ignore_policy``. Content with lint errors is
        refused first (``LintError`` naming each file:line), so the CLI and the app say the same."""
        from outreach.campaigns.builder import build_campaign
        from outreach.studio.lint import check_buildable

        check_buildable(self.config, self.engine, name)
        return build_campaign(self.config, self.engine, name, ignore_policy=ignore_policy)

    def policy_holds(self, name: str) -> Held:
        """Who the contact policy would hold out of building ``name`` now; nothing is written."""
        from outreach.campaigns.builder import policy_holds

        return policy_holds(self.config, self.engine, name)

    def status(self, name: str) -> Status:
        from outreach.campaigns.status import campaign_status

        return campaign_status(self.engine, name, self.config, self._campaign_names())

    def send(self, name: str, *, start_now: bool = False, options: SendOptions | None = None,
             progress: Callable[[SendReport], None] | None = None, force: bool = False) -> SendReport:  # fmt: skip
        """Send what is queued, until done, paused, cancelled or stopped (``options.stop``).

        The deliverability pre-flight runs first and raises ``PreflightError`` on a failing
        check, unless ``force``.
        """
        if not force:
            self.preflight(name)
        return asyncio.run(self.send_async(name, start_now=start_now, options=options, progress=progress,
                                           force=True))  # fmt: skip

    async def send_async(self, name: str, *, start_now: bool = False, options: SendOptions | None = None,
                         progress: Callable[[SendReport], None] | None = None,
                         force: bool = False) -> SendReport:  # fmt: skip
        from outreach.sending.engine import send_campaign

        if not force:
            await asyncio.to_thread(self.preflight, name)
        return await send_campaign(self.config, self.engine, name, options=options, progress=progress,
                                   start_now=start_now)  # fmt: skip

    def preflight(self, name: str, nameserver: str | None = None) -> tuple[Checkup | None, str]:
        """The deliverability checks for the campaign's sender, before a send: raises ``PreflightError``
        naming the failed checks; returns (the checkup, or None and why it did not run)."""
        from outreach.campaigns.definition import load_campaign
        from outreach.deliverability.doctor import preflight

        return preflight(self.config, load_campaign(self.config, name).sender_key, nameserver)

    def doctor(self, sender: str | None = None, nameserver: str | None = None) -> Checkup:
        """``outreach doctor``: SPF, DKIM, DMARC, alignment, MX, relay and settings for one sender."""
        from outreach.deliverability.doctor import run_doctor

        return run_doctor(self.config, sender, nameserver)

    def send_via_worker(self, name: str, who: str = "a user") -> str:
        """Hand a built campaign to ``outreach worker`` to send now; this process sends nothing."""
        from outreach.campaigns.status import hand_to_worker

        return hand_to_worker(self.engine, name, who)

    def schedule(self, name: str, at: datetime, who: str = "a user") -> datetime:
        """Hand a built campaign to ``outreach worker`` to start at ``at`` (naive: the workspace's timezone);
        the start as naive UTC."""
        from outreach.campaigns.builder import to_utc
        from outreach.campaigns.status import hand_to_worker

        start = to_utc(at, self.config)
        hand_to_worker(self.engine, name, who, at=start)
        return start

    def pause(self, name: str) -> str:
        return self._lifecycle(name, "pause")

    def resume(self, name: str) -> str:
        return self._lifecycle(name, "resume")

    def cancel(self, name: str) -> str:
        return self._lifecycle(name, "cancel")

    def _lifecycle(self, name: str, action: str) -> str:
        from outreach.campaigns.status import set_lifecycle

        return set_lifecycle(self.engine, name, action, self._campaign_names())

    def resend_uncertain(self, name: str) -> int:
        """Queue again what a crash left uncertain (those may arrive twice)."""
        from outreach.campaigns.status import resend_uncertain

        return resend_uncertain(self.engine, name, self._campaign_names())

    def _campaign_names(self) -> list[str]:
        return self.config.campaign_names()

    # -- the writer's tools -------------------------------------------------------------

    def lint(self, names: Sequence[str] | None = None, *, spam: bool = False) -> LintResult:
        """Every problem of the campaigns' content; ``spam``: also SpamAssassin's score of the rendered messages."""
        from outreach.studio.lint import lint_workspace

        return lint_workspace(self.config, self.engine, names, spam_check=spam)

    def preview(self, name: str, contact: str | None = None, *, to: str | None = None, variant: int = 0,
                lang: str | None = None) -> Prepared:  # fmt: skip
        """One message as ``contact`` (default: the segment's first) would get it; ``lang``: that language's
        version instead of the contact's own."""
        from outreach.studio.preview import render_preview

        return render_preview(self.config, self.engine, name, contact, to=to, variant=variant, lang=lang)

    def screenshots(self, name: str, folder: str | Path, contact: str | None = None,
                    lang: str | None = None) -> list[Shot]:  # fmt: skip
        """PNGs of the message in headless Chromium at phone (375 px) and desktop (600 px column) width; for an
        empty segment, as lint's sample contact would get it."""
        from outreach.studio.preview import render_preview
        from outreach.studio.screenshot import take

        prepared = render_preview(self.config, self.engine, name, contact, lang=lang, sample_if_empty=True)
        stem = f"{name}.{lang}" if lang else name
        return take(prepared.html_for_browser(), Path(folder), stem)

    def new_content(self, name: str, kind: str, lang: str | None = None, *, segment: str | None = None,
                    sender: str | None = None, who: str | None = None, via: str = "cli") -> NewCampaign:  # fmt: skip
        """A new campaign (NAME.yaml + NAME.md) with a writer's starting structure; never overwrites. ``who``:
        recorded as the content's first version in its history."""
        from outreach.studio.editable import editable_at
        from outreach.studio.saving import record_version
        from outreach.studio.starters import new_campaign

        _ = self.engine  # the database first: one that cannot be opened is the only error, before any file is made
        made = new_campaign(self.config, name, kind, lang, segment=segment, sender=sender)
        content = editable_at(self.config, made.files[1].relative_to(self.root).as_posix())
        record_version(self.engine, content, content.path.read_bytes(), who or login_name(), via, "created",
                       f"content new --kind {kind}")  # fmt: skip
        return made

    # -- the writer's editor: files, saves, history (studio/editable.py, saving.py, history.py) ---------

    def content_overview(self) -> Overview:
        """Every campaign's content files, the files no campaign uses, and the reusable blocks."""
        from outreach.studio.editable import overview

        return overview(self.config)

    def content_file(self, name: str, lang: str | None = None) -> Editable:
        """The content file named ``name`` (``lang``: that language's version); InputError for a bad name."""
        from outreach.studio.editable import content_file

        return content_file(self.config, name, lang)

    def block_file(self, name: str) -> Editable:
        """``blocks/NAME.md``; InputError for a bad name."""
        from outreach.studio.editable import block_file

        return block_file(self.config, name)

    def editable(self, relpath: str) -> Editable:
        """A file the editor keeps, by its path in the workspace (``campaigns/promo.md``) or a content name."""
        from outreach.studio.editable import editable_at

        return editable_at(self.config, relpath)

    def open_content(self, file: Editable) -> Opened:
        """The file's text exactly as on disk and its version (``base``), for an editor."""
        from outreach.studio.saving import open_file

        return open_file(file)

    def save_content(self, file: Editable, source: str, base: str, who: str, via: str = "app") -> Saved:
        """Save ``source`` if the file is still at version ``base`` (else ``StaleCopy``, nothing written), atomically,
        recording who saved it. Lint errors never stop a save: broken content is a draft (the build refuses it)."""
        from outreach.studio.saving import save_content

        return save_content(self.engine, file, source, base, who, via)

    def new_block(self, name: str, who: str, via: str = "app") -> Saved:
        """Start ``blocks/NAME.md``; refused when it exists."""
        from outreach.studio.saving import new_block

        return new_block(self.engine, self.block_file(name), who, via)

    def content_history(self, file: Editable) -> list[Version]:
        """Every recorded version of the file, newest first."""
        from outreach.studio.history import versions

        return versions(self.engine, file)

    def content_diff(self, file: Editable, version_id: int) -> Diff:
        from outreach.studio.history import diff

        return diff(self.engine, file, version_id)

    def restore_content(self, file: Editable, version_id: int, base: str, who: str, via: str = "app") -> Saved:
        """Save an earlier version's text again (a new version; checked against ``base`` like any save)."""
        from outreach.studio.history import restore

        return restore(self.engine, file, version_id, base, who, via)

    def check_draft(self, file: Editable, source: str, contact: str | None = None) -> DraftCheck:
        """The editor's live check of unsaved text: the message as a real send renders it, and the lint."""
        from outreach.studio.drafts import check_draft

        return check_draft(self.config, self.engine, file, source, contact)

    def upload_image(self, data: bytes, filename: str, who: str, via: str = "app") -> Stored:
        """Keep a picture (checked by its bytes, at most 5 MB) in images/; its Markdown to insert."""
        from outreach.studio.uploads import store_image

        return store_image(self.engine, self.root, data, filename, who, via)

    def test_send(self, name: str, to: str, contact: str | None = None, variant: int = 0,
                  lang: str | None = None) -> Prepared:  # fmt: skip
        """One rendered copy of ``name`` (as ``contact`` would get it) to ``to``, recorded nowhere."""
        from outreach.sending.single import send_one

        prepared = self.preview(name, contact, to=to, variant=variant, lang=lang)
        asyncio.run(send_one(self.config.settings.smtp, prepared.envelope_from, to, prepared.data))
        return prepared

    def empty_personalisation(self, name: str) -> list[str]:
        """Each variable of campaign ``name`` that prints empty for some contacts of its segment, with
        how many and the first few (``FILE:LINE: `contact.title` is empty — 3 of 40 contacts: ...``)."""
        from outreach.studio.preview import empty_personalisation

        return empty_personalisation(self.config, self.engine, name)

    # -- inbound mail and follow-ups ------------------------------------------------------

    def ingest(self, paths: Iterable[str | Path]) -> tuple[IngestReport, int]:
        """Record replies, bounces and complaints from files; then promote. (report, new follow-ups)."""
        from outreach.followups.promotion import promote
        from outreach.settings.tokens import workspace_signer
        from outreach.tracking.ingest import ingest, policy_of
        from outreach.tracking.sources import iter_messages

        signer = workspace_signer(self.engine, self.config)
        report = ingest(self.engine, iter_messages([Path(p) for p in paths]), signer, policy_of(self.config.settings),
                        limits=self.config.settings.guardrails)
        return report, promote(self.engine, self.config)

    def email_hooks(self, fetch: Callable[[str], bytes]) -> Hooks:
        """The email services' event hooks of outreach.yaml (``email_events``), which ``outreach serve`` answers
        at ``/hooks/SERVICE``: bounces and complaints posted over HTTP, recorded as mailed ones are. ``fetch``
        GETs an https address (SNS's signing certificates and subscription confirmations)."""
        from outreach.tracking.esp.hooks import Hooks
        from outreach.tracking.ingest import policy_of

        settings = self.config.settings
        return Hooks(settings.email_events, self.engine, fetch, policy=policy_of(settings), limits=settings.guardrails)

    def poll(self, *, rescan: bool = False) -> tuple[PollReport, int]:
        """The same from the IMAP mailbox in outreach.yaml. (report, new follow-ups).

        A database outage ends a poll early with the rest still in the mailbox; the poll then runs again
        once the database answers, for up to ``database.outage_timeout`` (storage/outage.py)."""
        from outreach.errors import DatabaseUnavailable
        from outreach.storage.outage import Outage
        from outreach.tracking.imap import poll_and_promote

        try:
            return Outage(self.config.settings.database.outage_timeout).call(
                lambda: poll_and_promote(self.config, self.engine, rescan=rescan))
        except DatabaseUnavailable as exc:
            raise DatabaseUnavailable(f"{exc.detail}; the messages not yet recorded stay in the mailbox for the "
                                      "next poll", seconds=exc.seconds, error=exc.error) from None  # fmt: skip

    def followups(self, queue: str | None = None, owner: str | None = None,
                  owners: Collection[str] | None = None) -> list[Item]:  # fmt: skip
        """Open follow-ups, most urgent first (``owners``: only these owners' items; '' is unassigned)."""
        from outreach.followups.queue import list_items

        return list_items(self.engine, queue, owner, owners=owners, registry=self.fields)

    def followup_page(self, *, queue: str | None = None, owners: Collection[str] | None = None,
                      state: str | None = "open", after: int = 0, limit: int = 100) -> list[Item]:  # fmt: skip
        """Follow-up items in id order after ``after`` (``state`` None: open and done), for paging."""
        from outreach.followups.queue import page_items

        return page_items(self.engine, queue=queue, owners=owners, state=state, after=after, limit=limit)

    def followup(self, item_id: int) -> Item | None:
        from outreach.followups.queue import get_item

        return get_item(self.engine, item_id, self.fields)

    def history(self, contact_id: int) -> list[Happening]:
        """What already happened with a contact, newest first: messages, replies, clicks, outcomes."""
        from outreach.followups.history import contact_history

        return contact_history(self.engine, contact_id)

    def save_outcome(self, item_id: int, version: int, outcome: str, notes: str,
                     visit_at: datetime | None = None, corrections: Mapping[str, str] | None = None,
                     who: str = "a caller") -> bool:  # fmt: skip
        """A caller's outcome for one item, by the import's rules; ConflictError if it changed since ``version``.
        A verify item's ``corrections`` (field -> value: first_name, last_name, title, phone, email, company) are
        validated as an import's cells (``FieldError`` names the bad one; nothing changes)."""
        from outreach.followups.outcomes import save_outcome

        return save_outcome(self.engine, self.config, item_id, version, outcome, notes, visit_at,
                            corrections=corrections, verifier=self._verifier(who))  # fmt: skip

    def _verifier(self, who: str) -> Any:
        """Applies verify outcomes with this workspace's fields, phone region and senders, as ``who``."""
        from outreach.audience.verify import apply_verify
        from outreach.fields.parsers import Plain

        settings = self.config.settings
        context = Plain(settings.contacts.default_region,
                        {key: (s.name, s.email) for key, s in settings.senders.items()})  # fmt: skip
        fields = self.fields

        def verifier(session: Any, item: Any, r: Any, today: Any, calendar: Any) -> bool:
            return apply_verify(session, item, r, today, calendar, who, fields, context)

        return verifier

    def verify_contacts(self, *, hygiene: str | None = None, segment: str | None = None, owner: str | None = None,
                        today: date | None = None) -> Enqueued:  # fmt: skip
        """Put a hygiene group's or a segment's contacts in the ``verify`` queue (``followups verify``)."""
        from outreach.audience.hygiene import parse_group
        from outreach.audience.verify import enqueue
        from outreach.errors import InputError

        if (hygiene is None) == (segment is None):
            raise InputError("name the contacts to verify: --hygiene GROUP or --segment NAME (one of them)")
        if hygiene is not None:
            group = parse_group(hygiene)
            report = self.hygiene(dns=group == "dead_domain", only=(group,), today=today)
            ids = [m.id for m in report.groups[group].members]
            reason = f"verify: hygiene {group}"
        else:
            assert segment is not None
            ids = [view.id for view in self.contacts(segment)]
            reason = f"verify: segment {segment}"
        return enqueue(self.engine, self.config, ids, reason, owner, today)

    def proposal_to_verify(self, proposal_id: int, who: str) -> int:
        """Send a proposed successor to the verify queue: callers phone the company to confirm it."""
        from outreach.audience.verify import to_verify

        return to_verify(self.engine, self.config, proposal_id, who)

    def visits_calendar(self, owners: Collection[str] | None = None) -> bytes:
        """Open visits as an iCalendar feed (the callers' subscribed calendar)."""
        from outreach.followups.exports import visits_ics

        return visits_ics(self.followups("visit", owners=owners), self.config)[0]

    def export_followups(self, queue: str, out: str | Path, fmt: str | None = None,
                         owner: str | None = None) -> int:  # fmt: skip
        """Write the list for callers (``csv``, ``xlsx``) or the visits (``ics``); the format defaults to
        the file's extension. Returns how many items (for ``ics``: visits) were written."""
        from outreach.followups.exports import export_csv, export_ics, export_xlsx
        from outreach.followups.queue import csv_columns

        out = Path(out)
        fmt = fmt or out.suffix.lstrip(".").lower() or "csv"
        items = self.followups(queue, owner)
        columns = csv_columns(queue, self.fields)
        if fmt == "ics":
            return export_ics(items, out, self.config)
        if fmt == "xlsx":
            export_xlsx(items, out, queue, columns)
        else:
            export_csv(items, out, columns)
        return len(items)

    def import_outcomes(self, path: str | Path, who: str = "a caller") -> ImportCounts:
        """Callers' outcomes back from CSV or .xlsx; a bad row changes nothing (a bad id or outcome: the whole
        file is refused; a verify row's bad correction: that row, listed in ``rejected``)."""
        from outreach.followups.outcomes import import_outcomes

        return import_outcomes(self.engine, self.config, Path(path), verifier=self._verifier(who))

    # -- reply intents: the admin's review, and proposed contacts ------------------------

    def flagged_replies(self) -> list[Flagged]:
        """Replies whose intent the reader was unsure of, not reviewed yet."""
        from outreach.tracking.reply_review import flagged

        return flagged(self.engine)

    def set_reply_intent(self, reply_id: int, intent: str, who: str) -> list[str]:
        """Correct a reply's intent in one action (undo the old effects, apply the new), then promote."""
        from outreach.followups.promotion import promote
        from outreach.tracking.reply_review import set_intent

        done = set_intent(self.engine, reply_id, intent, who)
        if promote(self.engine, self.config):
            done.append("put in the call or visit queue")
        return done

    def proposals(self, state: str | None = "proposed") -> list[Proposal]:
        from outreach.audience.proposals import list_proposals

        return list_proposals(self.engine, state)

    def approve_proposal(self, proposal_id: int, who: str, email: str | None = None) -> str:
        from outreach.audience.proposals import approve

        return approve(self.engine, proposal_id, who, email)

    def reject_proposal(self, proposal_id: int, who: str) -> None:
        from outreach.audience.proposals import reject

        reject(self.engine, proposal_id, who)

    # -- accounts of the team app -----------------------------------------------------

    def add_user(self, name: str, role: str, password: str, *, sender: str | None = None,
                 email: str | None = None, who: str = "cli", via: str = "cli") -> Account:  # fmt: skip
        """An account for the team app (``outreach serve``): executive, writer, caller or admin; ``who``
        made it, through ``via`` (recorded)."""
        from outreach.accounts.users import add_user
        from outreach.audience.importer import RowError, normalise_email
        from outreach.errors import InputError

        if email is not None:
            try:
                email = normalise_email(email)
            except RowError as exc:
                raise InputError(f"--email: {exc}") from None
        return add_user(self.engine, name, role, password, sender=sender, email=email,
                        senders=list(self.config.settings.senders), who=who, via=via)  # fmt: skip

    def users(self) -> list[Account]:
        from outreach.accounts.users import list_users

        return list_users(self.engine)

    def remove_user(self, name: str, *, who: str = "cli", via: str = "cli") -> None:
        from outreach.accounts.users import remove_user

        remove_user(self.engine, name, who=who, via=via)

    def set_password(self, name: str, password: str, *, who: str = "cli", via: str = "cli") -> Account:
        """A new password; the user's open sessions end."""
        from outreach.accounts.users import set_password

        return set_password(self.engine, name, password, who=who, via=via)

    def set_role(self, name: str, role: str, *, sender: str | None = None, who: str = "cli",
                 via: str = "cli") -> Account:  # fmt: skip
        """A new role for the user (and sender: None keeps it, "" clears it); the user's open sessions end."""
        from outreach.accounts.users import set_role

        return set_role(self.engine, name, role, sender=sender, senders=list(self.config.settings.senders),
                        who=who, via=via)  # fmt: skip

    def disable_user(self, name: str, *, who: str = "cli", via: str = "cli") -> Account:
        """The user cannot log in any more (sessions end, API tokens stop working); ``enable_user`` undoes it."""
        from outreach.accounts.users import set_disabled

        return set_disabled(self.engine, name, True, who=who, via=via)

    def enable_user(self, name: str, *, who: str = "cli", via: str = "cli") -> Account:
        from outreach.accounts.users import set_disabled

        return set_disabled(self.engine, name, False, who=who, via=via)

    def audit(self, *, prefix: str | None = None, subject: str | None = None, limit: int = 50) -> list[Record]:
        """Who changed what (accounts, imports, suppressions), newest first; about ``subject`` or ``prefix``."""
        from outreach.audit import records

        return records(self.engine, prefix=prefix, subject=subject, limit=limit)

    # -- operations ---------------------------------------------------------------------

    def worker_status(self) -> WorkerStatus:
        """Is an ``outreach worker`` alive (its heartbeat), when was its last pass, and what did it do."""
        from outreach.operations.heartbeat import worker_status
        from outreach.storage import utcnow

        return worker_status(self.engine, utcnow())

    def backup(self, path: str | Path, *, force: bool = False) -> BackupResult:
        """One archive of the workspace's files and a consistent copy of its database, taken while it is in use
        (``outreach restore`` makes a new workspace from it); ``force`` replaces an existing file."""
        from outreach.operations.backup import backup_workspace

        return backup_workspace(self.config, self.engine, Path(path), force=force)

    # -- API tokens -------------------------------------------------------------------

    def new_api_token(self, name: str) -> tuple[Account, str]:
        """A new bearer token of the JSON API for user ``name`` (acting with its role); shown once, kept hashed."""
        from outreach.accounts.tokens import new_token

        return new_token(self.engine, name)

    def revoke_api_tokens(self, name: str) -> int:
        """Remove every API token of user ``name``; how many there were."""
        from outreach.accounts.tokens import revoke_tokens

        return revoke_tokens(self.engine, name)[1]

    # -- webhooks ---------------------------------------------------------------------

    def webhook_status(self) -> list[ReceiverStatus]:
        """Each receiver of ``webhooks:``: backlog, failing, dead-lettered, delivered, the last error."""
        from outreach.webhooks.status import receivers_status

        return receivers_status(self.engine, self.config.settings.webhooks)

    def redeliver_webhooks(self, url: str | None = None) -> int:
        """Dead-lettered deliveries (of receiver ``url``, or all) queued again; how many."""
        from outreach.storage import utcnow
        from outreach.webhooks.deliveries import redeliver

        return redeliver(self.engine, url, utcnow())

    # -- reports ----------------------------------------------------------------------

    def report(self, name: str) -> CampaignReport:
        from outreach.reports.campaign import campaign_report

        return campaign_report(self.engine, name, self.config, self._campaign_names())

    def monthly(self, month: str) -> MonthlyReport:
        from outreach.reports.monthly import monthly_report

        return monthly_report(self.config, self.engine, month)
