"""The command line: parse options, call one core function, print the result.

Every ``OutreachError`` becomes one ``Error:`` line on stderr and exit code 1.
A stop signal (SIGTERM, Ctrl-C) is a clean exit with status 0 at any instant:
before sending starts it unwinds and says ``Stopped (SIGTERM) before sending
anything.``; while the engine or the worker runs, they finish what is in flight
and report (outreach/stopping.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from outreach import __version__
from outreach.errors import OutreachError
from outreach.settings import LANGUAGES
from outreach.stopping import catch_stop_signals, exit_stopped, stop_requests
from outreach.studio import STARTER_KINDS

if TYPE_CHECKING:  # imported when a command runs: ``--help`` and light commands load only what they use
    from outreach.settings.workspace import WorkspaceConfig
    from outreach.workspace import Workspace

WS_HELP = "Workspace folder (default: $OUTREACH_WORKSPACE, else the current directory)."


class OutreachGroup(click.Group):
    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:  # fmt: skip
        try:
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt as exc:  # click would say "Aborted!" and exit 1
            exit_stopped(exc)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except OutreachError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(1)
        except KeyboardInterrupt as exc:  # a stop signal before the command started sending
            exit_stopped(exc)


class Choice(click.Choice):
    """click's Choice, but a missing value is said on one line (``Choose from: call, visit.``), not one
    choice per tab-indented line."""

    def get_missing_message(self, param: click.Parameter, ctx: click.Context | None) -> str:
        return f"Choose from: {', '.join(str(c) for c in self.choices)}."


def _remember_ws(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value:
        ctx.ensure_object(dict)["workspace"] = value
    return value


def ws_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("-w", "--workspace", "workspace", type=click.Path(file_okay=False),
                        callback=_remember_ws, expose_value=False, is_eager=True, help=WS_HELP)(f)  # fmt: skip


def _workspace() -> WorkspaceConfig:
    from outreach.settings.workspace import load_workspace

    ctx = click.get_current_context()
    root = ctx.find_object(dict) or {}
    return load_workspace(root.get("workspace"))


def _interactive() -> bool:
    """Someone at a terminal can answer a question; a script or a service cannot (and must not hang)."""
    return sys.stdin.isatty()


def with_workspace(f: Callable[..., Any]) -> Callable[..., Any]:
    """Open the workspace (the library face) and its database for the command.

    The database is opened up front so that a wrong URL or an unreachable server is the
    command's first and only error, before it prints anything.
    """

    @wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from outreach.workspace import Workspace

        with Workspace(_workspace()) as ws:
            _ = ws.engine
            return f(ws, *args, **kwargs)

    return ws_option(wrapper)


@click.group(cls=OutreachGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="outreach")
@ws_option
def cli() -> None:
    """Email outreach for B2B sales teams: segments, blasts, replies and call lists."""


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), required=False)
@ws_option
def init(directory: Path | None) -> None:
    """Create an example workspace in DIRECTORY (or the -w folder)."""
    import os

    from outreach.settings.workspace import init_workspace

    given = (click.get_current_context().find_object(dict) or {}).get("workspace") or os.environ.get(
        "OUTREACH_WORKSPACE")  # fmt: skip
    if directory is None and not given:
        raise click.UsageError("say where: outreach init DIR")
    directory = directory or Path(str(given))
    written = init_workspace(directory)
    click.echo(f"Created workspace {directory} ({len(written)} files). Next:")
    click.echo(f"  cd {directory} && outreach contacts import contacts.csv")


# -- contacts ------------------------------------------------------------------


@cli.group(cls=OutreachGroup)
def contacts() -> None:
    """Import and list contacts."""


@contacts.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path),
              help="Write rejected rows, with row number and reason, to this CSV.")  # fmt: skip
@click.option("--warnings", "warnings_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every warning (contact imported, a cell left out), with row number, to this CSV.")
@click.option("--map", "mapping", multiple=True, metavar="COLUMN=FIELD",
              help="Read COLUMN as FIELD (a contact field, full_name, custom.NAME or ignore); repeatable.")
@with_workspace
def contacts_import(ws: Workspace, file: Path, rejects: Path | None, warnings_out: Path | None,
                    mapping: tuple[str, ...]) -> None:  # fmt: skip
    """Import contacts from a CSV or .xlsx FILE (re-importing updates by email).

    The headers of common exports are recognised (Outlook, Google Contacts, HubSpot,
    Salesforce, LinkedIn, Indonesian sheets); other columns are kept as custom fields.
    """
    from outreach.audience.importer import write_rejects, write_warnings

    with _file_progress(file.name) as progress:
        result = ws.import_contacts(file, mapping, progress=progress)
    click.echo(f"Contacts: {result.summary()}")
    for line in result.details():
        click.echo(line)
    if result.rejected:
        _first_few(((line, reason) for line, reason, _row in result.rejected), len(result.rejected), "--rejects")
    if result.warnings:
        click.echo(f"{len(result.warnings)} warning(s) ({result.warning_kinds()}); those contacts were imported:",
                   err=True)  # fmt: skip
        _first_few(result.warnings, len(result.warnings), "--warnings")
    if rejects:  # written even when empty (the header alone): scripts that asked for the file expect it
        write_rejects(result, rejects)
        click.echo(f"Rejected rows written to {rejects}" if result.rejected else f"No rows rejected; {rejects} "
                   "has the header only")  # fmt: skip
    if warnings_out:
        write_warnings(result, warnings_out)
        click.echo(f"Warnings written to {warnings_out}" if result.warnings else f"No warnings; {warnings_out} "
                   "has the header only")  # fmt: skip


@contextlib.contextmanager
def _file_progress(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr, as far as a file has been read (only on a terminal: else None)."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:  # fmt: skip
        task = bar.add_task(label, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _first_few(rows: Iterable[tuple[int, str]], total: int, option: str, shown: int = 5) -> None:
    """The first row problems on stderr, then how many more (all of them with ``option FILE``)."""
    for line, reason in itertools.islice(rows, shown):
        click.echo(f"  row {line}: {reason}", err=True)
    if total > shown:
        click.echo(f"  ... and {total - shown} more ({option} FILE.csv lists every one)", err=True)


@contacts.command("list")
@click.option("--segment", help="Only contacts of this segment.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv"]), default="table", show_default=True)
@with_workspace
def contacts_list(ws: Workspace, segment: str | None, fmt: str) -> None:
    """List contacts."""
    from outreach.audience.contacts import contacts_csv

    views = ws.contacts(segment)
    if fmt == "csv":
        contacts_csv(ws.engine, views, sys.stdout, ws.fields)
        return
    _contacts_table(list(views))


def _contacts_table(views: list[Any], footer: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for col in ("email", "name", "company", "city", "status", "owner", "last contacted"):
        table.add_column(col)
    for v in views:
        last = v.last_contacted_at.isoformat() if v.last_contacted_at else "never"
        table.add_row(v.email, v.full_name, v.company, v.city, v.status, v.owner, last)
    console = Console(width=160)
    console.print(table)
    console.print(footer or f"{len(views)} contact(s)")


@contacts.command("show")
@click.argument("email")
@with_workspace
def contacts_show(ws: Workspace, email: str) -> None:
    """One contact's fields and the history of their changes."""
    record = ws.contact(email)
    width = max(len(name) for name, _value in record.fields)
    for name, value in record.fields:
        click.echo(f"{name:<{width}}  {value}".rstrip())
    if not record.changes:
        click.echo("\nNo changes recorded.")
        return
    click.echo(f"\nChanges ({len(record.changes)}):")
    for c in record.changes:
        click.echo(f"{c.at:%Y-%m-%d %H:%M} UTC  {c.field}: {c.old or '(empty)'} -> {c.new or '(empty)'}  "
                   f"({c.who or 'unknown'}, via {c.via or 'unknown'})")


