"""Unit tests of inbound classification on small hand-written, realistic messages.

Every sample under tests/data/inbound has its whole Classification spelled out,
so a change in any field (not just ``kind``) shows up here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from pathlib import Path

import pytest

from outreach.tracking.autoreply import return_date
from outreach.tracking.classify import Classification, classify_message
from outreach.tracking.dsn import find_status
from outreach.tracking.message import readable_text
from outreach.tracking.reasons import decide, is_hard
from outreach.tracking.replies import trim_reply

INBOUND = Path(__file__).parents[1] / "data" / "inbound"
ANDI = ("andi@contoh-solusi.co.id",)


def load(name: str) -> bytes:
    return (INBOUND / name).read_bytes()


EXPECTED: dict[str, Classification] = {
    "reply_gmail_en.eml": Classification(
        kind="reply",
        reply_text="Hi Andi,\n\nThanks for reaching out. Thursday at 2pm works for us, please send"
        " an invite.\n\nBest,\nBudi",
        message_id="CAGx7Qk9zq1=ReplyEn@mail.gmail.com",
        from_address="budi.santoso@pt-maju.co.id",
        subject="Re: Quick question about your logistics stack",
        related_ids=("abc123@contoh-solusi.co.id", "abc000@contoh-solusi.co.id"),
        envelope_recipients=ANDI,
    ),
    "reply_gmail_id.eml": Classification(
        kind="reply",
        reply_text="Selamat pagi Pak Andi,\n\nTerima kasih atas penawarannya. Kami tertarik, mohon"
        " dikirimkan proposal lengkap beserta daftar harga.\n\nSalam,\nSiti",
        message_id="CAHb2Lx7Balas@mail.gmail.com",
        from_address="siti.rahayu@sinar-abadi.co.id",
        subject="Bls: Penawaran kerja sama – Sinar Abadi",
        related_ids=("abc124@contoh-solusi.co.id",),
        envelope_recipients=ANDI,
    ),
    "reply_outlook_en.eml": Classification(
        kind="reply",
        reply_text="Hello Andi,\n\nWe already have a provider under contract until March. Please"
        " reach out again in Q2.\n\nRegards,\nRina Kusuma\nProcurement Lead",
        message_id="SG2PR01MB1234ABCD@SG2PR01MB1234.apcprd01.prod.outlook.com",
        from_address="rina.kusuma@nusantara-retail.com",
        subject="RE: Quick question about your logistics stack",
        related_ids=("abc125@contoh-solusi.co.id",),
        envelope_recipients=ANDI,
    ),
    "reply_outlook_id.eml": Classification(
        kind="reply",
        reply_text="Pak Andi,\n\nUntuk saat ini kami belum membutuhkan. Silakan hubungi kami"
        " kembali tahun depan.\n\nHormat kami,\nHendra",
        message_id="00a101d9ffee$12345678$9abcdef0@mitra-teknik.id",
        from_address="hendra@mitra-teknik.id",
        subject="Balas: Penawaran kerja sama",
        envelope_recipients=ANDI,
    ),
    "reply_iphone_en.eml": Classification(
        kind="reply",
        reply_text="Not interested, thanks.",
        message_id="6F1C0B2E-1D2A-4C3B-9E8F-ABCDEF123456@harbour-freight.com.au",
        from_address="tom.h@harbour-freight.com.au",
        subject="Re: Quick question about your logistics stack",
        related_ids=("abc126@contoh-solusi.co.id",),
        envelope_recipients=ANDI,
    ),
    "reply_iphone_id.eml": Classification(
        kind="reply",
        reply_text="Boleh Pak, kita jadwalkan hari Kamis jam 10.",
        message_id="A1B2C3D4-E5F6-4711-8899-0011223344AA@kopi-nusantara.id",
        from_address="dewi@kopi-nusantara.id",
        subject="Re: Penawaran kerja sama",
        related_ids=("abc127@contoh-solusi.co.id",),
        envelope_recipients=ANDI,
    ),
    "reply_android_id.eml": Classification(
        kind="reply",
        reply_text="Oke, tolong kirim brosurnya ke email ini.",
        message_id="android.1234567890@gmail.com",
        from_address="agus.salim@gmail.com",
        subject="Re: Penawaran kerja sama",
        related_ids=("abc128@contoh-solusi.co.id",),
        envelope_recipients=ANDI,
    ),
    "reply_html_only.eml": Classification(
        kind="reply",
        reply_text="Hi Andi, please call me tomorrow & we'll talk.\n\nMaya",
        message_id="html-only-001@studio-kreatif.id",
        from_address="maya@studio-kreatif.id",
        subject="Re: Quick question",
        related_ids=("abc129@contoh-solusi.co.id", "abc100@contoh-solusi.co.id"),
        envelope_recipients=ANDI,
    ),
    "ooo_en_date.eml": Classification(
        kind="auto_reply",
        reply_text="Thank you for your email.\n\nI am out of the office until 5 December 2026 with"
        " limited access to email.\nI will be back on Tuesday, 8 December 2026. For urgent"
        " matters please contact\noperations@orchard-holdings.sg.\n\nKind regards,\nSarah",
        message_id="SI2PR06MB5555OOO@SI2PR06MB5555.apcprd06.prod.outlook.com",
        from_address="sarah.lim@orchard-holdings.sg",
        subject="Automatic reply: Quick question about your logistics stack",
        related_ids=("abc130@contoh-solusi.co.id",),
        envelope_recipients=ANDI,
        return_date=dt.date(2026, 12, 8),
    ),
    "ooo_en_nodate.eml": Classification(
        kind="auto_reply",
        reply_text="Hello,\n\nI'm currently out of the office and will respond to your message as"
        " soon as possible.\n\nJames",
        message_id="ooo-nodate-1@pacific-metal.com.my",
        from_address="james.tan@pacific-metal.com.my",
        subject="Out of Office: Quick question about your logistics stack",
        envelope_recipients=ANDI,
    ),
    "ooo_id_date.eml": Classification(
        kind="auto_reply",
        reply_text="Terima kasih atas email Anda.\n\nSaya sedang cuti s.d. 5 Desember dan akan"
        " kembali pada 8 Desember.\nUntuk keperluan mendesak silakan hubungi"
        " admin@baja-prima.co.id.\n\nSalam,\nRudi",
        message_id="ooo-id-1@baja-prima.co.id",
        from_address="rudi@baja-prima.co.id",
        subject="Balasan otomatis: Penawaran kerja sama",
        related_ids=("abc131@contoh-solusi.co.id",),
        envelope_recipients=ANDI,
        return_date=dt.date(2026, 12, 8),
    ),
    "ooo_id_nodate.eml": Classification(
        kind="auto_reply",
        reply_text="Terima kasih, saat ini saya sedang tidak berada di kantor dan akses email"
        " terbatas.\nEmail Anda akan saya balas secepatnya.\n\nLina",
        message_id="ooo-id-2@griya-properti.id",
        from_address="lina@griya-properti.id",
        subject="Re: Penawaran kerja sama",
        related_ids=("abc132@contoh-solusi.co.id",),
        envelope_recipients=ANDI,
    ),
    "ooo_id_numeric.eml": Classification(
        kind="auto_reply",
        reply_text="Yth. Bapak/Ibu,\n\nSaya sedang dinas luar kota sampai tanggal 05/12/2026 dan"
        " akan membalas email Anda setelahnya.\n\nTerima kasih.",
        message_id="ooo-id-3@sentosa-logistik.co.id",
        from_address="yusuf@sentosa-logistik.co.id",
        subject="Di luar kantor",
        envelope_recipients=ANDI,
        return_date=dt.date(2026, 12, 5),
    ),
    "dsn_511_user_unknown.eml": Classification(
        kind="bounce",
        hard=True,
        reason="user_unknown",
        status="5.1.1",
        recipients=("joko.widodo@pt-maju.co.id",),
        message_id="20261126031602.4F2A1C0123@mail.contoh-solusi.co.id",
        from_address="mailer-daemon@mail.contoh-solusi.co.id",
        subject="Undelivered Mail Returned to Sender",
        related_ids=("abc123@contoh-solusi.co.id",),
        envelope_recipients=("bounce+c42-s7@mail.contoh-solusi.co.id",),
        stage="rcpt",
    ),
    "dsn_571_spam.eml": Classification(
        kind="bounce",
        hard=False,
        reason="spam",
        status="5.7.1",
        recipients=("eko.prasetyo@gmail.com",),
        message_id="5f3a2b1c.050a0220.abcdef.0001.GMR@mx.google.com",
        from_address="mailer-daemon@googlemail.com",
        subject="Delivery Status Notification (Failure)",
        related_ids=("abc200@contoh-solusi.co.id",),
        envelope_recipients=("bounce+c43-s1@mail.contoh-solusi.co.id",),
    ),
    "dsn_422_mailbox_full.eml": Classification(
        kind="bounce",
        hard=False,
        reason="mailbox_full",
        status="4.2.2",
        recipients=("wati@sinar-abadi.co.id",),
        message_id="ndr-422@sinar-abadi.co.id",
        from_address="postmaster@sinar-abadi.co.id",
        subject="Undeliverable: Penawaran kerja sama",
        related_ids=("abc201@contoh-solusi.co.id",),
        envelope_recipients=("bounce+c44-s2@mail.contoh-solusi.co.id",),
    ),
    "dsn_delayed.eml": Classification(
        kind="other",
        reason="delayed",
        status="4.4.1",
        recipients=("ratna@toko-sejahtera.id",),
        message_id="20261126072000.77AA0C0456@mail.contoh-solusi.co.id",
        from_address="mailer-daemon@mail.contoh-solusi.co.id",
        subject="Delayed Mail (still being retried)",
        related_ids=("abc202@contoh-solusi.co.id",),
        envelope_recipients=("bounce+c45-s1@mail.contoh-solusi.co.id",),
    ),
    "bounce_text_unparsed.eml": Classification(
        kind="bounce",
        hard=False,
        reason="suspended",  # "mailbox unavailable (account disabled)": alive, soft
        recipients=("bambang@kantor-pusat.go.id",),
        message_id="returned-0001@kantor-pusat.go.id",
        from_address="postmaster@kantor-pusat.go.id",
        subject="Returned mail: see transcript for details",
        related_ids=("abc204@contoh-solusi.co.id",),
        envelope_recipients=("bounce+c47-s1@mail.contoh-solusi.co.id",),
    ),
    "bounce_o365_recipient_not_found.eml": Classification(
        kind="bounce",
        hard=True,
        reason="user_unknown",
        status="5.1.10",
        recipients=("rudi@klien.co.id",),
        message_id="ndr-o365@klien.onmicrosoft.com",
        from_address="mailer-daemon@klien.onmicrosoft.com",
        subject="Undeliverable: Penawaran kerja sama",
        related_ids=("abc300@contoh-solusi.co.id",),
        envelope_recipients=("bounce+c48-s1@mail.contoh-solusi.co.id",),
    ),
    "bounce_exim_failed_recipients.eml": Classification(
        kind="bounce",
        hard=True,
        reason="user_unknown",  # the returned Subject mentions "spam" and "policy": ignored
        status="5.1.1",
        recipients=("nobody@klien.co.id",),
        message_id="E1abc-000123-AB@mx.contoh-solusi.co.id",
        from_address="mailer-daemon@mx.contoh-solusi.co.id",
        subject="Mail delivery failed: returning message to sender",
        related_ids=("abc301@contoh-solusi.co.id",),
        envelope_recipients=("bounce+c49-s1@mail.contoh-solusi.co.id",),
        stage="rcpt",
    ),
    "bounce_qmail.eml": Classification(
        kind="bounce",
        hard=True,
        reason="user_unknown",
        status="5.1.1",
        recipients=("siti@klien.co.id",),
        from_address="mailer-daemon@mail.klien.co.id",
        subject="failure notice",
        related_ids=("abc302@contoh-solusi.co.id",),
        envelope_recipients=("bounce+c50-s1@mail.contoh-solusi.co.id",),
    ),
    "arf_complaint.eml": Classification(
        kind="complaint",
        reason="abuse",
        recipients=("fajar.nugroho@yahoo.co.id",),
        message_id="arf-20261126-0001@arf.mail.yahoo.com",
        from_address="feedback@arf.mail.yahoo.com",
        subject="FW: Penawaran kerja sama",
        related_ids=("abc203@contoh-solusi.co.id",),
        envelope_recipients=("fbl@contoh-solusi.co.id",),
    ),
    "unsubscribe_token.eml": Classification(
        kind="unsubscribe",
        message_id="unsub-1@warung-digital.id",
        from_address="hadi@warung-digital.id",
        subject="unsubscribe 42-7-Q2hhbmdlTWVQbGVhc2U_x",
        envelope_recipients=("unsubscribe@contoh-solusi.co.id",),
        unsubscribe_token="42-7-Q2hhbmdlTWVQbGVhc2U_x",
    ),
    "unsubscribe_body_id.eml": Classification(
        kind="unsubscribe",
        message_id="unsub-2@butik-cantik.id",
        from_address="nina@butik-cantik.id",
        subject="Re: Penawaran kerja sama",
        related_ids=("abc205@contoh-solusi.co.id",),
        envelope_recipients=ANDI,
    ),
    "malformed_mime.eml": Classification(kind="other", reason="malformed", subject="ÿþ broken"),
    "invalid_charset.eml": Classification(
        kind="reply",
        reply_text="Terima kasih, harga été sudah kami terima ÿþ.",
        message_id="charset-1@contoh-klien.id",
        from_address="wahyu@contoh-klien.id",
        subject="Re: Penawaran été",
        related_ids=("abc206@contoh-solusi.co.id",),
        envelope_recipients=ANDI,
    ),
    "header_injection.eml": Classification(
        kind="reply",
        reply_text="Thanks.",
        message_id="inject-1@evil.test",
        from_address="attacker@evil.test",
        subject="Re: hello Bcc: victim@evil.test injected",
        related_ids=("abc207@contoh-solusi.co.id",),
        envelope_recipients=ANDI,
    ),
    "plain_other.eml": Classification(
        kind="other",
        message_id="newsletter-1@vendor-lain.com",
        from_address="news@vendor-lain.com",
        subject="New features this month",
        envelope_recipients=ANDI,
    ),
}


def test_every_sample_has_an_expectation() -> None:
    assert sorted(p.name for p in INBOUND.glob("*.eml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_classification(name: str) -> None:
    """Every field but the per-recipient details and the reply's intent, which the next tests spell out."""
    assert dataclasses.replace(classify_message(load(name)), failures=(), intent=None) == EXPECTED[name]


