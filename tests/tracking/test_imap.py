"""``track poll`` and the worker against a real IMAP server (a private dovecot, see imap_server.py).

The campaign is really sent first (to the aiosmtpd fixture), so replies and
bounces refer to real Message-IDs and VERP addresses; inbound mail is then
delivered into the test user's INBOX with APPEND.
"""

from __future__ import annotations

import base64
import imaplib
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import PROSPECTS, Received, SendWorkspace, invoke
from imap_server import PASSWORD, Dovecot, configure_imap, dovecot_binary, self_signed
from sqlalchemy import func, select

from outreach.settings.tokens import Signer, workspace_secret
from outreach.settings.workspace import load_workspace
from outreach.storage import open_engine, transaction
from outreach.storage.models import Event, FollowUp, Suppression
from outreach.tracking import imap

DATA = Path(__file__).parents[1] / "data" / "inbound"
ANI, BUDI, CITRA, FAJAR = PROSPECTS


@dataclass
class Inbox:
    """A workspace whose campaign went out, and the IMAP user its mail comes back to."""

    sw: SendWorkspace
    server: Dovecot
    user: str

    def sent(self, address: str) -> Received:
        (message,) = self.sw.server.to(address)
        return message

    def deliver(self, *messages: bytes) -> None:
        self.server.append(self.user, *messages)

    def poll(self, *args: str) -> tuple[int, str, str]:
        result = self.sw.run("track", "poll", *args)
        return result.exit_code, result.stdout, result.stderr

    def report(self, rescan: bool = False) -> imap.PollReport:
        ws = load_workspace(self.sw.root)
        engine = open_engine(ws.database_url)
        try:
            signer = Signer(workspace_secret(engine, ws.settings.unsubscribe.secret_env))
            return imap.poll_mailbox(ws, engine, signer, rescan=rescan)
        finally:
            engine.dispose()

    def events(self) -> list[tuple[str, int | None]]:
        engine = self.sw.engine()
        try:
            with transaction(engine) as session:
                return sorted((e.kind, e.outbox_id) for e in session.scalars(select(Event).where(Event.kind != "sent")))
        finally:
            engine.dispose()

    def status(self) -> dict[str, int]:
        import json

        result = self.sw.run("campaign", "status", "promo", "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture
def inbox(send_ws: SendWorkspace, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> Inbox:
    for args in (("campaign", "build", "promo"), ("campaign", "send", "promo", "--yes")):
        result = send_ws.run(*args)
        assert result.exit_code == 0, result.output
    assert send_ws.server.recipients() == sorted(PROSPECTS)
    user = dovecot.new_user()
    configure_imap(send_ws.root, dovecot, user)
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", PASSWORD)
    return Inbox(send_ws, dovecot, user)


# -- inbound messages ------------------------------------------------------------------------


def _headers(sender: str, to: str, subject: str, message_id: str, extra: str = "") -> str:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: Thu, 26 Nov 2026 10:00:00 +0700\r\n"
        f"Message-ID: <{message_id}>\r\nMIME-Version: 1.0\r\n{extra}"
    )


def reply(orig: Received, text: str = "Tertarik, tolong telepon saya minggu depan.", tag: str = "r1") -> bytes:
    msg = orig.message
    head = _headers(msg["To"], msg["From"], f"Re: {msg['Subject']}", f"{tag}@alpha.example.com",
                    f"In-Reply-To: {msg['Message-ID']}\r\nReferences: {msg['Message-ID']}\r\n")  # fmt: skip
    body = f"{text}\r\n\r\nPada 25 Nov 2026, Awang menulis:\r\n> Penawaran spesial\r\n"
    return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body).encode()


def bounce(orig: Received) -> bytes:
    """A Postfix-style DSN to the VERP envelope sender, quoting the original's headers."""
    rcpt = orig.rcpt_tos[0]
    head = _headers("MAILER-DAEMON@mx.example.net (Mail Delivery System)", orig.mail_from,
                    "Undelivered Mail Returned to Sender", "dsn-1@mx.example.net",
                    f"Delivered-To: {orig.mail_from}\r\nAuto-Submitted: auto-replied\r\n"
                    'Content-Type: multipart/report; report-type=delivery-status; boundary="B1"\r\n')  # fmt: skip
    body = (
        "--B1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"<{rcpt}>: host mx.example.net said: 550 5.1.1 User unknown\r\n"
        "--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown\r\n"
        "--B1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {orig.message['Message-ID']}\r\nTo: {rcpt}\r\nFrom: {orig.message['From']}\r\n"
        "--B1--\r\n"
    )
    return (head + "\r\n" + body).encode()


