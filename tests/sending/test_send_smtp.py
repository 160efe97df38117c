"""The send path, end to end, over TCP to a real SMTP server (aiosmtpd) that records what arrives."""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import timedelta
from pathlib import Path

from helpers import PROMO_SUBJECT, PROSPECTS, TRY_LATER, USER_UNKNOWN, SendWorkspace, write
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from outreach.settings.tokens import Signer, parse_verp, workspace_secret
from outreach.storage import transaction, utcnow
from outreach.storage.models import Contact, Outbox, Suppression

SENT_LINE = re.compile(
    r"^Campaign (?P<name>\S+): (?P<sent>\d+) sent, (?P<failed>\d+) failed, (?P<retry>\d+) to retry "
    r"\(\d+(\.\d+)? msg/s\); state (?P<state>\w+)$"
)
CONTRACT_KEYS = {"campaign", "state", "total", "queued", "sent", "failed", "uncertain", "bounced",
                 "replied", "unsubscribed", "suppressed"}  # fmt: skip
BUILT_4 = "Campaign promo: 4 added to the outbox, 0 already there, 0 skipped (suppressed); 4 in the outbox\n"


def build(sw: SendWorkspace, name: str = "promo", *options: str) -> str:
    result = sw.run("campaign", "build", name, *options)
    assert result.exit_code == 0, result.output
    return result.stdout


def send(sw: SendWorkspace, name: str = "promo", *extra: str) -> re.Match[str]:
    result = sw.run("campaign", "send", name, "--yes", *extra)
    assert result.exit_code == 0, result.output
    m = SENT_LINE.match(result.stdout.rstrip("\n"))
    assert m, result.stdout
    return m


def status(sw: SendWorkspace, name: str = "promo") -> dict[str, object]:
    result = sw.run("campaign", "status", name, "--json")
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 1
    data = json.loads(result.stdout)
    assert set(data) >= CONTRACT_KEYS
    return data


def counts(data: dict[str, object]) -> dict[str, object]:
    return {k: data[k] for k in sorted(CONTRACT_KEYS)}


def expected(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "campaign": "promo", "state": "done", "total": 4, "queued": 0, "sent": 4, "failed": 0,
        "uncertain": 0, "bounced": 0, "replied": 0, "unsubscribed": 0, "suppressed": 0,
    }  # fmt: skip
    base.update(changes)
    return dict(sorted(base.items()))


def outbox_rows(sw: SendWorkspace) -> dict[str, Outbox]:
    with Session(sw.engine()) as s:
        return {r.email: r for r in s.scalars(select(Outbox).where(Outbox.step == 0))}


# -- the happy path ------------------------------------------------------------------


def test_build_and_send_delivers_each_message_exactly_once(send_ws: SendWorkspace) -> None:
    assert build(send_ws) == BUILT_4
    m = send(send_ws)
    assert (m["name"], m["sent"], m["failed"], m["retry"], m["state"]) == ("promo", "4", "0", "0", "done")
    server = send_ws.server
    assert server.recipients() == sorted(PROSPECTS)
    assert len(server.received) == 4
    assert server.dropped == []
    assert counts(status(send_ws)) == expected()