REPLY_INTENTS = {
    "header_injection.eml": "other", "invalid_charset.eml": "other", "reply_android_id.eml": "interested",
    "reply_gmail_en.eml": "meeting", "reply_gmail_id.eml": "interested", "reply_html_only.eml": "interested",
    "reply_iphone_en.eml": "not_interested", "reply_iphone_id.eml": "meeting",
    "reply_outlook_en.eml": "not_interested", "reply_outlook_id.eml": "not_interested",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_intent(name: str) -> None:
    """Replies, and only replies, carry an intent, read from their own words."""
    result = classify_message(load(name))
    assert (result.intent.name if result.intent else None) == REPLY_INTENTS.get(name)


FAILURES = {
    "dsn_511_user_unknown.eml": [("joko.widodo@pt-maju.co.id", "failed", "user_unknown", True, "5.1.1", "rcpt")],
    "dsn_571_spam.eml": [("eko.prasetyo@gmail.com", "failed", "spam", False, "5.7.1", None)],
    "dsn_422_mailbox_full.eml": [("wati@sinar-abadi.co.id", "failed", "mailbox_full", False, "4.2.2", None)],
    "dsn_delayed.eml": [("ratna@toko-sejahtera.id", "delayed", "network", False, "4.4.1", None)],
    "bounce_text_unparsed.eml": [("bambang@kantor-pusat.go.id", "failed", "suspended", False, None, None)],
    "bounce_o365_recipient_not_found.eml": [("rudi@klien.co.id", "failed", "user_unknown", True, "5.1.10", None)],
    "bounce_exim_failed_recipients.eml": [("nobody@klien.co.id", "failed", "user_unknown", True, "5.1.1", "rcpt")],
    "bounce_qmail.eml": [("siti@klien.co.id", "failed", "user_unknown", True, "5.1.1", None)],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FAILURES))
