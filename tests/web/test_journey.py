"""The whole blast in the browser, from an empty workspace to a reply in a caller's queue.

In a terminal, only what a team types once: ``outreach init``, ``outreach users
add`` for each person, ``outreach serve`` and ``outreach worker`` (both real
processes, as a service would run them). The relay is an aiosmtpd sink, the
mailbox a real dovecot that the worker polls. Everything else happens in
chromium, each person in their own browser session:

1. the sales admin uploads the contact list (checking its columns first);
2. the executive makes a segment in the form;
3. the writer starts content from a starter;
4. edits it, sees the preview follow, gets lint clean, saves;
5. the executive makes the campaign and launches it (build, review, send now);
6. the worker delivers it to the sink;
7. a customer's reply lands in the mailbox, the worker reads it, and it shows
   in the caller's queue.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from a11y_support import problems
from browser_pages import log_in, new_page
from helpers import DEADLINE, SmtpServer, Spawned, served_port, wait_for
from imap_server import PASSWORD, Dovecot, configure_imap
from playwright.sync_api import Browser, Page, expect

TIMEOUT = 60_000
PEOPLE = {"sari": ("admin", None), "boss": ("executive", "awang"), "wina": ("writer", None),
          "cali": ("caller", None)}  # fmt: skip
LIST = ("Email Address,First Name,Last Name,Company Name,City,Status,Job Title,Mobile Phone\r\n"
        "ani@alpha.example.com,Ani,Lestari,PT Alpha Teknik,Jakarta,prospect,IT Manager,0812-1111-0001\r\n"
        "budi@beta.example.com,Budi,Santoso,PT Beta Niaga,Jakarta,prospect,Purchasing,0812-1111-0002\r\n"
        "citra@gamma.example.com,Citra,Wijaya,CV Gamma Ritel,Bandung,prospect,Owner,0812-1111-0003\r\n")


def password(name: str) -> str:
    return f"{name}-password-1"


def outreach(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "outreach", *args], input=stdin, capture_output=True, text=True,
                          timeout=DEADLINE, env=env, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def session(browser: Browser, base: str, name: str) -> Page:
    """``name``'s own browser, logged in."""
    page = new_page(browser, base, timeout=TIMEOUT)
    log_in(page, name, password=password(name))
    return page


def test_the_whole_blast_from_an_empty_workspace(browser: Browser, tmp_path: Path, smtp_server: SmtpServer,
                                                 dovecot: Dovecot) -> None:  # fmt: skip
    root = tmp_path / "ws"
    mailbox = dovecot.new_user()
    env = {**os.environ, "OUTREACH_SMTP_PORT": str(smtp_server.port), "OUTREACH_IMAP_PASSWORD": PASSWORD,
           "OUTREACH_SECRET": "journey-secret-0123456789abcdef"}  # fmt: skip
    for var in ("OUTREACH_DATABASE_URL", "OUTREACH_WORKSPACE"):
        env.pop(var, None)
    # -- the terminal: once --------------------------------------------------------------------------
    outreach("init", str(root), env=env)
    configure_imap(root, dovecot, mailbox, poll_every="1s")  # where the replies arrive (the mailbox's settings)
    for name, (role, sender) in PEOPLE.items():
        outreach("-w", str(root), "users", "add", name, "--role", role, *(["--sender", sender] if sender else []),
                 "--password-stdin", stdin=password(name) + "\n", env=env)  # fmt: skip
    serve = Spawned(["-w", str(root), "serve", "--port", "0"], env)
    worker = Spawned(["-w", str(root), "worker", "--interval", "1"], env)
    try:
        base = f"http://127.0.0.1:{served_port(serve)}"
        try:
            run_the_blast(browser, base, root, tmp_path, smtp_server, dovecot, mailbox)
        except AssertionError:  # what the worker did and where the follow-ups are, to tell why
            print(worker.output()[-4000:], outreach("-w", str(root), "followups", "list", env=env), sep="\n")
            raise
    finally:
        for proc in (worker, serve):
            proc.signal()
        wait_for(lambda: worker.proc.poll() is not None and serve.proc.poll() is not None, what="both to stop",
                 context=lambda: worker.output() + serve.output())  # fmt: skip