def auto_reply(orig: Received) -> bytes:
    msg = orig.message
    head = _headers(msg["To"], msg["From"], "Balasan otomatis: sedang cuti", "ooo-1@gamma.example.com",
                    f"In-Reply-To: {msg['Message-ID']}\r\nAuto-Submitted: auto-replied\r\n"
                    "X-Autoreply: yes\r\nContent-Type: text/plain; charset=utf-8\r\n")  # fmt: skip
    return (head + "\r\nSaya sedang cuti sampai 5 Desember 2026.\r\n").encode()


GARBAGE = b"\x00\x01\x02 not a message at all \xff\xfe\r\n\r\n\x00"


def huge_reply(orig: Received, size: int = 10 * 1024 * 1024) -> bytes:
    """A reply carrying a ~10 MB attachment."""
    msg = orig.message
    head = _headers(msg["To"], msg["From"], f"Re: {msg['Subject']}", "big-1@alpha.example.com",
                    f"In-Reply-To: {msg['Message-ID']}\r\n"
                    'Content-Type: multipart/mixed; boundary="M1"\r\n')  # fmt: skip
    blob = base64.encodebytes(b"\x89PDF" * (size // 4 * 3 // 4)).replace(b"\n", b"\r\n")
    body = (
        b"--M1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nTerlampir RFP kami, mohon dipelajari.\r\n"
        b"--M1\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="rfp.pdf"\r\n\r\n' + blob + b"--M1--\r\n"
    )
    return head.encode() + b"\r\n" + body


# -- the tests ---------------------------------------------------------------------------------


def test_poll_records_replies_bounces_auto_replies_and_moves_them(inbox: Inbox) -> None:
    inbox.deliver(reply(inbox.sent(ANI)), bounce(inbox.sent(BUDI)), auto_reply(inbox.sent(CITRA)), GARBAGE)

    code, out, err = inbox.poll()

    assert code == 0, err
    assert "Read 4 message(s): 1 auto_reply, 1 bounce, 1 other, 1 reply; 0 unmatched" in out
    assert "4 new message(s), 4 moved to Processed, 0 error(s)" in out
    assert "1 new follow-up(s) for callers" in out
    assert inbox.server.messages(inbox.user) == []
    assert len(inbox.server.messages(inbox.user, "Processed")) == 4
    status = inbox.status()
    assert (status["replied"], status["bounced"]) == (1, 1)
    engine = inbox.sw.engine()
    with transaction(engine) as session:
        assert session.get(Suppression, BUDI).reason == "hard_bounce:user_unknown"  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(FollowUp)) == 1
    engine.dispose()


def test_second_poll_does_nothing_again(inbox: Inbox) -> None:
    inbox.deliver(reply(inbox.sent(ANI)), bounce(inbox.sent(BUDI)))
    assert inbox.poll()[0] == 0
    before = inbox.events()

    code, out, _ = inbox.poll()

    assert code == 0
    assert "Read 0 message(s): nothing" in out and "0 new message(s)" in out
    assert inbox.events() == before


def test_a_failed_move_is_not_processed_twice(inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    inbox.deliver(reply(inbox.sent(ANI)), auto_reply(inbox.sent(CITRA)))
    with monkeypatch.context() as m:
        m.setattr(imap, "move", lambda *a: False)
        first = inbox.report()
    assert (first.new, first.moved, first.errors, first.left) == (2, 0, 2, [1, 2])
    assert len(inbox.server.messages(inbox.user)) == 2  # left where they were, never deleted
    recorded = inbox.events()
    assert len(recorded) == 2

    second = inbox.report()
    assert (second.new, second.moved) == (0, 0)
    assert inbox.events() == recorded

    rescan = inbox.report(rescan=True)  # reads the folder again: ingest's key still records nothing twice
    assert (rescan.new, rescan.moved, rescan.ingest.duplicates) == (2, 2, 2)
    assert inbox.events() == recorded
    assert inbox.server.messages(inbox.user) == []


def test_a_new_uidvalidity_means_reading_the_folder_again(inbox: Inbox) -> None:
    """UIDs from before a folder was recreated mean nothing: a stale "last UID 1000" must not hide mail."""
    ws = load_workspace(inbox.sw.root)
    assert ws.settings.imap is not None
    engine = open_engine(ws.database_url)
    imap.save_seen(engine, imap.state_key(ws.settings.imap), imap.Seen(1, 1000), "test")
    engine.dispose()
    inbox.deliver(reply(inbox.sent(ANI)))

    report = inbox.report()

    assert (report.new, report.moved) == (1, 1)
    engine = open_engine(ws.database_url)
    seen = imap.load_seen(engine, imap.state_key(ws.settings.imap))
    engine.dispose()
    assert seen is not None and seen.uidvalidity != 1 and seen.last_uid == 1


def test_without_move_extension_copies_then_expunges_only_that_uid(
    inbox: Inbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message a person marked \\Deleted, and already seen by the poller, must stay untouched."""
    inbox.deliver(b"From: boss@contoh-solusi.co.id\r\nSubject: keep me\r\nMessage-ID: <keep@x>\r\n\r\nhi\r\n")
    client = inbox.server.connect(inbox.user)
    client.select("INBOX")
    uidvalidity = int(client.response("UIDVALIDITY")[1][0])
    client.uid("STORE", "1", "+FLAGS", r"(\Deleted)")
    client.logout()
    ws = load_workspace(inbox.sw.root)
    engine = open_engine(ws.database_url)
    assert ws.settings.imap is not None
    imap.save_seen(engine, imap.state_key(ws.settings.imap), imap.Seen(uidvalidity, 1), "test")
    engine.dispose()
    inbox.deliver(reply(inbox.sent(ANI)), bounce(inbox.sent(BUDI)))
    real = imap.capabilities
    monkeypatch.setattr(imap, "capabilities", lambda client: real(client) - {"MOVE"})

    report = inbox.report()

    assert (report.new, report.moved, report.errors) == (2, 2, 0)
    left = inbox.server.messages(inbox.user)
    assert len(left) == 1 and b"keep me" in left[0]
    assert len(inbox.server.messages(inbox.user, "Processed")) == 2


def test_bad_messages_never_stop_the_rest(inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """10 MB, broken MIME, garbage, a header-injection attempt and one whose recording fails."""
    real_record = imap.record_message

    def record(engine: object, raw: bytes, *args: object, **kwargs: object) -> object:
        if b"X-Poison" in raw:
            raise RuntimeError("simulated failure while recording")
        return real_record(engine, raw, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(imap, "record_message", record)
    poison = b"X-Poison: yes\r\n" + reply(inbox.sent(FAJAR), tag="p1")
    inbox.deliver(
        huge_reply(inbox.sent(ANI)), (DATA / "malformed_mime.eml").read_bytes(), GARBAGE, poison,
        (DATA / "header_injection.eml").read_bytes(), (DATA / "invalid_charset.eml").read_bytes(),
        reply(inbox.sent(CITRA), tag="r9"),
    )  # fmt: skip

    report = inbox.report()

    assert (report.new, report.moved, report.errors, report.left, report.truncated) == (7, 6, 1, [4], 1)
    left = inbox.server.messages(inbox.user)
    assert len(left) == 1 and b"X-Poison" in left[0]
    assert inbox.status()["replied"] == 2  # the 10 MB reply (first 2 MB read) and the last one
    assert report.ingest.counts["reply"] >= 2


@pytest.mark.parametrize("security", ["starttls", "none"])
def test_starttls_and_plain_connections(send_ws: SendWorkspace, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch,
                                        security: str) -> None:  # fmt: skip
    user = dovecot.new_user()
    configure_imap(send_ws.root, dovecot, user, port=dovecot.plain_port, security=security)
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", PASSWORD)
    dovecot.append(user, (DATA / "reply_gmail_id.eml").read_bytes())

    result = send_ws.run("track", "poll")

    assert result.exit_code == 0, result.output
    assert "1 new message(s), 1 moved to Processed" in result.stdout


def test_worker_polls_the_mailbox(inbox: Inbox) -> None:
    inbox.deliver(reply(inbox.sent(ANI)))

    result = inbox.sw.run("worker", "--once")

    assert result.exit_code == 0, result.output
    assert inbox.server.messages(inbox.user) == []
    assert inbox.status()["replied"] == 1


def test_worker_survives_a_broken_mailbox(inbox: Inbox, monkeypatch: pytest.MonkeyPatch,
                                          caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", "wrong")

    result = inbox.sw.run("worker", "--once")

    assert result.exit_code == 0, result.output
    assert any("mailbox poll" in r.getMessage() and "login" in r.getMessage() for r in caplog.records)


def test_untrusted_certificate_is_a_clear_error(inbox: Inbox, tmp_path: Path) -> None:
    other_ca, _ = self_signed(tmp_path, "other")
    text = (inbox.sw.root / "outreach.yaml").read_text()
    (inbox.sw.root / "outreach.yaml").write_text(text.replace(str(inbox.server.ca_file), str(other_ca)))
    inbox.deliver(reply(inbox.sent(ANI)))

    code, out, err = inbox.poll()

    assert code == 1
    assert err.startswith(f"Error: IMAP 127.0.0.1:{inbox.server.port}: the server's TLS certificate is not trusted")
    assert "imap.ca_file" in err and "Traceback" not in err
    assert len(inbox.server.messages(inbox.user)) == 1


def test_login_and_configuration_errors(inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", "wrong")
    code, _, err = inbox.poll()
    assert code == 1 and err.startswith(f"Error: IMAP 127.0.0.1:{inbox.server.port}: login as {inbox.user} failed")

    monkeypatch.delenv("OUTREACH_IMAP_PASSWORD")
    code, _, err = inbox.poll()
    assert code == 1 and "$OUTREACH_IMAP_PASSWORD, which is not set" in err

    yaml = inbox.sw.root / "outreach.yaml"
    yaml.write_text(yaml.read_text().split("imap:")[0])
    result = invoke("track", "poll", ws=inbox.sw.root)
    assert result.exit_code == 1 and "no imap section" in result.stderr


def test_unreachable_server_is_a_clear_error(send_ws: SendWorkspace, dovecot: Dovecot,
                                             monkeypatch: pytest.MonkeyPatch, closed_port: int) -> None:  # fmt: skip
    port = closed_port
    configure_imap(send_ws.root, dovecot, "nobody-home", port=port, security="none", timeout="2s")
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", PASSWORD)
    result = send_ws.run("track", "poll")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: IMAP 127.0.0.1:{port}: cannot connect (Connection refused)")


def test_processed_folder_must_differ_from_the_inbox(send_ws: SendWorkspace, dovecot: Dovecot) -> None:
    configure_imap(send_ws.root, dovecot, "u", processed_folder="inbox")
    result = send_ws.run("track", "poll")
    assert result.exit_code == 1 and "must differ from folder" in result.stderr


def test_missing_dovecot_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import imap_server

    monkeypatch.setattr(imap_server.shutil, "which", lambda name: None)
    monkeypatch.setattr(imap_server, "DOVECOT_PATHS", ())
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        dovecot_binary()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        dovecot_binary()


def test_quote_folder_names() -> None:
    assert imap.quote('Sent "old" \\ x') == '"Sent \\"old\\" \\\\ x"'
    assert isinstance(imaplib.IMAP4.abort("x"), imaplib.IMAP4.error)  # why _handle re-raises abort first


def test_imap_settings_defaults() -> None:
    from outreach.settings.config import Imap

    assert Imap(username="u").effective_port == 993
    assert Imap(username="u", security="starttls").effective_port == 143
    assert Imap(username="u", security="none", port=1143).effective_port == 1143
    assert (Imap(username="u").folder, Imap(username="u").processed_folder) == ("INBOX", "Processed")