def test_sample_failures(name: str) -> None:
    failures = classify_message(load(name)).failures
    assert [(f.address, f.action, f.reason, f.hard, f.status, f.stage) for f in failures] == FAILURES[name]


# --------------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "raw",
    [b"", b"   \r\n", b"\x00\x01\x02\xff", b"no headers at all", "ä".encode() * 50,
     b"Content-Type: multipart/mixed; boundary=\"a\"\n\n--a\n--a--"],
)  # fmt: skip
def test_garbage_is_malformed_not_an_error(raw: bytes) -> None:
    assert classify_message(raw) == Classification(kind="other", reason="malformed")


def test_nul_in_charset_name_is_survived() -> None:
    raw = b'From: a@x.id\nSubject: Re: x\nContent-Type: text/plain; charset="\x00"\n\nOk \xff\n'
    result = classify_message(raw)
    assert (result.kind, result.reply_text) == ("reply", "Ok ÿ")  # cp1252 fallback


def test_not_bytes_is_malformed() -> None:
    assert classify_message("From: a@b.c\n\nhi").reason == "malformed"  # type: ignore[arg-type]


def test_header_injection_stays_on_one_line() -> None:
    result = classify_message(load("header_injection.eml"))
    assert "\r" not in (result.subject or "") and "\n" not in (result.subject or "")
    assert all(" " not in i for i in result.related_ids)


