"""Every field of the registry, walked through the whole flow: import, segments, templates, the sent
message and the caller's card (the follow-up item, its CSV export and the app's page).

Nothing here names a field: each comes from ``outreach.fields.BUILTIN`` with its
own example cell, so a field added to the registry is walked too. One workspace
is made for the module: a contact whose row has every field's example (each
column headed by one of the field's synonyms, the last one, not the field's
name), and a control contact with only an email; a campaign whose content prints
every field templates see, sent through a real SMTP server; a reply from the
contact ingested, which puts it on a caller's list.
"""

from __future__ import annotations

import csv
import html
import re
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from helpers import OVERRIDES, SmtpController, SmtpServer, invoke, write, write_csv
from sqlalchemy import select
from team_support import PASSWORDS, app_client, reply_file

from outreach.fields import BUILTIN, Field
from outreach.fields.parsers import Plain
from outreach.followups.queue import ITEM_COLUMNS
from outreach.settings.workspace import init_workspace
from outreach.storage import transaction
from outreach.storage.models import Outbox
from outreach.workspace import Workspace

SENDERS = {"awang": ("Awang", "awang@contoh-solusi.co.id")}
CONTROL, DERIVED = "control@walk.example.com", "derived@walk.example.com"


def expected_text(f: Field) -> str:
    """What the registry says the example cell becomes, as text (a derived field: see ``walked``)."""
    value, _warning = f.read([f.example], Plain(senders=SENDERS))
    return f.text(f.kind.view(value))


def template_of(f: Field) -> str:
    """A content line printing the field: ``F-city: {{ contact.city }}`` (a list joined)."""
    shown = f"contact.{f.name} | join(';')" if f.kind.family == "list" else f"contact.{f.name}"
    return f"F-{f.name}: {{{{ {shown} }}}}"


def segment_of(f: Field, text: str) -> str:
    """A ``where`` that the contact's value meets and the control's (empty, the defaults) does not."""
    family = f.kind.family
    value = text.split(";")[0] if family == "list" else text
    return f"where:\n  {f.name}: {value if family == 'number' else repr(value)}\n"


WALKER = expected_text(BUILTIN["email"])  # the contact whose row has every field's example


@dataclass
class Walk:
    root: Path
    texts: dict[str, str]  # field -> the contact's value as text
    segments: dict[str, int]  # field -> contacts of its segment
    segment_has_walker: dict[str, bool]
    message: EmailMessage
    export: dict[str, str]  # the caller's CSV row of the contact
    export_header: list[str]
    card_page: str
    plan: list[str]  # the import's "Columns read as" lines