def test_what_arrives_is_a_complete_message(send_ws: SendWorkspace) -> None:
    build(send_ws)
    send(send_ws)
    ws = send_ws.ws
    rows = outbox_rows(send_ws)
    signer = Signer(workspace_secret(send_ws.engine(), ws.settings.unsubscribe.secret_env))
    for rec in send_ws.server.received:
        (rcpt,) = rec.rcpt_tos
        msg = rec.message
        row = rows[rcpt]
        # envelope: from the sender's domain; a VERP return path names this very row
        assert rec.mail_from.endswith("@contoh-solusi.example")
        if "+" in rec.mail_from:
            assert parse_verp(signer, rec.mail_from) == row.id
        # headers
        assert msg["From"] == "Awang Prasetyo <awang@contoh-solusi.example>"
        assert msg["To"].addresses[0].addr_spec == rcpt
        assert msg["Subject"] == PROMO_SUBJECT
        head = rec.data.split(b"\r\n\r\n", 1)[0]
        assert head.isascii() and b"Subject: =?utf-8?b?" in head
        assert msg["Message-ID"] == f"<{row.message_id}>"
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        unsub, mailto = re.findall(r"<([^>]+)>", str(msg["List-Unsubscribe"]))
        assert unsub.startswith("http://127.0.0.1:8025/u/")
        assert mailto.startswith("mailto:unsubscribe@contoh-solusi.example?subject=unsubscribe")
        token = unsub.rsplit("/", 1)[1]
        assert signer.verify(token) == (row.contact_id, row.campaign_id)
        # body: both parts, CSS inlined, footer with organization and unsubscribe link
        assert msg.get_content_type() == "multipart/alternative"
        text_part, html_part = msg.iter_parts()
        assert (text_part.get_content_type(), html_part.get_content_type()) == ("text/plain", "text/html")
        text, html = text_part.get_content(), html_part.get_content()
        org = ws.settings.organization
        assert f"{org.name}, {org.address}" in text
        assert f"Berhenti berlangganan: {unsub}" in text
        assert org.name in html and org.address in html
        assert re.search(rf'<a href="{re.escape(unsub)}"[^>]*>Berhenti berlangganan</a>', html)
        assert "<style" not in html and 'style="' in html
        first = {c.email: c for c in _contacts(send_ws)}[rcpt]
        assert f"Yth. {first.first_name} {first.last_name}," in text
        assert "utm" not in html and 'href="https://www.example.com/promo?c=promo"' in html
    ids = [r.message["Message-ID"] for r in send_ws.server.received]
    assert len(set(ids)) == 4


def _contacts(sw: SendWorkspace) -> list[Contact]:
    with Session(sw.engine()) as s:
        return list(s.scalars(select(Contact)))


def test_outbox_records_what_was_sent(send_ws: SendWorkspace) -> None:
    build(send_ws)
    send(send_ws)
    rows = outbox_rows(send_ws)
    assert sorted(rows) == sorted(PROSPECTS)
    received = {r.rcpt_tos[0]: r.message["Message-ID"] for r in send_ws.server.received}
    for addr, row in rows.items():
        assert row.state == "sent"
        assert row.attempts == 1
        assert row.sent_at is not None
        assert f"<{row.message_id}>" == received[addr]


def test_building_and_sending_again_does_nothing(send_ws: SendWorkspace) -> None:
    build(send_ws)
    send(send_ws)
    assert build(send_ws) == (
        "Campaign promo: 0 added to the outbox, 4 already there, 0 skipped (suppressed); 4 in the outbox\n"
    )
    result = send_ws.run("campaign", "send", "promo", "--yes")
    assert result.exit_code == 0
    assert result.stdout == "Campaign promo: nothing queued (4 sent, state done)\n"
    assert len(send_ws.server.received) == 4
    assert counts(status(send_ws)) == expected()


def test_new_contacts_join_on_rebuild(send_ws: SendWorkspace) -> None:
    build(send_ws)
    send(send_ws)
    new = write(
        send_ws.root / "new.csv", "email,first_name,company,status\ngita@eta.example.com,Gita,PT Eta,prospect\n"
    )
    assert send_ws.run("contacts", "import", str(new)).exit_code == 0
    assert build(send_ws).startswith("Campaign promo: 1 added to the outbox, 4 already there")
    m = send(send_ws)
    assert m["sent"] == "1"
    assert send_ws.server.recipients() == sorted([*PROSPECTS, "gita@eta.example.com"])


def test_status_text(send_ws: SendWorkspace) -> None:
    build(send_ws)
    result = send_ws.run("campaign", "status", "promo")
    assert result.exit_code == 0
    out = result.stdout.splitlines()
    assert out[0] == "Campaign promo: built"
    table = {line.split()[0]: int(line.split()[1]) for line in out[1:]}
    assert table["total"] == 4 and table["queued"] == 4 and table["sent"] == 0


def test_status_json_before_sending(send_ws: SendWorkspace) -> None:
    build(send_ws)
    assert counts(status(send_ws)) == expected(state="built", queued=4, sent=0)


# -- the confirmation, dry runs, test copies ----------------------------------------------