def test_random_mutations_never_raise() -> None:
    rng = random.Random(20261126)
    samples = [load(name) for name in sorted(EXPECTED)]
    for _ in range(150):
        data = bytearray(rng.choice(samples))
        for _ in range(rng.randint(1, 12)):
            i = rng.randrange(len(data))
            data[i : i + rng.randint(0, 40)] = rng.choice(
                [b"\r\n", b"--", b"\x00", b"=?x?q?=FF?=", b"boundary=", bytes([rng.randrange(256)])]
            )
        assert classify_message(bytes(data)).kind in {
            "bounce", "complaint", "reply", "auto_reply", "unsubscribe", "other"
        }  # fmt: skip


def test_ten_megabyte_message_is_fast() -> None:
    line = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\n"
    body = b"Thanks, see you Thursday.\n\n" + line * (10 * 1024 * 1024 // len(line))
    raw = (
        b"From: Big Sender <big@pt-maju.co.id>\nTo: andi@contoh-solusi.co.id\n"
        b"Subject: Re: Penawaran\nMessage-ID: <big@pt-maju.co.id>\n"
        b"In-Reply-To: <abc123@contoh-solusi.co.id>\nContent-Type: text/plain\n\n" + body
    )
    assert len(raw) > 10 * 1024 * 1024
    result = classify_message(raw)  # a regex that backtracks on this would run into the suite's timeout
    assert result.kind == "reply"
    assert result.related_ids == ("abc123@contoh-solusi.co.id",)
    assert result.reply_text is not None and result.reply_text.startswith("Thanks, see you")
    assert len(result.reply_text) <= 200_000


def test_ten_megabyte_bounce_is_fast() -> None:
    attachment = b"QUJD" * (10 * 1024 * 1024 // 4)
    raw = (
        b"From: MAILER-DAEMON@mx.pt-maju.co.id\nTo: bounce@contoh-solusi.co.id\n"
        b"Subject: Undelivered Mail Returned to Sender\n"
        b'Content-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\n'
        b"<joko@pt-maju.co.id>: host mx said: 550 5.1.1 User unknown\n\n--B\n"
        b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n"
        + attachment
        + b"\n--B--\n"
    )
    result = classify_message(raw)  # a regex that backtracks on this would run into the suite's timeout
    assert (result.kind, result.hard, result.reason, result.status) == (
        "bounce", True, "user_unknown", "5.1.1"
    )  # fmt: skip


# --------------------------------------------------------------------------- JSON


def test_to_json_has_the_contract_keys_first_in_order() -> None:
    result = classify_message(load("dsn_511_user_unknown.eml"))
    assert result.to_json("dsn.eml") == {
        "file": "dsn.eml",
        "kind": "bounce",
        "hard": True,
        "reason": "user_unknown",
        "status": "5.1.1",
        "recipients": ["joko.widodo@pt-maju.co.id"],
        "reply_text": None,
        "intent": None,
        "stage": "rcpt",
        "category": "dead",
        "failures": [{"address": "joko.widodo@pt-maju.co.id", "action": "failed", "reason": "user_unknown",
                      "hard": True, "status": "5.1.1", "stage": "rcpt", "category": "dead"}],
        "intent_detail": None,
    }
    # the contract's keys first, in its order; the per-recipient details after them
    assert list(result.to_json("x")) == [
        "file", "kind", "hard", "reason", "status", "recipients", "reply_text", "intent", "stage", "category",
        "failures", "intent_detail",
    ]  # fmt: skip


# --------------------------------------------------------------------------- decisions


def _mail(headers: str, body: str = "Hello.\n") -> bytes:
    return (headers.strip() + "\nContent-Type: text/plain; charset=utf-8\n\n" + body).encode()


@pytest.mark.parametrize(
    ("headers", "kind"),
    [
        ("From: a@x.id\nSubject: Hello\nAuto-Submitted: auto-replied", "auto_reply"),
        ("From: a@x.id\nSubject: Hello\nAuto-Submitted: no\nIn-Reply-To: <m@y>", "reply"),
        ("From: a@x.id\nSubject: Hello\nX-Autorespond: yes", "auto_reply"),
        ("From: a@x.id\nSubject: Hello\nX-Autoreply: yes", "auto_reply"),
        ("From: a@x.id\nSubject: Hello\nPrecedence: bulk", "auto_reply"),
        ("From: a@x.id\nSubject: Hello\nPrecedence: junk", "auto_reply"),
        ("From: a@x.id\nSubject: Hello\nPrecedence: list", "other"),
        ("From: a@x.id\nSubject: Auto-Reply: Hello", "auto_reply"),
        ("From: a@x.id\nSubject: Autoreply", "auto_reply"),
        ("From: a@x.id\nSubject: OOF: Hello\nX-Auto-Response-Suppress: All", "auto_reply"),
        ("From: a@x.id\nSubject: OOF: Hello", "other"),
        ("From: a@x.id\nSubject: Re: Hello", "reply"),
        ("From: a@x.id\nSubject: Bls: Halo", "reply"),
        ("From: a@x.id\nSubject: Balas: Halo", "reply"),
        ("From: a@x.id\nSubject: Hello\nReferences: <a@y> <b@y>", "reply"),
        ("From: a@x.id\nSubject: Hello", "other"),
        ("From: a@x.id\nSubject: UNSUBSCRIBE", "unsubscribe"),
        ("From: a@x.id\nSubject: Re: unsubscribe", "reply"),
    ],
)
def test_decision_order(headers: str, kind: str) -> None:
    assert classify_message(_mail(headers)).kind == kind


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("I am out of the office this week.\n", "auto_reply"),
        ("Saya sedang cuti, email akan dibalas nanti.\n", "auto_reply"),
        ("Saat ini saya di luar kantor.\n", "auto_reply"),
        ("Mohon maaf, saya tidak di kantor.\n", "auto_reply"),
        ("I'm on leave until Monday 7 December.\n", "auto_reply"),
        ("I was on leave last week, sorry for the slow answer. Yes, let's talk.\n", "reply"),
        ("unsubscribe\n\n> earlier mail\n", "unsubscribe"),
        ("  Berhenti berlangganan.  \n", "unsubscribe"),
        ("Please unsubscribe my colleague, not me.\n", "reply"),
    ],
)
def test_body_wording(body: str, kind: str) -> None:
    headers = "From: a@x.id\nSubject: Re: Penawaran\nIn-Reply-To: <abc@contoh-solusi.co.id>"
    assert classify_message(_mail(headers, body)).kind == kind