@contacts.command("hygiene")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: each group a list of addresses.")
@click.option("--stale-months", type=click.IntRange(1, 120), metavar="N",
              help="Stale: not contacted for N months (default: hygiene.stale_months, 6).")
@click.option("--dns", is_flag=True, help="Also ask the DNS which contacts' domains take no mail (dead_domain).")
@click.option("--nameserver", metavar="HOST[:PORT]", help="With --dns: ask this DNS server (as `outreach doctor`).")
@click.option("--all", "show_all", is_flag=True, help="List every contact of each group (default: the first 10).")
@with_workspace
def contacts_hygiene(ws: Workspace, as_json: bool, stale_months: int | None, dns: bool, nameserver: str | None,
                     show_all: bool) -> None:  # fmt: skip
    """Doubtful contact data, in groups: stale, few transactions, role addresses, duplicates, missing fields,
    suppressed, and with --dns dead domains; each with what to do."""
    from outreach.audience.hygiene_text import hygiene_text

    if nameserver and not dns:
        raise click.UsageError("--nameserver goes with --dns")
    report = ws.hygiene(stale_months=stale_months, dns=dns, nameserver=nameserver)
    if as_json:
        click.echo(json.dumps(report.to_json(), ensure_ascii=False))
        return
    click.echo(hygiene_text(report, None if show_all else 10), nl=False)


@contacts.command("merge")
@click.argument("keep")
@click.argument("other")
@click.option("--by", "who", help="Who merged them (default: the system user name).")
@with_workspace
def contacts_merge(ws: Workspace, keep: str, other: str, who: str | None) -> None:
    """One contact from two: OTHER's messages, replies, follow-ups and history move to KEEP, KEEP's fields win
    and OTHER fills the blanks; OTHER's address stays an alias of KEEP."""
    click.echo(ws.merge_contacts(keep, other, who or _who()).summary())

@contacts.command("suppress")
@click.argument("contact")
@click.option("--reason", required=True, help="Why (kept in the contact's history and the audit log).")
@with_workspace
def contacts_suppress(ws: Workspace, contact: str, reason: str) -> None:
    """Never mail CONTACT (an address or an id) again."""
    click.echo(ws.suppress(contact, reason))


@contacts.command("unsuppress")
@click.argument("contact")
@click.option("--reason", required=True, help="Why (kept in the contact's history and the audit log).")
@click.option("--confirm", default="", metavar="ADDRESS",
              help="CONTACT's address, typed out: needed to lift an unsubscribe, a complaint or an opt-out reply.")
@with_workspace
def contacts_unsuppress(ws: Workspace, contact: str, reason: str, confirm: str) -> None:
    """Let CONTACT (an address or an id) be mailed again."""
    click.echo(ws.unsuppress(contact, reason, confirm=confirm))


# -- segments ------------------------------------------------------------------


@cli.group(cls=OutreachGroup)
def segments() -> None:
    """Target segments (segments/NAME.yaml)."""


@segments.command("list")
@with_workspace
def segments_list(ws: Workspace) -> None:
    """List segments with their contact counts.

    A broken segment file does not hide the others: it is listed with its error, and the command
    then exits 1 naming it.
    """
    from outreach.errors import ConfigError

    broken = []
    for seg in ws.segments():
        if seg.error is None:
            click.echo(f"{seg.name}\t{seg.count}\t{seg.description}")
        else:
            broken.append(seg.name)
            click.echo(f"{seg.name}\t-\terror: {seg.error.message_in(ws.root)}")
    if broken:
        files = ", ".join(f"segments/{name}.yaml" for name in broken)
        raise ConfigError(f"{len(broken)} segment file(s) could not be used: {files} (the error is on its line above)")


@segments.command("show")
@click.argument("name")
@click.option("--sample", default=10, show_default=True, help="How many contacts to show.")
@with_workspace
def segments_show(ws: Workspace, name: str, sample: int) -> None:
    """Show a segment's size and a sample of its contacts."""
    from outreach.audience.contacts import iter_contacts
    from outreach.audience.segments import contacts_query, count_segment, load_segment

    seg = load_segment(ws.config, name)
    count = count_segment(ws.engine, ws.config, seg)
    click.echo(f"Segment {name}: {count} contact(s)" + (f" — {seg.description}" if seg.description else ""))
    views = list(iter_contacts(ws.engine, contacts_query(ws.config, seg, engine=ws.engine).limit(sample)))
    if views:
        shown = f"all {count} shown" if len(views) >= count else f"a sample: the first {len(views)} of {count} " \
                                                                  "(--sample N shows more)"  # fmt: skip
        _contacts_table(views, shown)


# -- content -------------------------------------------------------------------


@cli.group(cls=OutreachGroup)
def content() -> None:
    """The writer's tools: start, preview and lint campaign content."""


@content.command("new")
@click.argument("name")
@click.option("--kind", type=Choice(STARTER_KINDS), required=True, help="What the campaign is.")
@click.option("--lang", type=click.Choice(LANGUAGES),
              help="Bahasa Indonesia (id) or English (en); default: the workspace's language.")  # fmt: skip
@click.option("--segment", help="Send to this segment (default: the first in segments/).")
@click.option("--sender", help="Send as this key of senders in outreach.yaml (default: the first).")
@ws_option
def content_new(name: str, kind: str, lang: str | None, segment: str | None, sender: str | None) -> None:
    """Write campaigns/NAME.yaml and NAME.md: a starting structure that passes lint (never overwrites)."""
    from outreach.workspace import Workspace

    made = Workspace(_workspace()).new_content(name, kind, lang, segment=segment, sender=sender)
    root = made.files[0].parent.parent
    for path in made.files:
        click.echo(f"Created {path.relative_to(root).as_posix()}")
    click.echo(f"  {kind} in {'Bahasa Indonesia' if made.lang == 'id' else 'English'}, segment {made.segment}, "
               f"sender {made.sender}")  # fmt: skip
    click.echo(f"Next: edit campaigns/{name}.md, then `outreach content preview {name}` and "
               f"`outreach content lint {name} --spam`")  # fmt: skip


@content.command("preview")
@click.argument("name")
@click.option("--contact", "email", help="Render for this contact (default: the segment's first).")
@click.option("--lang", type=click.Choice(LANGUAGES),
              help="Show this language version (default: the one the contact gets).")  # fmt: skip
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write FILE.html (the HTML part) or FILE.eml (the whole message).")  # fmt: skip
@click.option("--screenshot", type=click.Path(file_okay=False, path_type=Path),
              help="Write PNGs of the message at phone (375 px) and desktop (600 px) width into this folder.")