def test_confirmation_refused_sends_nothing(send_ws: SendWorkspace) -> None:
    build(send_ws)
    result = send_ws.run("campaign", "send", "promo", input="n\n")
    assert result.exit_code == 1
    port = send_ws.server.port
    assert result.stdout == (
        f"Send 4 message(s) of promo from Awang Prasetyo <awang@contoh-solusi.example> via 127.0.0.1:{port}? [y/N]: n\n"
    )
    assert result.stderr == "Aborted!\n"
    assert send_ws.server.received == []
    assert counts(status(send_ws)) == expected(state="built", queued=4, sent=0)


def test_confirmation_accepted_sends(send_ws: SendWorkspace) -> None:
    build(send_ws)
    result = send_ws.run("campaign", "send", "promo", input="y\n")
    assert result.exit_code == 0, result.output
    assert SENT_LINE.match(result.stdout.splitlines()[-1])
    assert send_ws.server.recipients() == sorted(PROSPECTS)


def test_dry_run_writes_eml_files_and_sends_nothing(send_ws: SendWorkspace, tmp_path: Path) -> None:
    build(send_ws)
    out = tmp_path / "dry"
    result = send_ws.run("campaign", "send", "promo", "--dry-run", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Dry run: wrote 4 message(s) to {out}; nothing was sent\n"
    files = sorted(out.glob("*.eml"))
    assert len(files) == 4
    rows = outbox_rows(send_ws)
    for f in files:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        addr = msg["To"].addresses[0].addr_spec
        assert f.name.endswith(f"-{addr}.eml")
        assert msg["Message-ID"] == f"<{rows[addr].message_id}>"
        assert msg["Subject"] == PROMO_SUBJECT
    assert send_ws.server.received == []
    assert counts(status(send_ws)) == expected(state="built", queued=4, sent=0)


def test_dry_run_needs_out(send_ws: SendWorkspace) -> None:
    build(send_ws)
    result = send_ws.run("campaign", "send", "promo", "--dry-run")
    assert result.exit_code == 2
    assert "--dry-run needs --out DIR" in result.stderr


def test_test_copy_goes_to_the_writer_and_records_nothing(send_ws: SendWorkspace) -> None:
    build(send_ws)
    before = outbox_rows(send_ws)
    result = send_ws.run("campaign", "send", "promo", "--test-to", "Writer@Contoh-Solusi.co.id")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"Sent a test copy of promo to writer@contoh-solusi.co.id: {PROMO_SUBJECT}\n"
    (rec,) = send_ws.server.received
    assert rec.rcpt_tos == ("writer@contoh-solusi.co.id",)
    assert rec.message["Subject"] == PROMO_SUBJECT
    assert rec.message["Message-ID"] not in {f"<{r.message_id}>" for r in before.values()}
    after = outbox_rows(send_ws)
    assert {a: (r.state, r.attempts) for a, r in after.items()} == {a: ("queued", 0) for a in before}
    assert counts(status(send_ws)) == expected(state="built", queued=4, sent=0)


def test_test_copy_for_a_chosen_contact(send_ws: SendWorkspace) -> None:
    result = send_ws.run(
        "campaign", "send", "promo", "--test-to", "writer@contoh-solusi.co.id",
        "--contact", "citra@gamma.example.com",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (rec,) = send_ws.server.received
    assert "CV Gamma Ritel" in rec.message.get_body(("plain",)).get_content()
    assert outbox_rows(send_ws) == {}


def test_test_copy_to_a_bad_address(send_ws: SendWorkspace) -> None:
    result = send_ws.run("campaign", "send", "promo", "--test-to", "not-an-address")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: --test-to: invalid email 'not-an-address'")
    assert send_ws.server.received == []


# -- suppression --------------------------------------------------------------------


def suppress(sw: SendWorkspace, address: str, reason: str = "manual") -> None:
    with transaction(sw.engine()) as s:
        s.add(Suppression(email=address, reason=reason, detail=None, campaign_id=None, created_at=utcnow()))


def test_suppressed_before_build_is_skipped(send_ws: SendWorkspace) -> None:
    suppress(send_ws, "budi@beta.example.com")
    assert build(send_ws) == (
        "Campaign promo: 3 added to the outbox, 0 already there, 1 skipped (suppressed); 3 in the outbox\n"
    )
    send(send_ws)
    assert "budi@beta.example.com" not in send_ws.server.recipients()
    assert len(send_ws.server.received) == 3


def test_suppressed_after_build_is_never_sent(send_ws: SendWorkspace) -> None:
    build(send_ws)
    suppress(send_ws, "budi@beta.example.com", "unsubscribe")
    m = send(send_ws)
    assert m["sent"] == "3"
    assert send_ws.server.rcpt_attempts["budi@beta.example.com"] == 0
    assert send_ws.server.recipients() == sorted(set(PROSPECTS) - {"budi@beta.example.com"})
    assert counts(status(send_ws)) == expected(sent=3, suppressed=1)
    assert outbox_rows(send_ws)["budi@beta.example.com"].state == "suppressed"


def test_suppressed_contact_gets_no_dry_run_file_either(send_ws: SendWorkspace, tmp_path: Path) -> None:
    build(send_ws)
    suppress(send_ws, "budi@beta.example.com")
    send_ws.run("campaign", "send", "promo", "--dry-run", "--out", str(tmp_path / "dry"))
    names = sorted(p.name for p in (tmp_path / "dry").glob("*.eml"))
    assert not any("budi" in n for n in names), names


def bounce_for(rec_message_id: str, addr: str) -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.beta.example.com>\r\n"
        "To: awang@contoh-solusi.co.id\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Tue, 01 Dec 2026 09:00:00 +0700\r\n"
        "Message-ID: <bounce-1@mx.beta.example.com>\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\n"
        f"<{addr}>: host mx.beta.example.com said: 550 5.1.1 <{addr}>: Recipient address\r\n"
        "    rejected: User unknown in virtual mailbox table\r\n"
        "\r\n--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.beta.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {addr}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{addr}>: Recipient address rejected: User unknown\r\n"
        "\r\n--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: awang@contoh-solusi.co.id\r\nTo: {addr}\r\nSubject: x\r\n"
        f"Message-ID: {rec_message_id}\r\n"
        "\r\n--B--\r\n"
    ).encode("ascii")


def test_hard_bounce_suppresses_for_the_next_campaign(send_ws: SendWorkspace, tmp_path: Path) -> None:
    build(send_ws)
    send(send_ws)
    budi = send_ws.server.to("budi@beta.example.com")[0]
    dsn = tmp_path / "bounce.eml"
    dsn.write_bytes(bounce_for(budi.message["Message-ID"], "budi@beta.example.com"))
    result = send_ws.run("track", "ingest", str(dsn))
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == (
        "Read 1 message(s): 1 bounce; 0 unmatched, 0 already recorded, 1 contact(s) suppressed"
    )
    assert counts(status(send_ws))["bounced"] == 1
    with Session(send_ws.engine()) as s:
        sup = s.get(Suppression, "budi@beta.example.com")
        assert sup is not None and sup.reason.startswith("hard_bounce")

    # the same audience again, in a second campaign (past the contact policy): the bounced address is left out
    write(send_ws.root / "campaigns" / "promo2.yaml",
          "segment: prospects\ncontent: promo.md\nsender: sari\nthrottle: {rate: 1000/s}\n")  # fmt: skip
    assert build(send_ws, "promo2", "--ignore-policy", "--yes").startswith(
        "Campaign promo2: 3 added to the outbox, 0 already there, 1 skipped")
    send_ws.server.received.clear()
    send(send_ws, "promo2")
    assert send_ws.server.recipients() == sorted(set(PROSPECTS) - {"budi@beta.example.com"})


# -- refusals and failures at the relay ------------------------------------------------


def test_user_unknown_at_rcpt_fails_and_suppresses(send_ws: SendWorkspace) -> None:
    send_ws.server.fail_rcpt("budi@beta.example.com", USER_UNKNOWN)
    build(send_ws)
    m = send(send_ws)
    assert (m["sent"], m["failed"], m["retry"], m["state"]) == ("3", "1", "0", "done")
    assert send_ws.server.rcpt_attempts["budi@beta.example.com"] == 1  # a 5xx is never retried
    assert counts(status(send_ws)) == expected(sent=3, failed=1)
    row = outbox_rows(send_ws)["budi@beta.example.com"]
    assert row.state == "failed" and row.last_code == 550
    assert "User unknown" in (row.last_error or "")
    with Session(send_ws.engine()) as s:
        sup = s.get(Suppression, "budi@beta.example.com")
        assert sup is not None and sup.reason.startswith("hard_bounce")


def test_temporary_failure_is_retried_then_delivered_once(send_ws: SendWorkspace) -> None:
    send_ws.server.fail_rcpt("citra@gamma.example.com", TRY_LATER, times=2)
    build(send_ws)
    send(send_ws)
    server = send_ws.server
    assert server.rcpt_attempts["citra@gamma.example.com"] == 3
    assert len(server.to("citra@gamma.example.com")) == 1
    assert server.recipients() == sorted(PROSPECTS)
    assert counts(status(send_ws)) == expected()
    row = outbox_rows(send_ws)["citra@gamma.example.com"]
    assert (row.state, row.attempts) == ("sent", 3)
    with Session(send_ws.engine()) as s:
        assert s.scalar(select(func.count()).select_from(Suppression)) == 0


def test_temporary_failure_gives_up_after_the_attempts(send_ws: SendWorkspace) -> None:
    send_ws.server.fail_rcpt("citra@gamma.example.com", TRY_LATER)
    build(send_ws)
    send(send_ws)
    assert send_ws.server.rcpt_attempts["citra@gamma.example.com"] == 3  # retry: attempts: 3
    assert counts(status(send_ws)) == expected(sent=3, failed=1)
    row = outbox_rows(send_ws)["citra@gamma.example.com"]
    assert row.state == "failed"
    assert (row.last_error or "").startswith("gave up after 3 attempts: 451")
    with Session(send_ws.engine()) as s:
        assert s.get(Suppression, "citra@gamma.example.com") is None  # the address is not dead


def test_connection_lost_after_data_is_retried(send_ws: SendWorkspace) -> None:
    send_ws.server.drop_after_data = 1
    build(send_ws)
    send(send_ws)
    server = send_ws.server
    assert len(server.dropped) == 1
    assert server.recipients() == sorted(PROSPECTS)  # the dropped one arrived on a retry, once
    assert counts(status(send_ws)) == expected()


def test_relay_down_is_an_error_and_rows_stay_queued(send_ws: SendWorkspace, monkeypatch,  # type: ignore[no-untyped-def]
                                                      closed_port: int) -> None:
    build(send_ws)
    port = closed_port  # nothing listens there
    monkeypatch.setenv("OUTREACH_SMTP_PORT", str(port))
    result = send_ws.run("campaign", "send", "promo", "--yes")
    assert result.exit_code == 1
    err = result.stderr.splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"Error: cannot connect to SMTP relay 127.0.0.1:{port}")
    assert err[0].endswith("; unsent messages stay queued")
    data = status(send_ws)
    assert (data["queued"], data["sent"], data["failed"], data["uncertain"]) == (4, 0, 0, 0)
    assert {r.state for r in outbox_rows(send_ws).values()} == {"queued"}
    # and once the relay is back, everything goes, once
    monkeypatch.setenv("OUTREACH_SMTP_PORT", str(send_ws.server.port))
    send(send_ws)
    assert send_ws.server.recipients() == sorted(PROSPECTS)