@pytest.mark.parametrize(
    ("subject", "token"),
    [
        ("unsubscribe 42-7-Q2hhbmdlTWVQbGVhc2U_x", "42-7-Q2hhbmdlTWVQbGVhc2U_x"),
        ("Unsubscribe: tok.en_12", "tok.en_12"),
        ("unsubscribe", None),
        ("unsubscribe me", None),
        ("Unsubscribe me please", None),
        ("unsubscribe abcdefgh", "abcdefgh"),
    ],
)
def test_unsubscribe_token(subject: str, token: str | None) -> None:
    result = classify_message(_mail(f"From: a@x.id\nSubject: {subject}"))
    assert (result.kind, result.unsubscribe_token) == ("unsubscribe", token)


def test_complaint_not_spam_feedback_is_not_a_complaint() -> None:
    raw = load("arf_complaint.eml").replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")
    result = classify_message(raw)
    assert (result.kind, result.reason) == ("other", "not-spam")


def test_complaint_without_original_rcpt_to_uses_returned_to() -> None:
    raw = load("arf_complaint.eml").replace(b"Original-Rcpt-To: Fajar.Nugroho@yahoo.co.id\n", b"")
    assert classify_message(raw).recipients == ("fajar.nugroho@yahoo.co.id",)


def test_dsn_with_only_delivered_actions_is_not_a_bounce() -> None:
    raw = load("dsn_delayed.eml").replace(b"Action: delayed", b"Action: delivered")
    raw = raw.replace(b"Status: 4.4.1", b"Status: 2.0.0")
    result = classify_message(raw)
    assert (result.kind, result.reason, result.hard) == ("other", None, False)