@click.option("--serve", is_flag=True, help="Serve a live preview page that reloads as the content is edited.")
@click.option("--host", default="127.0.0.1", show_default=True, help="With --serve: address to listen on.")
@click.option("--port", type=int, default=8026, show_default=True, help="With --serve: port (0: any free port).")
@with_workspace
def content_preview(ws: Workspace, name: str, email: str | None, lang: str | None, out: Path | None,
                    screenshot: Path | None, serve: bool, host: str, port: int) -> None:  # fmt: skip
    """Render campaign NAME as one recipient would get it."""
    if serve:
        if out is not None or screenshot is not None:
            raise click.BadParameter("--out and --screenshot do not go with --serve", param_hint="--serve")
        _serve_preview(ws, name, email, host, port)
        return
    if out is not None and out.suffix.lower() not in (".eml", ".html", ".htm"):
        raise click.BadParameter("--out must end in .html or .eml", param_hint="--out")
    if screenshot is not None:
        if email is None and ws.audience_size(name) == 0:
            click.echo("Warning: the campaign's segment has no contacts; the screenshots show a sample contact",
                       err=True)  # fmt: skip
        for shot in ws.screenshots(name, screenshot, email, lang):
            column = "" if shot.label == "phone" else ", the message column at its full width"
            click.echo(f"Wrote {shot.path} ({shot.label}: {shot.width} px wide{column})")
        if out is None:
            return
    prepared = ws.preview(name, email, lang=lang)
    for line in ws.empty_personalisation(name):  # on stderr: stdout is the message
        click.echo(f"Warning: {line}", err=True)
    if out is None:
        click.echo(f"Subject: {prepared.rendered.subject}\n")
        click.echo(prepared.rendered.text, nl=False)
        return
    if out.suffix.lower() == ".eml":
        out.write_bytes(prepared.data)
    else:
        out.write_text(prepared.rendered.html, encoding="utf-8")
    click.echo(f"Wrote {out}")


def _serve_preview(ws: Workspace, name: str, email: str | None, host: str, port: int) -> None:
    from outreach.web.preview_server import make_server, serve_forever

    server = make_server(ws.config, ws.engine, name, host, port, contact=email)
    click.echo(f"Previewing {name} at {server.url} (Ctrl-C to stop)")
    serve_forever(server)


@content.command("lint")
@click.argument("name", required=False)
@click.option("--spam", is_flag=True, help="Also score the rendered messages with SpamAssassin (local rules only); "
                                           "a score at or over studio.spam_threshold is an error.")  # fmt: skip
@with_workspace
def content_lint(ws: Workspace, name: str | None, spam: bool) -> None:
    """Check campaign NAME's content (every campaign without NAME); exit 1 on errors.

    Prints FILE:LINE: error|warning: message for each finding, with --spam each
    content file's SpamAssassin score and the rules hit, then a summary.
    """
    from outreach.errors import TemplateError

    result = ws.lint([name] if name else None, spam=spam)
    for finding in result.findings:
        click.echo(finding.format())
    for score in result.spam:
        for line in score.lines():
            click.echo(line)
    click.echo(result.summary())
    if result.errors:
        first = result.errors[0]
        raise TemplateError(f"content lint found {len(result.errors)} error(s), the first at {first.file}"
                            + (f", line {first.line}" if first.line else ""))


