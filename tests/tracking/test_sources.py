"""What `track ingest` and `track classify` read: a file that is not mail is named, exit 1, nothing recorded.

Before, `track ingest README.md` counted the README as "1 other" and exited 0.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from helpers import SendWorkspace, invoke, write
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.storage.models import Event
from outreach.tracking.sources import looks_like_mail

DATA = Path(__file__).parents[1] / "data"
REPO = Path(__file__).parents[2]
NOT_MAIL = ("not an email message (no mail headers such as From:, Date: or Message-ID: at its start); give .eml "
            "files, Maildir folders or mbox files; nothing was read")  # fmt: skip


def events(sw: SendWorkspace) -> int:
    with Session(sw.engine()) as session:
        return int(session.scalar(select(func.count()).select_from(Event)) or 0)


def test_ingesting_the_readme_names_it_as_not_mail(send_ws: SendWorkspace, tmp_path: Path) -> None:
    readme = shutil.copy(REPO / "README.md", tmp_path / "README.md")
    result = send_ws.run("track", "ingest", str(readme))
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {readme}: {NOT_MAIL}\n")


def test_one_file_that_is_not_mail_stops_the_whole_folder_before_anything_is_recorded(
        send_ws: SendWorkspace, tmp_path: Path) -> None:  # fmt: skip
    folder = tmp_path / "inbox"
    folder.mkdir()
    shutil.copy(DATA / "inbound" / "reply_gmail_id.eml", folder / "1.eml")
    shutil.copy(DATA / "inbound" / "dsn_511_user_unknown.eml", folder / "2.eml")
    notes = write(folder / "notes.txt", "segment: jakarta-prospects\ncontent: x.md\nsender: awang\n")  # YAML, not mail
    result = send_ws.run("track", "ingest", str(folder))
    assert (result.exit_code, result.stderr) == (1, f"Error: {notes}: {NOT_MAIL}\n")
    assert events(send_ws) == 0
    notes.unlink()
    result = send_ws.run("track", "ingest", str(folder))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Read 2 message(s): ")


def test_classify_names_it_too(tmp_path: Path) -> None:
    page = write(tmp_path / "page.html", "<!doctype html><title>x</title>\n")
    result = invoke("track", "classify", str(page), "--json")
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", f"Error: {page}: {NOT_MAIL}\n")


@pytest.mark.parametrize("text", [
    "From: Budi <budi@beta.example.com>\nSubject: Re: Penawaran\n\nBoleh, silakan telepon.\n",
    "Received: from mx.example.com\n\tby relay; Mon, 1 Dec 2026 10:00:00 +0700\nX-Spam: no\nMessage-ID: <a@b>\n\nx",
    "\r\nReturn-Path: <>\r\nDate: Mon, 1 Dec 2026 10:00:00 +0700\r\n\r\n",  # a leading blank line, CRLF
])  # fmt: skip
def test_what_reads_as_mail(text: str) -> None:
    assert looks_like_mail(text.encode())


@pytest.mark.parametrize("text", [
    "# outreach\n\nEmail outreach for B2B sales teams\n",
    "segment: jakarta-prospects\ncontent: x.md\nsender: awang\n",  # header-like lines, but no mail header
    "Hi Budi,\nFrom: me\n",  # a mail header later in the text is no header block
    "",
    "\x89PNG\r\n\x1a\n",
])  # fmt: skip
def test_what_does_not(text: str) -> None:
    assert not looks_like_mail(text.encode())


def test_every_sample_message_in_the_corpora_reads_as_mail() -> None:
    messages = [p for p in DATA.rglob("*") if p.suffix in (".eml", ".msg", ".txt") and "replies" not in p.parts]
    assert len(messages) > 300
    assert [p for p in messages if not looks_like_mail(p.read_bytes()[:65536])] == []