def run_the_blast(browser: Browser, base: str, root: Path, tmp_path: Path, sink: SmtpServer, dovecot: Dovecot,
                  mailbox: str) -> None:  # fmt: skip
    # 1. the sales admin uploads the list
    admin = session(browser, base, "sari")
    admin.click("nav.bar >> text=Import")
    sheet = tmp_path / "pameran-jakarta.csv"
    sheet.write_text(LIST, encoding="utf-8")
    admin.set_input_files("#file", str(sheet))
    admin.click("text=Check the columns")
    assert admin.locator("tr[data-column='Mobile Phone'] select").input_value() == "phone"
    admin.click("text=Import pameran-jakarta.csv")
    expect(admin.locator("#summary-line")).to_have_text("Contacts: 3 imported, 0 updated, 0 rejected")
    assert problems(admin) == []

    # 2. the executive makes a segment in the form
    boss = session(browser, base, "boss")
    boss.click("nav.bar >> text=Segments")
    boss.click("text=New segment")
    boss.fill("#f-name", "jakarta-pameran")
    boss.select_option("#f-status", "prospect")
    boss.fill("#f-city", "Jakarta")
    boss.click("#save-form")
    expect(boss.locator("#count")).to_have_text("2")
    assert (root / "segments" / "jakarta-pameran.yaml").exists()

    # 3. the writer starts content from a starter
    wina = session(browser, base, "wina")
    wina.goto("/app/content")
    wina.fill("#new-name", "pameran")
    wina.select_option("#new-kind", "event-invitation")
    wina.select_option("#new-lang", "id")
    wina.click("form[action$='/app/content/new'] button[type=submit]")
    source = wina.locator("textarea#source")
    expect(source).to_be_visible()

    # 4. edits it, the preview follows, lint is clean, saved
    source.click()
    wina.keyboard.press("Control+End")
    wina.keyboard.type("\nSampai jumpa di stan kami, Hall B nomor 12.\n")
    message = wina.frame_locator("iframe#message").locator("body")
    expect(message).to_contain_text("Hall B nomor 12")
    expect(wina.locator("#lint-summary")).to_have_text(re.compile(r"^0 errors"))
    with wina.expect_navigation():
        wina.click("#save")
    expect(wina.locator(".flash")).to_contain_text("Saved campaigns/pameran.md")
    assert "Hall B nomor 12" in (root / "campaigns" / "pameran.md").read_text(encoding="utf-8")

    # 5. the executive makes the campaign and launches it
    boss.goto("/app/campaigns/new?segment=jakarta-pameran")
    boss.fill("#f-name", "pameran-jakarta")
    boss.select_option("#f-content", "pameran.md")
    boss.select_option("#f-sender", "awang")
    boss.click("text=Create campaign")
    expect(boss.locator(".flash")).to_contain_text("Campaign pameran-jakarta created")
    boss.click("text=Build…")
    boss.click("text=Yes, build it")
    boss.wait_for_url("**/app/campaigns/pameran-jakarta/review")
    assert boss.inner_text("#queued") == "2"
    expect(boss.frame_locator("iframe.sample").locator("body")).to_contain_text("Hall B nomor 12")
    boss.click("#send-now")

    # 6. the worker delivers it
    expect(boss.locator("#state")).to_have_text("done", timeout=120_000)
    wait_for(lambda: len(sink.received) == 2, what="two messages at the sink")
    assert sorted(sink.recipients()) == ["ani@alpha.example.com", "budi@beta.example.com"]
    (received,) = sink.to("ani@alpha.example.com")
    sent = received.message
    text = sent.get_body(("plain",))
    assert text is not None and "Hall B nomor 12" in text.get_content()

    # 7. a reply lands in the mailbox; the worker reads it; the caller sees it (a call: it names no meeting)
    reply = (f"From: Ani Lestari <ani@alpha.example.com>\r\nTo: {sent['From']}\r\nSubject: Re: {sent['Subject']}\r\n"
             "Message-ID: <balasan-1@alpha.example.com>\r\n"
             f"In-Reply-To: {sent['Message-ID']}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
             "Kami tertarik datang ke pameran. Tolong telepon saya besok pagi.\r\n")  # fmt: skip
    dovecot.append(mailbox, reply.encode())
    cali = session(browser, base, "cali")

    def in_the_queue() -> bool:
        cali.goto("/app/followups")
        return cali.locator("article.item", has_text="Ani Lestari").count() == 1

    wait_for(in_the_queue, what="the reply in the caller's queue")
    card = cali.locator("article.item", has_text="Ani Lestari")
    assert "Tolong telepon saya" in card.inner_text()
    assert problems(cali) == []