@content.command("history")
@click.argument("file")
@click.option("--diff", "diff_id", type=int, help="Show what version ID changed (the ID is the list's first column).")
@with_workspace
def content_history(ws: Workspace, file: str, diff_id: int | None) -> None:
    """Every saved version of FILE (campaigns/NAME.md, blocks/NAME.md, or a content NAME): who, when, size.

    The versions the team app's editor and `content new` recorded; a file changed on disk is recorded at its
    next save there.
    """
    editable = ws.editable(file)
    if diff_id is not None:
        shown = ws.content_diff(editable, diff_id)
        for line in shown.lines:
            click.echo(line)
        if shown.cut:
            click.echo(f"... and {shown.cut} more lines")
        return
    from datetime import UTC

    versions = ws.content_history(editable)
    if not versions:
        click.echo(f"{editable.relpath}: no version recorded yet")
        return
    tz = ws.config.tz
    click.echo(f"{editable.relpath}: {len(versions)} version(s), newest first")
    for v in versions:
        at = v.at.replace(tzinfo=UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        click.echo(f"  {v.id:>6}  {at}  {v.who}  {v.label}  {v.size} bytes")


@content.command("restore")
@click.argument("file")
@click.argument("version_id", type=int)
@with_workspace
def content_restore(ws: Workspace, file: str, version_id: int) -> None:
    """Put FILE back as it was in version VERSION_ID (from `content history`), as a new version."""
    from outreach.workspace import login_name

    editable = ws.editable(file)
    current = ws.open_content(editable).base
    saved = ws.restore_content(editable, version_id, current, login_name(), "cli")
    if saved.changed:
        click.echo(f"Restored {editable.relpath} as it was in version {version_id} ({saved.size} bytes)")
    else:
        click.echo(f"{editable.relpath} is already as it was in version {version_id}")


# -- campaigns -----------------------------------------------------------------


@cli.group(cls=OutreachGroup)
def campaign() -> None:
    """Build, send and follow a campaign."""


@campaign.command("build")
@click.argument("name")
@click.option("--ignore-policy", is_flag=True,
              help="Queue contacts the contact policy holds out (mailed lately, replied...), after a confirmation.")
@click.option("--yes", is_flag=True, help="With --ignore-policy: do not ask (no question is asked without a terminal).")
@with_workspace
def campaign_build(ws: Workspace, name: str, ignore_policy: bool, yes: bool) -> None:
    """Freeze the campaign's segment into the outbox (again: adds only new contacts).

    Says how many contacts the contact policy (outreach.yaml) or the campaign's
    require: held out, and why, and which variables print empty for whom.
    """
    if ignore_policy and not yes and _interactive():  # without a terminal, --ignore-policy is its own answer
        held = ws.policy_holds(name)
        if held.total:
            click.confirm(f"The contact policy holds out {held.total} contact(s) of {name} "
                          f"({', '.join(f'{n} {r}' for r, n in held.counts.items())}). Queue them anyway?",
                          abort=True)  # fmt: skip
    click.echo(ws.build(name, ignore_policy=ignore_policy).summary())


@campaign.command("send")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Write .eml files to --out instead of sending.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for --dry-run.")
@click.option("--test-to", help="Send one rendered copy to this address; record nothing.")
@click.option("--contact", "email", help="With --test-to: render for this contact.")
@click.option("--now", "start_now", is_flag=True, help="Ignore the campaign's schedule and start now.")
@click.option("--force", is_flag=True, help="Send even when a deliverability check (outreach doctor) fails.")
@with_workspace
def campaign_send(ws: Workspace, name: str, yes: bool, dry_run: bool, out: Path | None,
                  test_to: str | None, email: str | None, start_now: bool, force: bool) -> None:  # fmt: skip
    """Send what is queued for campaign NAME."""
    if dry_run:
        if out is None:
            raise click.UsageError("--dry-run needs --out DIR")
        from outreach.studio.preview import dry_run as write_dry_run

        n = sum(1 for _ in write_dry_run(ws.config, ws.engine, name, out))
        click.echo(f"Dry run: wrote {n} message(s) to {out}; nothing was sent")
        return
    if test_to:
        _send_test(ws, name, test_to, email)
        return
    _send(ws, name, yes, start_now, force)


def _send_test(ws: Workspace, name: str, to: str, email: str | None) -> None:
    from outreach.audience.importer import RowError, normalise_email
    from outreach.errors import InputError
    from outreach.sending.single import send_one

    try:
        to = normalise_email(to)
    except RowError as exc:
        raise InputError(f"--test-to: {exc}") from None
    prepared = ws.preview(name, email, to=to)

    async def send() -> None:
        async with stop_requests(asyncio.Event()):  # one message: a stop request lets it finish
            await send_one(ws.config.settings.smtp, prepared.envelope_from, to, prepared.data)

    asyncio.run(send())
    click.echo(f"Sent a test copy of {name} to {to}: {prepared.rendered.subject}")


def _preflight(ws: Workspace, name: str, force: bool) -> None:
    """The deliverability checks before anything is asked or sent; a failure is the command's error."""
    if force:
        click.echo("Pre-flight skipped (--force)", err=True)
        return
    from outreach.errors import PreflightError

    try:
        checkup, _why_not = ws.preflight(name)
    except PreflightError as exc:
        if exc.checkup is not None:
            click.echo(exc.checkup.text(only_problems=True), err=True, nl=False)
        raise
    if checkup is not None:  # None: off, or a reserved example domain (outreach doctor tells more)
        c = checkup.counts()
        click.echo(f"Pre-flight: {c['ok']} ok, {c['warn']} warning(s)", err=True)
        if c["warn"]:
            click.echo(checkup.text(only_problems=True), err=True, nl=False)


def _send(ws: Workspace, name: str, yes: bool, start_now: bool, force: bool) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    status = ws.status(name)
    pending = status.counts["queued"]
    if pending == 0:
        click.echo(f"Campaign {name}: nothing queued ({status.counts['sent']} sent, state {status.state})")
        if any(status.taken_over):  # a dead sender's last rows, mid-attempt: now uncertain
            from outreach.sending.engine import SendReport

            took = SendReport(name, requeued=status.taken_over[0], uncertain=status.taken_over[1])
            click.echo(f"Campaign {name}: {took.taken_over()}")
        return
    from outreach.campaigns.definition import load_campaign

    spec = load_campaign(ws.config, name)
    _preflight(ws, name, force)
    smtp = ws.config.settings.smtp
    if not yes:
        click.confirm(
            f"Send {pending} message(s) of {name} from {spec.sender.name} <{spec.sender.email}> "
            f"via {smtp.host}:{smtp.port}?", abort=True,
        )  # fmt: skip
    done_before = status.counts["sent"] + status.counts["failed"]
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]:.0f} msg/s"), TimeRemainingColumn(),
                  transient=True, disable=not sys.stderr.isatty()) as bar:  # fmt: skip
        task = bar.add_task(name, total=status.counts["total"] - status.counts["suppressed"], rate=0.0)
        waiting_on: tuple[str, ...] = ()

        def progress(report: Any) -> None:
            nonlocal waiting_on
            bar.update(task, completed=done_before + report.attempted, rate=report.rate(),
                       description=f"{name} ({report.waiting})" if report.waiting else name)  # fmt: skip
            if report.waiting_on != waiting_on and not sys.stderr.isatty():  # no bar: one line per change
                waiting_on = report.waiting_on
                if report.waiting:
                    click.echo(f"Campaign {name}: {report.waiting}", err=True)

        _database_notices()
        report = asyncio.run(_send_with_signals(ws, name, progress, start_now))
    click.echo(
        f"Campaign {name}: {report.sent} sent, {report.failed} failed, {report.retried} to retry "
        f"({report.rate():.1f} msg/s); state {report.state}"
        + (f": {report.reason}" if report.reason else "")
    )
    report.requeued += status.taken_over[0]  # taken over before the run, when the status above was read
    report.uncertain += status.taken_over[1]
    if report.requeued or report.uncertain:
        click.echo(f"Campaign {name}: {report.taken_over()}")
    if report.fatal:
        from outreach.errors import DeliveryError

        raise DeliveryError(f"{report.fatal}; unsent messages stay queued")


async def _send_with_signals(ws: Workspace, name: str, progress: Any, start_now: bool) -> Any:
    """Ctrl-C / SIGTERM: messages in flight finish, the rest goes back to the queue."""
    from outreach.sending.engine import SendOptions

    async with stop_requests(asyncio.Event()) as stop:
        return await ws.send_async(name, options=SendOptions(stop=stop), progress=progress, start_now=start_now,
                                   force=True)  # the pre-flight ran before the confirmation


@campaign.command("status")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@with_workspace
def campaign_status_cmd(ws: Workspace, name: str, as_json: bool) -> None:
    """Progress and results of campaign NAME."""
    status = ws.status(name)
    if as_json:
        click.echo(json.dumps(status.as_dict()))
        return
    click.echo(f"Campaign {name}: {status.state}" + (f" ({status.reason})" if status.reason else ""))
    for key, value in status.counts.items():
        click.echo(f"  {key:<13}{value:>7}")
    if status.allowance:
        click.echo(f"  {status.allowance.line()}")


@campaign.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON list: an object per campaign.")
@with_workspace
def campaign_list(ws: Workspace, as_json: bool) -> None:
    """Every campaign: name, state, segment, sender, progress (built or not; a broken file with its error)."""
    campaigns = ws.campaign_overview()
    if as_json:
        click.echo(json.dumps([c.as_dict() for c in campaigns], ensure_ascii=False))
        return
    rows = [("name", "state", "segment", "sender", "progress")]
    rows += [(c.name, c.state, c.segment or "-", c.sender or "-", c.progress()) for c in campaigns]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])
    click.echo(f"{len(campaigns)} campaign(s)")


def _lifecycle(action: str) -> None:
    @campaign.command(action, help=f"{action.capitalize()} campaign NAME.")
    @click.argument("name")
    @with_workspace
    def command(ws: Workspace, name: str) -> None:
        state = getattr(ws, action)(name)
        click.echo(f"Campaign {name}: {state}")


for _action in ("pause", "resume", "cancel"):
    _lifecycle(_action)


@campaign.command("resend-uncertain")
@click.argument("name")
@with_workspace
def campaign_resend_uncertain(ws: Workspace, name: str) -> None:
    """Queue again the messages a crash left uncertain (they may arrive twice)."""
    n = ws.resend_uncertain(name)
    click.echo(f"Campaign {name}: {n} uncertain message(s) queued again; run `outreach campaign send {name}`")


# -- tracking ------------------------------------------------------------------