def test_human_reply_from_a_postmaster_is_still_a_reply() -> None:
    raw = _mail(
        "From: Postmaster <postmaster@pt-maju.co.id>\nSubject: Re: Penawaran\n"
        "In-Reply-To: <abc@contoh-solusi.co.id>",
        "Sure, send the brochure.\n",
    )
    assert classify_message(raw).kind == "reply"


# --------------------------------------------------------------------------- reasons


@pytest.mark.parametrize(
    ("status", "text", "stage", "reason", "hard"),
    [
        ("5.1.1", "550 5.1.1 <x@y>: Recipient address rejected: User unknown", None, "user_unknown", True),
        ("5.1.1", "550 5.1.1 <x@y>: Recipient address rejected: User unknown", "rcpt", "user_unknown", True),
        # accepted at RCPT, refused after DATA: a content or policy filter, never a dead address
        ("5.1.1", "550 5.1.1 <x@y>: User unknown", "end_of_data", "filtered", False),
        (None, "554 Rcpt <x@y> does not exist", "data", "filtered", False),
        ("5.1.0", "550 5.1.0 Address rejected", None, "user_unknown", True),
        ("5.1.6", "550 5.1.6 Recipient mailbox moved", None, "has_moved", True),
        ("5.2.1", "550 5.2.1 The email account that you tried to reach is disabled", None, "suspended", False),
        (None, "550 [SUSPEND] Mailbox currently suspended", None, "suspended", False),
        ("5.4.1", "550 5.4.1 Recipient address rejected: Access denied", None, "user_unknown", True),
        ("5.1.2", "Host or domain name not found. Name service error", None, "host_unknown", True),
        ("4.4.3", "Host or domain name not found. Name service error for name=x type=MX: Host not found, "
         "try again", None, "network", False),
        ("5.1.10", "556 5.1.10 Recipient address has null MX", None, "not_accept", True),
        ("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
         None, "user_unknown", True),
        ("5.4.4", "Host or domain name not found", None, "host_unknown", True),
        (None, "550 no such user here", None, "user_unknown", True),
        (None, "550 Host unknown: NXDOMAIN", None, "host_unknown", True),
        (None, "Domain example.invalid does not accept mail (nullMX)", None, "not_accept", True),
        ("4.2.2", "452 4.2.2 The email account that you tried to reach is over quota", None, "mailbox_full",
         False),
        ("5.2.2", "552 5.2.2 Mailbox full", None, "mailbox_full", False),
        (None, "552 Requested mail action aborted: exceeded storage allocation", None, "mailbox_full", False),
        ("5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering", None, "spam", False),
        ("5.7.1", "554 5.7.1 Service unavailable; Client host blocked using Spamhaus", None, "blocked", False),
        ("5.7.1", "550 5.7.1 Rejected for policy reasons", None, "policy", False),
        ("5.7.0", "550 5.7.0 Your server IP has poor reputation", None, "bad_reputation", False),
        ("5.7.1", "554 5.7.1 Message content rejected", None, "spam", False),
        ("5.7.1", "552 5.7.0 This message was blocked because it contains a virus", None, "content", False),
        ("5.7.26", "550 5.7.26 Unauthenticated email is not accepted", None, "auth_failure", False),
        ("5.7.1", "550 5.7.1 Email rejected per DMARC policy for example.org", None, "auth_failure", False),
        ("5.1.1", "550 5.1.1 Sender address rejected: Domain not found", None, "sender_rejected", False),
        (None, "550 5.1.1 User unknown", "mail", "sender_rejected", False),
        (None, "554 Access denied", "connection", "blocked", False),
        ("5.7.1", "554 5.7.1 <x@y>: Relay access denied", "rcpt", "relay_denied", False),
        ("4.7.1", "451 4.7.1 Please try again slower", None, "rate_limited", False),
        ("4.7.0", "421 4.7.0 Too many concurrent SMTP connections", None, "too_many_connections", False),
        ("4.4.7", "Delivery time expired", None, "expired", False),
        ("5.4.7", "Message expired after 5 days", None, "expired", False),
        (None, "retry timeout exceeded", None, "expired", False),
        (None, "Message could not be delivered for 5 days", None, "expired", False),
        ("4.1.1", "450 4.1.1 <x@y>: Recipient address rejected: unverified address", None, "other", False),
        ("4.7.1", "421 4.7.1 Try again later, closing connection", None, "blocked", False),
        ("5.3.4", "552 5.3.4 Message size exceeds fixed limit", None, "content", False),
        ("5.0.0", "550 Something unusual happened", None, "other", False),
        ("5.5.0", "550 5.5.0 Syntax error", None, "system", False),
        (None, "Some unknown failure", None, "other", False),
    ],
)  # fmt: skip
def test_reason_mapping(status: str | None, text: str, stage: str | None, reason: str, hard: bool) -> None:
    found = decide(status, text, stage, "failed")
    assert (found, is_hard(found, status, stage)) == (reason, hard)


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("550 5.1.1 user unknown", "5.1.1"),
        ("550-5.7.1 [198.51.100.7] blocked", "5.7.1"),
        ("host 10.5.1.1 said: 550 user unknown", None),
        ("Sorry, no mailbox here by that name. (#5.1.1)", "5.1.1"),
        ("452 4.2.2 over quota", "4.2.2"),
        ("2.0.0 OK", None),
    ],
)
def test_find_status(text: str, status: str | None) -> None:
    assert find_status(text) == status