# -- what is checked before anything is written or sent ------------------------------------


def test_template_error_at_build_writes_nothing(send_ws: SendWorkspace) -> None:
    body = "{% if contact.city == 'Bandung' %}{{ contact.nickname }}{% endif %}\n"
    md = write(send_ws.root / "campaigns" / "broken.md", f"---\nsubject: Halo\n---\n{body}")
    write(send_ws.root / "campaigns" / "broken.yaml", "segment: prospects\ncontent: broken.md\nsender: awang\n")
    result = send_ws.run("campaign", "build", "broken")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: campaign broken: the content does not render for 1 of 4 recipient(s); nothing was written:\n"
        "  campaigns/broken.md:4: undefined variable `contact.nickname` (contact has no field `nickname`)"
        " — 1 of 4 recipients: citra@gamma.example.com\n"
    )
    assert md.is_file()
    with Session(send_ws.engine()) as s:
        assert s.scalar(select(func.count()).select_from(Outbox)) == 0
    result = send_ws.run("campaign", "status", "broken")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: campaign 'broken' has not been built yet")


def test_syntax_error_in_content_at_build(send_ws: SendWorkspace) -> None:
    md = write(send_ws.root / "campaigns" / "broken.md", "---\nsubject: Halo\n---\nA\n\nB {{ contact.first_name }\n")
    write(send_ws.root / "campaigns" / "broken.yaml", "segment: prospects\ncontent: broken.md\nsender: awang\n")
    result = send_ws.run("campaign", "build", "broken")
    assert result.exit_code == 1
    assert result.stderr == (  # the build's lint gate: every lint error, each at its file and line
        "Error: campaign broken was not built: its content has 1 lint error; nothing was written. Fix them and build "
        "again:\n  campaigns/broken.md:6: error: template syntax error in body: unexpected '}'\n")
    assert md.is_file()