@cli.group(cls=OutreachGroup)
def track() -> None:
    """Read replies, bounces, complaints and unsubscribes."""


@track.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@with_workspace
def track_ingest(ws: Workspace, paths: tuple[Path, ...]) -> None:
    """Record inbound mail from .eml files, Maildir folders or mbox files."""
    report, promoted = ws.ingest(paths)
    click.echo(report.summary())
    if promoted:
        click.echo(f"{promoted} new follow-up(s) for callers")


@track.command("poll")
@click.option("--rescan", is_flag=True, help="Read the whole folder again (nothing is recorded twice).")
@with_workspace
def track_poll(ws: Workspace, rescan: bool) -> None:
    """Record new mail from the IMAP mailbox in outreach.yaml, then move it to the processed folder."""
    _database_notices()
    report, promoted = ws.poll(rescan=rescan)
    click.echo(report.summary())
    if promoted:
        click.echo(f"{promoted} new follow-up(s) for callers")


@track.command("classify")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@ws_option
def track_classify(paths: tuple[Path, ...], as_json: bool) -> None:
    """Say what each message is, recording nothing."""
    from outreach.tracking.classify import classify_message
    from outreach.tracking.sources import iter_messages

    for label, raw in iter_messages(list(paths)):
        cls = classify_message(raw)
        if as_json:
            click.echo(json.dumps(cls.to_json(label), ensure_ascii=False))
        else:
            extra = f" {cls.reason}" if cls.reason else ""
            hard = " hard" if cls.hard else ""
            who = f" {', '.join(cls.recipients)}" if cls.recipients else ""
            click.echo(f"{label}: {cls.kind}{hard}{extra}{who}")


# -- reply intents -------------------------------------------------------------


def _who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name in this environment
        return "admin"


@cli.group(cls=OutreachGroup)
def replies() -> None:
    """Replies whose intent the reader was unsure of, and correcting one."""


@replies.command("review")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@with_workspace
def replies_review(ws: Workspace, as_json: bool) -> None:
    """List the flagged replies: who, when, the text, and the call the reader made."""
    flagged = ws.flagged_replies()
    for f in flagged:
        if as_json:
            click.echo(json.dumps(f.to_json(), ensure_ascii=False))
        else:
            text = " ".join(f.text.split())[:200]
            click.echo(f"{f.id}  {f.at:%Y-%m-%d %H:%M}  {f.email}  read as {f.intent} ({f.confidence:.2f})\n    {text}")
    if not as_json:
        click.echo(f"{len(flagged)} reply(ies) to review; correct one with `outreach replies set-intent ID INTENT`")


@replies.command("set-intent")
@click.argument("reply_id", type=int)
@click.argument("intent", type=click.Choice(["opt_out", "not_interested", "interested", "meeting", "question",
                                            "referral", "left_company", "other"]))  # fmt: skip
@click.option("--by", "who", help="Who decided (default: the system user name).")
@with_workspace
def replies_set_intent(ws: Workspace, reply_id: int, intent: str, who: str | None) -> None:
    """Set a reply's intent: undo what the wrong one did and apply the right one, recorded in the history."""
    for line in ws.set_reply_intent(reply_id, intent, who or _who()):
        click.echo(line)


@contacts.command("proposals")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option("--all", "show_all", is_flag=True, help="Approved and rejected ones too.")
@with_workspace
def contacts_proposals(ws: Workspace, as_json: bool, show_all: bool) -> None:
    """Contacts proposed by replies (a successor named in a referral or left_company reply)."""
    found = ws.proposals(None if show_all else "proposed")
    for p in found:
        if as_json:
            click.echo(json.dumps(p.to_json(), ensure_ascii=False))
        else:
            click.echo(f"{p.id}  {p.state}  {p.name or '-'} <{p.email or 'no address'}>  replaces {p.replaces}  "
                       f"owner {p.owner or '-'}")  # fmt: skip
    if not as_json:
        click.echo(f"{len(found)} proposal(s)")


@contacts.command("approve")
@click.argument("proposal_id", type=int)
@click.option("--email", help="The address, when the reply gave none (or to correct it).")
@click.option("--by", "who", help="Who decided (default: the system user name).")
@with_workspace
def contacts_approve(ws: Workspace, proposal_id: int, email: str | None, who: str | None) -> None:
    """Create the proposed contact (same owner and company as the one it replaces)."""
    address = ws.approve_proposal(proposal_id, who or _who(), email)
    click.echo(f"Proposal {proposal_id} approved: contact {address} created")


@contacts.command("verify")
@click.argument("proposal_id", type=int)
@click.option("--by", "who", help="Who decided (default: the system user name).")
@with_workspace
def contacts_verify_proposal(ws: Workspace, proposal_id: int, who: str | None) -> None:
    """Send a proposed successor to the verify queue: a caller phones the company to confirm it."""
    item = ws.proposal_to_verify(proposal_id, who or _who())
    click.echo(f"Proposal {proposal_id} is in the verify queue as follow-up {item}; its caller confirms it by phone")


@contacts.command("reject")
@click.argument("proposal_id", type=int)
@click.option("--by", "who", help="Who decided (default: the system user name).")
@with_workspace
def contacts_reject(ws: Workspace, proposal_id: int, who: str | None) -> None:
    """Reject a proposed contact."""
    ws.reject_proposal(proposal_id, who or _who())
    click.echo(f"Proposal {proposal_id} rejected")


# -- follow-ups ----------------------------------------------------------------


@cli.group(cls=OutreachGroup)
def followups() -> None:
    """The callers' queues."""


@followups.command("list")
@click.option("--queue", type=click.Choice(["call", "visit", "verify"]))
@click.option("--owner", help="Only items of this sales executive.")
@with_workspace
def followups_list(ws: Workspace, queue: str | None, owner: str | None) -> None:
    """List open follow-ups, most urgent first."""
    from rich.console import Console
    from rich.table import Table

    items = ws.followups(queue, owner)
    table = Table(box=None, header_style="bold")
    for col in ("id", "queue", "prio", "due", "owner", "company", "contact", "phone", "reply"):
        table.add_column(col)
    for i in items:
        table.add_row(str(i.id), i.queue, str(i.priority), i.due_date, i.owner, i.company,
                      i.contact_name, i.phone, i.reply_excerpt[:60])  # fmt: skip
    console = Console(width=180)
    console.print(table)
    console.print(f"{len(items)} open follow-up(s)")


@followups.command("export")
@click.option("--queue", type=Choice(["call", "visit", "verify"]), required=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "ics"]),
              help="Default: from the --out file's extension (.xlsx, .ics), else csv.")
@click.option("--owner", help="Only items of this sales executive.")
@with_workspace
def followups_export(ws: Workspace, queue: str, out: Path, fmt: str | None, owner: str | None) -> None:
    """Write the list for callers (an Excel workbook is best for them: phone numbers stay text) or
    the visits as calendar events (ICS)."""
    fmt = fmt or (out.suffix.lstrip(".").lower() if out.suffix.lower() in (".xlsx", ".ics") else "csv")
    n = ws.export_followups(queue, out, fmt, owner)
    click.echo(f"Wrote {n} visit(s) to {out}" if fmt == "ics" else f"Wrote {n} follow-up(s) to {out}")