# --------------------------------------------------------------------------- reply text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Oke.\n\nPada tanggal Sel, 24 Nov 2026 pukul 10.15 Andi <andi@contoh-solusi.co.id>\n"
         "menulis:\n\n> Halo\n", "Oke."),
        ("Siap.\n\n-----Original Message-----\nFrom: Andi\nSent: Tuesday\nTo: Rina\n\nHalo\n",
         "Siap."),
        ("Thanks!\n\nFrom: Andi Wijaya <andi@contoh-solusi.co.id>\nSent: Tuesday, November 24, "
         "2026 10:15 AM\nTo: Rina\nSubject: Hi\n\nHi Rina\n", "Thanks!"),
        ("Deal.\n\nOn Tue, Nov 24, 2026 at 10:15 AM Andi Wijaya <\nandi@contoh-solusi.co.id> "
         "wrote:\n\n> Hi\n", "Deal."),
        ("Ya.\n-- \nBudi Santoso\nDirektur\n", "Ya."),
        ("Ok\n\nSent from my Android\n", "Ok"),
        ("Baik\n\nDikirim dari ponsel cerdas Samsung Galaxy saya.\n", "Baik"),
        ("Baik\n\nDikirim dari Yahoo Mail di Android\n", "Baik"),
        ("> quoted question?\n\nMy answer.\n", "> quoted question?\n\nMy answer."),
    ],
)  # fmt: skip
def test_trim_reply(text: str, expected: str) -> None:
    assert trim_reply(text) == expected