def test_bad_campaign_file(send_ws: SendWorkspace) -> None:
    path = write(send_ws.root / "campaigns" / "bad.yaml", "segment: prospects\ncontent: promo.md\nsender: budi\n")
    result = send_ws.run("campaign", "build", "bad")
    assert result.exit_code == 1
    assert result.stderr == f"Error: {path}, line 3: unknown sender 'budi' (senders: awang, sari)\n"
    result = send_ws.run("campaign", "build", "nope")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: campaign 'nope' not found: no ")


def test_unbuilt_campaign_cannot_be_sent(send_ws: SendWorkspace) -> None:
    result = send_ws.run("campaign", "send", "promo", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: campaign 'promo' has not been built yet; run `outreach campaign build promo` first\n")


# -- lifecycle -----------------------------------------------------------------------


def test_pause_resume_cancel(send_ws: SendWorkspace) -> None:
    build(send_ws)
    result = send_ws.run("campaign", "pause", "promo")
    assert (result.exit_code, result.stdout) == (0, "Campaign promo: paused\n")
    assert status(send_ws)["state"] == "paused"
    result = send_ws.run("campaign", "send", "promo", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: campaign promo is paused (paused by a user); run `outreach campaign resume promo` first\n"
    )
    assert send_ws.server.received == []

    result = send_ws.run("campaign", "resume", "promo")
    assert (result.exit_code, result.stdout) == (0, "Campaign promo: built\n")
    result = send_ws.run("campaign", "resume", "promo")
    assert result.exit_code == 1
    assert result.stderr == "Error: campaign promo is not paused (it is built)\n"

    result = send_ws.run("campaign", "cancel", "promo")
    assert (result.exit_code, result.stdout) == (0, "Campaign promo: cancelled\n")
    data = status(send_ws)
    assert (data["state"], data["queued"], data["sent"], data["cancelled"]) == ("cancelled", 0, 0, 4)
    result = send_ws.run("campaign", "send", "promo", "--yes")
    assert result.exit_code == 0
    assert result.stdout == "Campaign promo: nothing queued (0 sent, state cancelled)\n"
    assert send_ws.server.received == []
    for action in ("resume", "pause"):
        result = send_ws.run("campaign", action, "promo")
        assert result.exit_code == 1
        assert result.stderr == f"Error: campaign promo is cancelled; it cannot be {action}d\n"
    result = send_ws.run("campaign", "build", "promo")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: campaign promo was cancelled")


def test_done_campaign_cannot_be_paused_or_cancelled(send_ws: SendWorkspace) -> None:
    build(send_ws)
    send(send_ws)
    result = send_ws.run("campaign", "pause", "promo")
    assert result.exit_code == 1
    assert result.stderr == "Error: campaign promo is done; there is nothing to pause\n"
    result = send_ws.run("campaign", "cancel", "promo")  # it used to relabel a finished campaign "cancelled"
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "Error: campaign promo is done; there is nothing to cancel\n"
    data = status(send_ws)
    assert (data["state"], data["sent"], data["cancelled"]) == ("done", 4, 0)


# -- hostile data in the database ----------------------------------------------------------


def test_line_breaks_in_contact_data_cannot_inject_headers(send_ws: SendWorkspace) -> None:
    write(send_ws.root / "campaigns" / "halo.md",
          "---\nsubject: \"Halo {{ contact.first_name }} dari {{ contact.company }}\"\n---\n"
          "Halo {{ contact.first_name }}.\n")  # fmt: skip
    write(send_ws.root / "campaigns" / "halo.yaml",
          "segment: prospects\ncontent: halo.md\nsender: awang\nthrottle: {rate: 1000/s}\n")  # fmt: skip
    evil = "Ani\r\nBcc: victim@evil.example\r\n\r\n<script>"
    with transaction(send_ws.engine()) as s:
        s.execute(update(Contact).where(Contact.email == "ani@alpha.example.com").values(first_name=evil))
    build(send_ws, "halo")
    send(send_ws, "halo")
    server = send_ws.server
    assert server.recipients() == sorted(PROSPECTS)
    assert server.rcpt_attempts["victim@evil.example"] == 0
    (rec,) = server.to("ani@alpha.example.com")
    msg = rec.message
    assert "Bcc" not in msg
    assert msg["Subject"] == "Halo Ani Bcc: victim@evil.example <script> dari PT Alpha Teknik"
    assert msg["To"].addresses[0].addr_spec == "ani@alpha.example.com"
    assert len(msg["To"].addresses) == 1
    assert msg.get_content_type() == "multipart/alternative"
    assert "&lt;script&gt;" in msg.get_body(("html",)).get_content()


def test_a_crash_mid_transaction_leaves_uncertain_and_resends_only_on_request(send_ws: SendWorkspace) -> None:
    """A row left `sending` by a dead worker (lease expired) is never resent silently."""
    build(send_ws)
    past = utcnow() - timedelta(hours=1)
    with transaction(send_ws.engine()) as s:
        s.execute(
            update(Outbox)
            .where(Outbox.email == "citra@gamma.example.com")
            .values(state="sending", attempts=1, lease_owner="dead-worker", lease_expires_at=past)
        )
    result = send_ws.run("campaign", "send", "promo", "--yes")
    assert result.exit_code == 0, result.output
    sent, took = result.stdout.splitlines()
    m = SENT_LINE.match(sent)
    assert m and m["sent"] == "3", result.stdout
    assert took == ("Campaign promo: took over 1 message(s) from a sender that stopped: 0 queued again, 1 uncertain "
                    "(the relay may have them; `outreach campaign resend-uncertain` sends them again)")  # fmt: skip
    assert "citra@gamma.example.com" not in send_ws.server.recipients()
    data = status(send_ws)
    assert (data["sent"], data["uncertain"], data["queued"]) == (3, 1, 0)

    result = send_ws.run("campaign", "resend-uncertain", "promo")
    assert result.exit_code == 0
    assert result.stdout == (
        "Campaign promo: 1 uncertain message(s) queued again; run `outreach campaign send promo`\n"
    )
    send(send_ws)
    assert send_ws.server.recipients() == sorted(PROSPECTS)
    assert counts(status(send_ws)) == expected()


def test_content_edited_after_build_is_checked_before_anything_is_sent(send_ws: SendWorkspace) -> None:
    build(send_ws)
    md = send_ws.root / "campaigns" / "promo.md"
    md.write_text(md.read_text(encoding="utf-8") + "\nP.S. {{ contact.nickname }}\n", encoding="utf-8")
    result = send_ws.run("campaign", "send", "promo", "--yes")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: campaign promo: the content does not render for 4 of 4 recipient(s); nothing was sent:\n"
        "  campaigns/promo.md:15: undefined variable `contact.nickname` (contact has no field `nickname`)"
        " — 4 of 4 recipients: ani@alpha.example.com, budi@beta.example.com, citra@gamma.example.com and 1 more\n"
    )
    assert send_ws.server.received == []
    data = status(send_ws)
    assert (data["queued"], data["sent"]) == (4, 0)