@pytest.fixture(scope="module")
def walked(tmp_path_factory: pytest.TempPathFactory) -> Walk:
    base = tmp_path_factory.mktemp("walk")
    root = base / "ws"
    init_workspace(root)
    columns = [f for f in BUILTIN if f.source in ("column", "company")]
    header = [f.synonyms[-1] if f.synonyms else f.name for f in columns]
    write_csv(root / "walk.csv", header, [[f.example for f in columns], [CONTROL] + [""] * (len(columns) - 1)])
    assert header[0] != "email" and columns[0].name == "email"  # the walker's email column too by a synonym
    derived = [f for f in BUILTIN if f.source == "derived" and f.synonyms]
    write_csv(root / "derived.csv", ["email", *(f.synonyms[-1] for f in derived)],
              [[DERIVED, *(f.example for f in derived)]])  # fmt: skip
    lines = "\n\n".join(template_of(f) for f in BUILTIN if f.templates)
    write(root / "campaigns" / "walk.md", f'---\nsubject: "Walk"\n---\n{lines}\n')
    write(root / "segments" / "walker.yaml", f"where:\n  email: {WALKER}\n")
    write(root / "campaigns" / "walk.yaml", "segment: walker\ncontent: walk.md\nsender: awang\n")
    searchable = [f for f in BUILTIN if f.segments]
    server = SmtpServer()
    controller = SmtpController(server)
    controller.start()
    server.port = controller.port
    try:
        with pytest.MonkeyPatch.context() as mp:
            for var in OVERRIDES:
                mp.delenv(var, raising=False)
            mp.setenv("OUTREACH_SMTP_PORT", str(server.port))
            imported = invoke("contacts", "import", str(root / "walk.csv"), ws=root)
            assert imported.exit_code == 0, imported.output
            assert imported.stdout.splitlines()[0] == "Contacts: 2 imported, 0 updated, 0 rejected", imported.output
            with Workspace.open(root) as ws:
                texts = {f.name: next(iter(ws.contacts("walker"))).text(f.name) for f in BUILTIN}
                for f in searchable:
                    write(root / "segments" / f"walk-{f.name}.yaml", segment_of(f, texts[f.name]))
                segments = {f.name: _count(ws, f"walk-{f.name}") for f in searchable}
                has = {f.name: WALKER in [v.email for v in ws.contacts(f"walk-{f.name}")] for f in searchable}
                ws.build("walk", ignore_policy=True)
                assert ws.send("walk").sent == 1
                with transaction(ws.engine) as session:
                    row = session.scalars(select(Outbox).where(Outbox.email == WALKER)).one()
                inbox = base / "inbox"
                inbox.mkdir()
                _report, promoted = ws.ingest([reply_file(inbox, row, 1, "Tolong telepon saya minggu depan.")])
                assert promoted == 1
                (item,) = ws.followups()
                ws.export_followups(item.queue, base / "list.csv")
                ws.add_user("cali", "caller", PASSWORDS["cali"])
            with (base / "list.csv").open(encoding="utf-8-sig", newline="") as fh:
                rows = list(csv.reader(fh))
            with app_client(root, "cali") as client:
                page = client.get(f"/app/followups?queue={item.queue}").text
            # a sheet with a derived field's column (a full name): imported last, the segments counted
            assert invoke("contacts", "import", str(root / "derived.csv"), ws=root).exit_code == 0
    finally:
        controller.stop()
    (received,) = server.to(WALKER)
    plan = [line for line in imported.stdout.splitlines() if line.startswith("Columns read as")]
    return Walk(root, texts, segments, has, received.message, dict(zip(rows[0], rows[1], strict=True)), rows[0],
                page, plan)  # fmt: skip


def _count(ws: Workspace, segment: str) -> int:
    return sum(1 for _ in ws.contacts(segment))


def _plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return " ".join(part.get_content().split())


@pytest.mark.parametrize("name", [f.name for f in BUILTIN])
def test_the_import_reads_it_by_a_synonym(walked: Walk, name: str) -> None:
    f = BUILTIN[name]
    if f.source == "derived":
        assert f.synonyms, f"{name}: a derived field without synonyms is not imported"
        with Workspace.open(walked.root) as ws:
            record = ws.contact(DERIVED)
        assert dict(record.fields)[name], f"{name}: importing {f.example!r} left it empty"
        return
    assert walked.texts[name] == expected_text(f) != ""
    assert f.synonyms and any(f"{f.synonyms[-1]!r} -> {name}" in line for line in walked.plan), walked.plan


@pytest.mark.parametrize("name", [f.name for f in BUILTIN])
def test_segments_filter_on_it(walked: Walk, name: str) -> None:
    assert BUILTIN[name].segments, f"{name}: segments cannot filter on it"
    assert walked.segment_has_walker[name] and walked.segments[name] == 1


@pytest.mark.parametrize("name", [f.name for f in BUILTIN if f.templates])
def test_templates_and_the_sent_message_show_it(walked: Walk, name: str) -> None:
    assert f"F-{name}: {walked.texts[name]}" in _plain(walked.message)


@pytest.mark.parametrize("name", [f.name for f in BUILTIN])
def test_the_callers_card_shows_it_if_callers_see_it(walked: Walk, name: str) -> None:
    f = BUILTIN[name]
    if not f.card:  # not on the card: no column of the list is the field's (the item's own columns aside)
        assert name not in set(walked.export_header) - set(ITEM_COLUMNS)
        return
    assert walked.export[f.card] == walked.texts[name]
    card = re.search(r'<article class="item" id="item-\d+">(.*?)</article>', walked.card_page, re.S)
    assert card is not None and html.escape(walked.texts[name], quote=False) in card.group(1)


def test_every_field_was_walked(walked: Walk) -> None:
    assert set(walked.texts) == {f.name for f in BUILTIN}
    assert walked.export[BUILTIN["email"].card] == WALKER