def test_html_blockquote_becomes_quote_lines() -> None:
    html = "<p>Hi &amp; bye</p><blockquote><p>old</p><blockquote>older</blockquote></blockquote>"
    assert readable_text(html) == "Hi & bye\n\n> old\n>\n> > older"


# --------------------------------------------------------------------------- return dates

RECEIVED = dt.date(2026, 11, 26)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I will be back on 3 December 2026.", dt.date(2026, 12, 3)),
        ("I'll return on December 3rd.", dt.date(2026, 12, 3)),
        ("Out of the office until 05/12/2026.", dt.date(2026, 12, 5)),
        ("Away until 12/25/2026.", dt.date(2026, 12, 25)),
        ("Back on Monday, 7 Dec.", dt.date(2026, 12, 7)),
        ("Saya akan kembali pada 3 Desember 2026.", dt.date(2026, 12, 3)),
        ("Saya cuti s.d. 5 Desember.", dt.date(2026, 12, 5)),
        ("Sedang cuti s/d 5 Jan", dt.date(2027, 1, 5)),
        ("Cuti sampai dengan tanggal 10 Nov", dt.date(2027, 11, 10)),
        ("Masuk kantor lagi hari Senin.", dt.date(2026, 11, 30)),
        ("Saya kembali hari Senin.", dt.date(2026, 11, 30)),
        ("Saya kembali minggu depan.", None),
        ("until 2026-12-01", dt.date(2026, 12, 1)),
        ("I'm on leave until 31/02/2026", None),
        ("I was back on 3 March 2020.", None),
        ("No date here at all.", None),
        ("Saya kembali besok pukul 10.15.", None),
        ("Saya kembali tgl. 8 Desember.", dt.date(2026, 12, 8)),
        ("I'll be back. On 5 Dec we will talk.", None),
        ("Back on 8.12.2026", dt.date(2026, 12, 8)),
    ],
)
def test_return_date(text: str, expected: dt.date | None) -> None:
    assert return_date(text, RECEIVED) == expected