@followups.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_workspace
def followups_import(ws: Workspace, file: Path) -> None:
    """Read callers' outcomes back from CSV or .xlsx (id, outcome, notes, visit_at; the verify queue's new_*
    corrections too)."""
    from outreach.errors import InputError

    counts = ws.import_outcomes(file, _who())
    applied, unchanged = counts["applied"], counts["unchanged"]
    why = ("" if applied or counts.rejected else "; nothing changed: every outcome in the file was already recorded"
           if unchanged else "; nothing changed: no row of the file has an outcome")  # fmt: skip
    rejected = f", {len(counts.rejected)} rejected" if counts.rejected else ""
    click.echo(f"Outcomes: {applied} applied, {unchanged} unchanged{rejected}{why}")
    if counts.rejected:
        rows = "; ".join(f"row {line}: {why}" for line, why in counts.rejected)
        raise InputError(f"{rows} (each such row changed nothing; correct it and import the file again)", path=file)


@followups.command("verify")
@click.option("--hygiene", "group", metavar="GROUP", help="The contacts of this `contacts hygiene` group: stale, "
              "few_transactions, role_address, duplicates, missing, suppressed, dead_domain.")
@click.option("--segment", help="The contacts of this segment.")
@click.option("--owner", metavar="KEY", help="Only the contacts of this sales executive (a key of senders).")
@with_workspace
def followups_verify(ws: Workspace, group: str | None, segment: str | None, owner: str | None) -> None:
    """Put contacts in the verify queue: callers confirm or correct their details by phone (export it with
    `followups export --queue verify`, whose new_* columns take the corrections)."""
    if (group is None) == (segment is None):
        raise click.UsageError("give one of --hygiene GROUP or --segment NAME")
    done = ws.verify_contacts(hygiene=group, segment=segment, owner=owner)
    click.echo(done.summary(f"hygiene group {group}" if group else f"segment {segment}"))


# -- reports -------------------------------------------------------------------


class ReportGroup(OutreachGroup):
    """`report monthly ...` is a subcommand; any other first word is a campaign name.

    So both `outreach report NAME` and `outreach report monthly --month M`
    work; a campaign literally called "monthly" is `outreach report campaign monthly`.
    """

    def resolve_command(self, ctx: click.Context, args: list[str]) -> Any:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            return "campaign", self.commands["campaign"], args
        return super().resolve_command(ctx, args)


class CampaignReportCommand(click.Command):
    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        parent = ctx.parent.command_path if ctx.parent else "outreach report"
        formatter.write_usage(parent, "CAMPAIGN [--html FILE]")


