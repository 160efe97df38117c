"""Bilingual campaigns: NAME.id.md and NAME.en.md, each contact the version of its language.

Built, sent to a real SMTP server, replied to, reported and unsubscribed from:
the subject, preheader, footer and the unsubscribe page follow the language,
the outbox row remembers it, lint checks every version and the report splits
replies by language.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote
from urllib.request import urlopen
from zoneinfo import ZoneInfo

import pytest
from helpers import SendWorkspace, write, write_csv
from sqlalchemy import select

from outreach.storage import open_engine, transaction
from outreach.storage.models import Outbox
from outreach.web.public import make_server

ID_MD = """\
---
subject: "Undangan seminar untuk {{ contact.company }}"
preheader: "Seminar keamanan jaringan di Jakarta"
---
Yth. {{ contact.full_name }},

Kami mengundang Bapak/Ibu ke seminar kami.

[Konfirmasi kehadiran](https://contoh-solusi.example/rsvp){.button}
"""
EN_MD = """\
---
subject: "Seminar invitation for {{ contact.company }}"
preheader: "A network security seminar in Jakarta"
---
Dear {{ contact.full_name }},

We would like to invite you to our seminar.

[Confirm attendance](https://contoh-solusi.example/rsvp){.button}
"""
LANGUAGES = {"ani@alpha.example.com": "en", "budi@beta.example.com": "id", "fajar@zeta.example.com": "en"}
# citra@gamma.example.com has none: the workspace's language (id)


@pytest.fixture
def bilingual(send_ws: SendWorkspace, tmp_path: Path) -> SendWorkspace:
    rows = [[address, lang] for address, lang in LANGUAGES.items()]
    assert send_ws.run("contacts", "import", str(write_csv(tmp_path / "lang.csv", ["email", "language"], rows))
                       ).exit_code == 0  # fmt: skip
    write(send_ws.root / "campaigns" / "launch.yaml",
          "segment: prospects\ncontent: launch.md\nsender: awang\nthrottle: {rate: 1000/s}\n")  # fmt: skip
    write(send_ws.root / "campaigns" / "launch.id.md", ID_MD)
    write(send_ws.root / "campaigns" / "launch.en.md", EN_MD)
    return send_ws


def languages_in_outbox(sw: SendWorkspace) -> dict[str, str | None]:
    engine = sw.engine()
    try:
        with transaction(engine) as session:
            return {row.email: row.language for row in session.scalars(select(Outbox))}
    finally:
        engine.dispose()


def test_each_contact_gets_its_language_and_the_row_remembers_it(bilingual: SendWorkspace) -> None:
    sw = bilingual
    build = sw.run("campaign", "build", "launch")
    assert build.exit_code == 0, build.output
    assert "By language (each contact gets the version of its own): en 2, id 2" in build.stdout.splitlines()
    assert languages_in_outbox(sw) == {**LANGUAGES, "citra@gamma.example.com": "id"}
    assert sw.run("campaign", "send", "launch", "--yes").exit_code == 0
    got = {r.rcpt_tos[0]: r.message for r in sw.server.received}
    en, id_ = got["ani@alpha.example.com"], got["citra@gamma.example.com"]
    assert en["Subject"] == "Seminar invitation for PT Alpha Teknik"
    assert id_["Subject"] == "Undangan seminar untuk CV Gamma Ritel"
    en_html = en.get_body(("html",)).get_content()  # type: ignore[union-attr]
    en_text = en.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    id_text = id_.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert '<html lang="en">' in en_html and "A network security seminar in Jakarta" in en_html  # the preheader
    assert "Unsubscribe: http://127.0.0.1:8025/u/" in en_text and "Berhenti berlangganan" not in en_text
    assert "You receive this email because" in en_text
    assert "Berhenti berlangganan: http://127.0.0.1:8025/u/" in id_text and "Anda menerima email ini" in id_text


def test_a_language_without_a_version_gets_the_base_file(bilingual: SendWorkspace) -> None:
    sw = bilingual
    (sw.root / "campaigns" / "launch.en.md").unlink()
    write(sw.root / "campaigns" / "launch.md", EN_MD.replace("---\n", "---\nlang: en\n", 1))
    assert sw.run("campaign", "build", "launch").exit_code == 0
    assert languages_in_outbox(sw) == {**LANGUAGES, "citra@gamma.example.com": "id"}  # en: launch.md, lang en


def test_preview_switches_language(bilingual: SendWorkspace) -> None:
    sw = bilingual
    as_contact = sw.run("content", "preview", "launch", "--contact", "ani@alpha.example.com")
    assert as_contact.stdout.startswith("Subject: Seminar invitation for PT Alpha Teknik\n")
    switched = sw.run("content", "preview", "launch", "--contact", "ani@alpha.example.com", "--lang", "id")
    assert switched.stdout.startswith("Subject: Undangan seminar untuk PT Alpha Teknik\n")
    assert "Berhenti berlangganan:" in switched.stdout
    (sw.root / "campaigns" / "launch.en.md").unlink()
    missing = sw.run("content", "preview", "launch", "--lang", "en")
    assert missing.exit_code == 1
    assert missing.stderr == ("Error: campaign launch has no en version: no launch.en.md "
                              "(language versions: launch.id.md)\n")


def test_lint_checks_every_language_against_its_contacts(bilingual: SendWorkspace) -> None:
    sw = bilingual
    broken = EN_MD.replace("Dear {{ contact.full_name }}", "Dear {{ contact.frist_name }}")
    write(sw.root / "campaigns" / "launch.en.md", broken)
    result = sw.run("content", "lint", "launch")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        "campaigns/launch.en.md:5: error: undefined variable `contact.frist_name` (contact has no field "
        "`frist_name`); did you mean `contact.first_name`? — 2 of 2 contacts: ani@alpha.example.com, "
        "fajar@zeta.example.com",
        "Checked 1 campaign: 1 error, 0 warnings",
    ]


def test_a_language_version_must_agree_with_its_name(bilingual: SendWorkspace) -> None:
    write(bilingual.root / "campaigns" / "launch.en.md", EN_MD.replace("---\n", "---\nlang: id\n", 1))
    result = bilingual.run("content", "lint", "launch")
    assert result.stdout.splitlines()[0] == (
        "campaigns/launch.en.md: error: lang: id in launch.en.md, whose name says en; remove the lang: line")


def test_follow_up_steps_keep_the_first_emails_language(bilingual: SendWorkspace) -> None:
    sw = bilingual
    write(sw.root / "campaigns" / "launch.yaml", "segment: prospects\ncontent: launch.md\nsender: awang\n"
          "throttle: {rate: 1000/s}\nsteps:\n  - after: 0 days\n    content: launch-again.md\n")  # fmt: skip
    write(sw.root / "campaigns" / "launch-again.id.md", '---\nsubject: "Pengingat"\n---\nPengingat.\n')
    write(sw.root / "campaigns" / "launch-again.en.md", '---\nsubject: "Reminder"\n---\nA reminder.\n')
    assert sw.run("campaign", "build", "launch").exit_code == 0
    assert sw.run("campaign", "send", "launch", "--yes").exit_code == 0  # the first emails, then the due steps
    subjects = sorted((r.rcpt_tos[0], r.message["Subject"]) for r in sw.server.received
                      if r.message["Subject"] in ("Pengingat", "Reminder"))  # fmt: skip
    assert subjects == [("ani@alpha.example.com", "Reminder"), ("budi@beta.example.com", "Pengingat"),
                        ("citra@gamma.example.com", "Pengingat"), ("fajar@zeta.example.com", "Reminder")]


# -- replies by language, and the unsubscribe page -----------------------------------------------------


def reply(sw: SendWorkspace, address: str, folder: Path) -> Path:
    (received,) = [r for r in sw.server.received if r.rcpt_tos[0] == address]
    sent = received.message
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sent["To"], sent["From"], f"Re: {sent['Subject']}"
    msg["Date"] = format_datetime(datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Asia/Jakarta")))
    msg["Message-ID"], msg["In-Reply-To"] = f"<reply-{address}>", sent["Message-ID"]
    msg.set_content("Terima kasih, saya akan datang.\n")
    path = folder / f"{address}.eml"
    path.write_bytes(bytes(msg))
    return path


def test_the_report_splits_replies_by_language(bilingual: SendWorkspace, tmp_path: Path) -> None:
    sw = bilingual
    assert sw.run("campaign", "build", "launch").exit_code == 0
    assert sw.run("campaign", "send", "launch", "--yes").exit_code == 0
    replies = [reply(sw, a, tmp_path) for a in ("ani@alpha.example.com", "budi@beta.example.com",
                                                "fajar@zeta.example.com")]  # fmt: skip
    assert sw.run("track", "ingest", *map(str, replies)).exit_code == 0
    report = sw.run("report", "launch")
    lines = report.stdout.splitlines()
    at = lines.index("Replies by language")
    assert lines[at : at + 4] == [
        "Replies by language",
        "  language            sent  replied  reply rate",
        "  English                2        2      100.0%",
        "  Bahasa Indonesia       2        1       50.0%",
    ]
    html = tmp_path / "report.html"
    assert sw.run("report", "launch", "--html", str(html)).exit_code == 0
    assert '<tr data-language="en">' in html.read_text() and '<tr data-language="id">' in html.read_text()


@pytest.fixture
def server(bilingual: SendWorkspace) -> Iterator[str]:
    ws = bilingual.ws
    engine = open_engine(ws.database_url)
    srv = make_server(ws, engine, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        srv.server_close()
        engine.dispose()


def unsubscribe_path(sw: SendWorkspace, address: str) -> str:
    (received,) = [r for r in sw.server.received if r.rcpt_tos[0] == address]
    url = str(received.message["List-Unsubscribe"]).split("<", 1)[1].split(">", 1)[0]
    return "/u/" + unquote(url.rsplit("/u/", 1)[1])


def test_the_unsubscribe_page_speaks_the_messages_language(bilingual: SendWorkspace, server: str) -> None:
    sw = bilingual
    assert sw.run("campaign", "build", "launch").exit_code == 0
    assert sw.run("campaign", "send", "launch", "--yes").exit_code == 0
    with urlopen(server + unsubscribe_path(sw, "ani@alpha.example.com"), timeout=30) as resp:
        english = resp.read().decode()
    assert '<html lang="en">' in english and "<h1>Unsubscribe?</h1>" in english
    assert ">Yes, unsubscribe</button>" in english and '<p class="en" lang="id">Berhenti berlangganan?' in english
    with urlopen(server + unsubscribe_path(sw, "citra@gamma.example.com"), timeout=30) as resp:
        indonesian = resp.read().decode()
    assert '<html lang="id">' in indonesian and "<h1>Berhenti berlangganan?</h1>" in indonesian
    with urlopen(server + unsubscribe_path(sw, "ani@alpha.example.com"), data=b"List-Unsubscribe=One-Click",
                 timeout=30) as resp:  # fmt: skip
        done = resp.read().decode()
    assert "<h1>You have been unsubscribed.</h1>" in done