def _month(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from outreach.reports.monthly import parse_month

    if value is None:
        return None
    try:
        year, month = parse_month(value)
    except OutreachError as exc:
        raise click.BadParameter(str(exc)) from None
    return f"{year:04d}-{month:02d}"


@cli.group(cls=ReportGroup, subcommand_metavar="CAMPAIGN | monthly ...")
def report() -> None:
    """Campaign results and each sales executive's month.

    \b
      outreach report CAMPAIGN [--html FILE]    the campaign's funnel
      outreach report monthly --month YYYY-MM   per sales executive
    """


@report.command("campaign", cls=CampaignReportCommand, hidden=True)
@click.argument("name", metavar="CAMPAIGN")
@click.option("--html", "html_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write a self-contained, printable HTML page with charts to FILE.")  # fmt: skip
@with_workspace
def report_campaign(ws: Workspace, name: str, html_out: Path | None) -> None:
    """The funnel of CAMPAIGN: sent, delivered, bounced, replied, promoted, outcomes, A/B."""
    from datetime import datetime

    from outreach.reports.campaign import campaign_text

    result = ws.report(name)
    click.echo(campaign_text(result), nl=False)
    if html_out is not None:
        from outreach.reports.html import campaign_html

        page = campaign_html(result, ws.config.settings.organization.name, datetime.now(ws.config.tz))
        html_out.write_text(page, encoding="utf-8")
        click.echo(f"Wrote {html_out}")


@report.command("monthly")
@click.option("--month", callback=_month, metavar="YYYY-MM",
              help="The month, in the workspace timezone (default: the current month).")  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (senders: key -> target, "
              "new_contacted, ...).")
@click.option("--xlsx", "xlsx_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the supervisor's workbook to FILE: a summary sheet and one per executive.")
@with_workspace
def report_monthly(ws: Workspace, month: str | None, as_json: bool, xlsx_out: Path | None) -> None:
    """Each sales executive's month: approached, replies, calls, contacts reached by phone, visits scheduled
    and done, new prospects contacted (by email or phone) against the target."""
    from datetime import datetime

    from outreach.reports.monthly import monthly_text

    month = month or datetime.now(ws.config.tz).strftime("%Y-%m")
    result = ws.monthly(month)
    if xlsx_out is not None:
        from outreach.reports.monthly_xlsx import write_monthly_xlsx

        write_monthly_xlsx(result, xlsx_out, ws.config.settings.organization.name)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
        return
    click.echo(monthly_text(result), nl=False)
    if xlsx_out is not None:
        click.echo(f"Wrote {xlsx_out}")


def _log_format(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
                        help="json: every line on stderr is one JSON object (time, level, logger, message and "
                             "fields such as campaign and counts); nothing else is printed.")(f)  # fmt: skip


def _say(as_json: bool, text: str, level: int = 20, logger: str = "outreach.worker", **fields: Any) -> None:
    """A line of a long-running command: on stdout as text, or a JSON log record with ``fields``."""
    if not as_json:
        click.echo(text)
        return
    import logging

    logging.getLogger(logger).log(level, text, extra=fields)


@cli.command()
@click.option("--once", is_flag=True, help="One pass (for cron): send what is due now, poll the mailbox, then exit.")
@click.option("--interval", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Seconds between checks for due campaigns, retries and follow-up steps.")  # fmt: skip
@click.option("--status", "show_status", is_flag=True,
              help="Say whether a worker is running (its heartbeat) and what its last pass did; exit 1 when none is.")
@click.option("--json", "as_json", is_flag=True, help="With --status: print one JSON object.")
@_log_format
@with_workspace
def worker(ws: Workspace, once: bool, interval: float, show_status: bool, as_json: bool, log_format: str) -> None:
    """Run the scheduler as a service: start scheduled campaigns, resume retries, send follow-up steps
    when due, take over a crashed sender's messages, poll the mailbox. SIGTERM or Ctrl-C stops it cleanly.
    """
    if show_status:
        if once:
            raise click.UsageError("--status does not go with --once")
        _worker_status(ws, as_json)
        return
    if as_json:
        raise click.UsageError("--json goes with --status (for JSON logs: --log-format json)")
    from outreach.operations.logs import configure
    from outreach.worker import run_worker

    json_log = log_format == "json"

    def report(r: Any) -> None:
        _say(json_log, f"{r.campaign}: {r.sent} sent, {r.failed} failed, {r.retried} to retry; state {r.state}"
             + (f": {r.reason}" if r.reason else ""), campaign=r.campaign, sent=r.sent, failed=r.failed,
             retried=r.retried, state=r.state, reason=r.reason or None)  # fmt: skip

    configure(log_format, text_default=True)
    if not once:
        imap = ws.config.settings.imap
        mailbox = f", the mailbox every {imap.poll_every:g}s" if imap else ""
        hooks = len(ws.config.settings.webhooks)
        mailbox += f", webhooks to {hooks} receiver(s)" if hooks else ""
        _say(json_log, f"Worker started: due campaigns, retries and follow-up steps every {interval:g}s{mailbox}; "
             "Ctrl-C or SIGTERM stops it cleanly", interval=interval)  # fmt: skip
    stats = asyncio.run(run_worker(ws.config, ws.engine, once=once, interval=interval, on_report=report))
    _say(json_log, f"Worker stopped: {stats.sent} sent, {stats.failed} failed in {stats.ticks} pass(es)",
         sent=stats.sent, failed=stats.failed, passes=stats.ticks)  # fmt: skip


def _worker_status(ws: Workspace, as_json: bool) -> None:
    """``worker --status``: the heartbeats; exit 1 (an ``Error:`` line) when no worker is alive."""
    from outreach.errors import StateError

    status = ws.worker_status()
    if as_json:
        click.echo(json.dumps(status.as_dict(), ensure_ascii=False))
    else:
        for line in status.lines():
            click.echo(line)
    if not status.alive:
        raise StateError("no outreach worker is running: start one with `outreach worker` (as a service: "
                         "docs/deploy.md); campaigns handed to it wait until then")  # fmt: skip


@cli.command()
@click.option("--sender", "sender_key", metavar="KEY", help="The sender to check (default: the first one).")
@click.option("--nameserver", metavar="HOST[:PORT]", help="Ask this DNS server instead of the system's resolver.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@ws_option
def doctor(sender_key: str | None, nameserver: str | None, as_json: bool) -> None:
    """Deliverability pre-flight: SPF, DKIM record vs key, DMARC and alignment, MX, relay, settings.

    Explains each finding and prints the DNS record to publish; exit 1 when a check fails.
    """
    from outreach.errors import PreflightError
    from outreach.workspace import Workspace

    checkup = Workspace(_workspace()).doctor(sender_key, nameserver)
    click.echo(json.dumps(checkup.as_dict(), ensure_ascii=False) if as_json else checkup.text(), nl=as_json)
    if checkup.failed:
        raise PreflightError(f"deliverability check failed: {checkup.failed_labels()}",
                             failed=tuple(f.check for f in checkup.failed), checkup=checkup)  # fmt: skip


def _database_notices() -> None:
    """A database outage is ridden out, not an error: say on stderr when it begins and when it ends
    (storage/outage.py logs both); past database.outage_timeout the command's error says the rest."""
    import logging

    class Notices(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            click.echo(record.getMessage(), err=True)  # click's stderr: the current one, also under CliRunner

    logger = logging.getLogger("outreach.database")
    if not any(type(h).__name__ == "Notices" for h in logger.handlers):
        logger.addHandler(Notices())


# -- tools -----------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8025, show_default=True, type=int)
@_log_format
@with_workspace
def serve(ws: Workspace, host: str, port: int, log_format: str) -> None:
    """Serve the links in every message (unsubscribe: a confirmation page on GET, RFC 8058 one-click POST;
    signed click redirects), the team app under /app and /metrics for Prometheus (Ctrl-C stops it)."""
    from outreach.operations.logs import configure
    from outreach.web.app import make_server

    json_log = log_format == "json"
    configure(log_format, text_default=False)
    server = make_server(ws.config, ws.engine, host, port)
    base = server.url.rstrip("/")
    public = ws.config.settings.web.public_url
    _say(json_log, f"Serving on {base}/: team app at {public or base}/app/, unsubscribe and click links "
         f"(links point to {ws.config.settings.unsubscribe.base_url}); Ctrl-C to stop", logger="outreach.web",
         url=f"{base}/", app=f"{public or base}/app/")  # fmt: skip
    if not ws.users():
        _say(json_log, "No accounts yet: `outreach users add NAME --role executive|writer|caller|admin` makes one.",
             level=30, logger="outreach.web")  # fmt: skip
    with contextlib.suppress(KeyboardInterrupt), server:
        server.serve_forever()


# -- accounts of the team app -------------------------------------------------------


@cli.group(cls=OutreachGroup)
def users() -> None:
    """Accounts of the team app (`outreach serve`, under /app)."""


def _read_password(from_stdin: bool) -> str:
    """One line from standard input, or asked twice without echo."""
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise click.UsageError("--password-stdin: nothing on standard input")
        return line.rstrip("\r\n")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt="Repeat the password")
    return password


@users.command("add")
@click.argument("name")
@click.option("--role", type=Choice(["executive", "writer", "caller", "admin"]), required=True)
@click.option("--sender", help="The sender key (outreach.yaml senders) this person works for or as.")
@click.option("--email", help="Where the writer's test copies go (default: the sender's address).")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line from standard input.")
@with_workspace
def users_add(ws: Workspace, name: str, role: str, sender: str | None, email: str | None,
              password_stdin: bool) -> None:  # fmt: skip
    """Add an account NAME for the team app."""
    account = ws.add_user(name, role, _read_password(password_stdin), sender=sender, email=email)
    extra = f", sender {account.sender}" if account.sender else ""
    click.echo(f"User {account.name} added ({account.role}{extra})")


@users.command("list")
@with_workspace
def users_list(ws: Workspace) -> None:
    """List the accounts."""
    accounts = ws.users()
    if accounts:
        click.echo(f"{'name':<24}{'role':<11}{'sender':<16}email")
    for a in accounts:
        disabled = "  (disabled)" if a.disabled else ""
        click.echo(f"{a.name:<24}{a.role:<11}{a.sender or '-':<16}{a.email or '-'}{disabled}")
    click.echo(f"{len(accounts)} user(s)")


@users.command("remove")
@click.argument("name")
@with_workspace
def users_remove(ws: Workspace, name: str) -> None:
    """Remove account NAME; its sessions end at once."""
    ws.remove_user(name)
    click.echo(f"User {name} removed")


@users.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password as one line from standard input.")
@with_workspace
def users_password(ws: Workspace, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME; its open sessions end."""
    account = ws.set_password(name, _read_password(password_stdin))
    click.echo(f"Password of {account.name} changed; its open sessions are closed")


@users.command("role")
@click.argument("name")
@click.argument("role", type=Choice(["executive", "writer", "caller", "admin"]), metavar="ROLE")
@click.option("--sender", help="The sender key (outreach.yaml senders) this person works for or as; '' clears it.")
@with_workspace
def users_role(ws: Workspace, name: str, role: str, sender: str | None) -> None:
    """Give NAME another ROLE (and sender); its open sessions end."""
    account = ws.set_role(name, role, sender=sender)
    extra = f", sender {account.sender}" if account.sender else ""
    click.echo(f"User {account.name} is now {account.role}{extra}; its open sessions are closed")


@users.command("disable")
@click.argument("name")
@with_workspace
def users_disable(ws: Workspace, name: str) -> None:
    """Disable NAME: it cannot log in, its open sessions end and its API tokens stop working."""
    account = ws.disable_user(name)
    click.echo(f"User {account.name} disabled; its open sessions are closed (`outreach users enable "
               f"{account.name}` undoes it)")  # fmt: skip


@users.command("enable")
@click.argument("name")
@with_workspace
def users_enable(ws: Workspace, name: str) -> None:
    """Let a disabled NAME log in again (with its old password)."""
    account = ws.enable_user(name)
    click.echo(f"User {account.name} enabled")


@users.command("token")
@click.argument("name")
@click.option("--revoke", is_flag=True, help="Revoke every API token of NAME instead.")
@with_workspace
def users_token(ws: Workspace, name: str, revoke: bool) -> None:
    """A new token for the JSON API (/api/v1), acting with NAME's role; printed once, as the last word."""
    if revoke:
        n = ws.revoke_api_tokens(name)
        click.echo(f"Revoked {n} API token(s) of {name.strip().lower()}")
        return
    account, token = ws.new_api_token(name)
    click.echo(f"API token for {account.name} ({account.role}); it is shown only this once, keep it secret:")
    click.echo(token)


# -- webhooks ---------------------------------------------------------------------------


@cli.group(cls=OutreachGroup)
def webhooks() -> None:
    """Outbound webhooks (webhooks: in outreach.yaml), delivered by `outreach worker`."""


@webhooks.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per receiver, one a line.")
@with_workspace
def webhooks_status(ws: Workspace, as_json: bool) -> None:
    """Per receiver: the backlog, failing deliveries, dead letters, the last error."""
    found = ws.webhook_status()
    if as_json:
        for receiver in found:
            click.echo(json.dumps(receiver.as_dict(), ensure_ascii=False))
        return
    if not found:
        click.echo("No webhooks: add `webhooks:` (url, events, secret_env) to outreach.yaml")
        return
    for r in found:
        click.echo(_receiver_lines(r))


def _receiver_lines(r: Any) -> str:
    from outreach.events.feed import utc_text

    head = r.url + ("" if r.configured else " (no longer in outreach.yaml)")
    if not r.seen:
        return f"{head}\n  waiting for `outreach worker` (it delivers the events from when it first runs)"
    lines = [head, f"  backlog {r.backlog} ({r.failing} failing), dead {r.dead}, delivered {r.delivered}"]
    if r.configured and not r.secret_set:
        lines.append("  the secret's environment variable is not set here (the worker needs it)")
    if r.last_error:
        lines.append(f"  last error {utc_text(r.last_error_at) if r.last_error_at else ''}: {r.last_error}")
    if r.last_delivered_at:
        lines.append(f"  last delivered {utc_text(r.last_delivered_at)}")
    return "\n".join(lines)


@webhooks.command("redeliver")
@click.option("--url", help="Only this receiver's (default: every receiver's).")
@with_workspace
def webhooks_redeliver(ws: Workspace, url: str | None) -> None:
    """Queue the dead-lettered deliveries again (after fixing the receiver); the worker sends them."""
    n = ws.redeliver_webhooks(url)
    click.echo(f"{n} dead-lettered deliver{'y' if n == 1 else 'ies'} queued again")


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace FILE if it exists (the old one stays until the new one is whole).")
@with_workspace
def backup(ws: Workspace, file: Path, force: bool) -> None:
    """Write one archive (tar.gz) of the workspace's files and a consistent copy of its database, safe while
    campaigns send: SQLite through its online backup API, PostgreSQL with pg_dump. Keep FILE elsewhere."""
    click.echo(ws.backup(file, force=force).summary())


@cli.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@ws_option
def restore(file: Path, directory: Path) -> None:
    """Make a new workspace in DIR (new or empty) from the archive FILE of `outreach backup`.

    The database goes where the restored outreach.yaml says (OUTREACH_DATABASE_URL overrides it): a SQLite
    file that does not exist yet, or an empty PostgreSQL database. A corrupt archive changes nothing.
    """
    from outreach.operations.restore import restore_backup

    click.echo(restore_backup(file, directory).summary())


@cli.command()
@click.option("--maildir", type=click.Path(file_okay=False, path_type=Path), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=1025, show_default=True, type=int)
@ws_option
def sink(maildir: Path, host: str, port: int) -> None:
    """Run a local SMTP server that stores every message in a Maildir, printing a line for each."""
    import threading

    from outreach.devtools.sink import Sink

    def received(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()  # one line per message, as it arrives, also into a pipe

    with Sink(maildir, host, port, on_message=received):
        click.echo(f"Sink listening on {host}:{port}, storing into {maildir} (Ctrl-C to stop)")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              help="Where to create the demo workspace (default: a new temporary folder).")  # fmt: skip
@ws_option
def demo(directory: Path | None) -> None:
    """Run the whole flow on the embedded example: nothing to configure."""
    from outreach.devtools.demo import holding, new_demo_folder, run_demo

    removed: list[Path] = []
    temporary = directory is None
    if directory is None:
        directory, removed = new_demo_folder()
    with holding(directory):
        r = run_demo(directory)
    s = r.status.counts
    click.echo(f"outreach demo in {r.workspace}")
    click.echo(f"  contacts imported     {r.imported}")
    click.echo(f"  campaign              solusi-jaringan ({r.built} recipients)")
    click.echo(f"  sent                  {r.report.sent} ({r.report.rate():.0f} msg/s to the local sink)")
    click.echo(f"  replies / bounces     {s['replied']} / {s['bounced']}")
    click.echo(f"  call list             {r.call_items} item(s)")
    click.echo("Files:")
    click.echo(f"  delivered mail        {r.maildir}")
    click.echo(f"  inbound samples       {r.inbox}")
    click.echo(f"  call list (CSV)       {r.call_list}")
    click.echo(f"  database              {r.workspace / 'outreach.db'}")
    if temporary:
        earlier = f"; it removed {len(removed)} earlier one(s) now" if removed else ""
        click.echo(f"The next `outreach demo` removes this folder{earlier} (--dir DIR keeps a demo for good)")


def main() -> None:
    # Start-up is mostly imports (click, SQLAlchemy, pydantic), which allocate many objects that
    # live as long as the process: at the default threshold (700) the cyclic collector scans
    # them again every few hundred allocations, a tenth of the start-up of a light command.
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    # pydantic looks for plugins in every installed package's entry points (tens of ms per
    # command); outreach uses none. Set the variable (even empty) to have them loaded.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    catch_stop_signals()  # already done by outreach/__main__.py; here for callers of outreach.cli.main
    try:
        cli(prog_name="outreach")
    except KeyboardInterrupt as exc:  # between click's parsing and the command: the same clean stop
        exit_stopped(exc)
    finally:
        # On its way out the interpreter runs the cyclic collector over every object once more (the
        # modules of SQLAlchemy and pydantic: a fifth of a light command's time). Frozen, they are
        # only freed, as they would be anyway.
        gc.freeze()


if __name__ == "__main__":
    main()
