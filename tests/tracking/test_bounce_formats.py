"""The bounce-reading method, one mail system at a time.

Hand-written messages in the layouts each system documents or that Sisimai's
per-MTA readers parse (dma, qmail, Notes/Domino, WorkMail, V5 Sendmail,
Exchange, Office 365, Gmail, Yahoo, OpenSMTPD, GMX, Zoho, McAfee, IMail,
InterScan, Japanese carriers...). They test the rules, not a score: the
measured corpora are the real ones under tests/data (see test_classify_corpus).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import invoke

from outreach.tracking.classify import Classification, classify_message

SENDER = "andi@contoh-solusi.co.id"
ORIGINAL = (
    f"From: Andi Wijaya <{SENDER}>\nTo: {{to}}\nSubject: Penawaran kerja sama\n"
    "Message-ID: <orig-1@contoh-solusi.co.id>\nDate: Thu, 26 Nov 2026 09:00:00 +0700\n\nSelamat pagi.\n"
)


def plain(headers: str, body: str, to: str = "kijitora@example.jp") -> bytes:
    """A one-part bounce: headers, the report's words, the original pasted below them."""
    text = f"{headers.strip()}\nTo: {SENDER}\nDate: Thu, 26 Nov 2026 10:00:00 +0700\n"
    text += "Content-Type: text/plain; charset=utf-8\n\n" + body.strip("\n") + "\n\n"
    return (text + ORIGINAL.format(to=to)).encode()


def report(headers: str, words: str, status: str = "", to: str = "kijitora@example.jp",
           report_type: str = "delivery-status") -> bytes:  # fmt: skip
    """A multipart/report: the words, an optional delivery-status part, the original."""
    parts = [f"Content-Type: text/plain; charset=utf-8\n\n{words.strip()}\n"]
    if status:
        parts.append(f"Content-Type: message/delivery-status\n\n{status.strip()}\n")
    parts.append("Content-Type: message/rfc822\n\n" + ORIGINAL.format(to=to))
    body = "".join(f"--BOUNDARY\n{p}\n" for p in parts) + "--BOUNDARY--\n"
    head = (
        f"{headers.strip()}\nTo: {SENDER}\nDate: Thu, 26 Nov 2026 10:00:00 +0700\nMIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type={report_type}; boundary="BOUNDARY"\n\n'
    )
    return (head + body).encode()


def summary(result: Classification) -> list[tuple[str, str, bool]]:
    return [(f.address, f.reason, f.hard) for f in result.failures]


# --------------------------------------------------------------------------- formats without DSN fields

DMA_RCPT = plain(
    "From: MAILER-DAEMON <>\nSubject: Mail delivery failed\n"
    "Received: from MAILER-DAEMON id 1a2b3c by df.example.net (DragonFly Mail Agent v0.13);",
    """
This is the DragonFly Mail Agent v0.13 at df.example.net.

There was an error delivering your mail to <kijitora@example.jp>.

mx.example.jp [192.0.2.25] did not like our RCPT TO:
550 5.1.1 <kijitora@example.jp>: Recipient address rejected: User unknown in virtual mailbox table

Original message follows.
""",
)


def test_dma_names_the_recipient_and_the_rcpt_stage() -> None:
    result = classify_message(DMA_RCPT)
    assert (result.kind, result.recipients, result.hard, result.reason, result.stage) == (
        "bounce", ("kijitora@example.jp",), True, "user_unknown", "rcpt"
    )  # fmt: skip
    assert result.status == "5.1.1"


def test_dma_refusal_after_data_is_a_filter_not_a_dead_address() -> None:
    raw = DMA_RCPT.replace(b"did not like our RCPT TO:", b"did not like our final DATA:")
    result = classify_message(raw)
    assert (result.kind, result.hard, result.reason, result.stage) == ("bounce", False, "filtered", "end_of_data")


@pytest.mark.parametrize(
    ("error", "reason", "hard"),
    [
        ("DNS lookup failure: host example.jp not found", "host_unknown", True),
        ("Could not deliver for the last 345600 seconds. Giving up.", "expired", False),
    ],
)
def test_dma_local_errors(error: str, reason: str, hard: bool) -> None:
    raw = DMA_RCPT.replace(
        b"mx.example.jp [192.0.2.25] did not like our RCPT TO:\n550 5.1.1 <kijitora@example.jp>: Recipient address"
        b" rejected: User unknown in virtual mailbox table",
        error.encode(),
    )
    result = classify_message(raw)
    assert (result.kind, result.recipients, result.reason, result.hard) == (
        "bounce", ("kijitora@example.jp",), reason, hard
    )  # fmt: skip


QMAIL_TWO = plain(
    "From: MAILER-DAEMON@mx.example.net\nSubject: failure notice",
    """
Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<kijitora@example.jp>:
192.0.2.1 does not like recipient.
Remote host said: 550 5.1.1 <kijitora@example.jp>... User Unknown
Giving up on 192.0.2.1.

<neko@example.org>:
192.0.2.2 failed after I sent the message.
Remote host said: 552 5.2.2 <neko@example.org>... Mailbox Full

--- Below this line is a copy of the message.
""",
)


def test_qmail_multi_recipient_gives_each_address_its_own_reason() -> None:
    result = classify_message(QMAIL_TWO)
    assert result.kind == "bounce"
    assert summary(result) == [
        ("kijitora@example.jp", "user_unknown", True),
        ("neko@example.org", "mailbox_full", False),
    ]
    assert [f.stage for f in result.failures] == ["rcpt", "end_of_data"]
    assert result.hard is False  # hard only when every failed recipient is dead


@pytest.mark.parametrize(
    ("block", "reason", "hard", "stage"),
    [
        ("Sorry, no mailbox here by that name. (#5.1.1)", "user_unknown", True, None),
        ("Connected to 192.0.2.1 but sender was rejected.\nRemote host said: 553 sorry, your envelope sender is"
         " in my badmailfrom list (#5.7.1)", "sender_rejected", False, "mail"),
        ("Connected to 192.0.2.1 but greeting failed.\nRemote host said: 554 mx.example.jp ESMTP not accepting"
         " connections", "blocked", False, "connection"),
        ("192.0.2.1 failed after I sent the message.\nRemote host said: 554 5.7.1 <kijitora@example.jp>: user"
         " unknown", "filtered", False, "end_of_data"),
        ("Sorry, I couldn't find any host named example.jp. (#5.1.2)", "host_unknown", True, None),
        ("This message has been in the queue too long.", "expired", False, None),
    ],
)  # fmt: skip
def test_qmail_stages_and_reasons(block: str, reason: str, hard: bool, stage: str | None) -> None:
    raw = plain(
        "From: MAILER-DAEMON@mx.example.net\nSubject: failure notice",
        "Hi. This is the qmail-send program at mx.example.net.\nI'm afraid I wasn't able to deliver your message"
        f" to the following addresses.\n\n<kijitora@example.jp>:\n{block}\n\n--- Below this line is a copy of the"
        " message.",
    )
    result = classify_message(raw)
    assert (result.kind, result.recipients, result.reason, result.hard, result.stage) == (
        "bounce", ("kijitora@example.jp",), reason, hard, stage
    )  # fmt: skip


def test_lotus_notes_reason_before_the_address() -> None:
    raw = plain(
        "From: Postmaster <postmaster@notes.example.jp>\nSubject: Undeliverable message",
        """
------- Failure Reasons  --------

User not listed in public Name & Address Book
kijitora@notes.example.jp

------- Returned Message --------
""",
        to="kijitora@notes.example.jp",
    )
    result = classify_message(raw)
    assert (result.kind, result.recipients, result.reason, result.hard) == (
        "bounce", ("kijitora@notes.example.jp",), "user_unknown", True
    )  # fmt: skip


def test_lotus_notes_in_japanese() -> None:
    words = "------- Failure Reasons  --------\n\nディレクトリのリストにありません\nkijitora@notes.example.jp\n"
    raw = (
        b"From: Postmaster <postmaster@notes.example.jp>\nTo: andi@contoh-solusi.co.id\n"
        b"Subject: Undeliverable message\nContent-Type: text/plain; charset=ISO-2022-JP\n\n"
    ) + words.encode("iso-2022-jp")
    result = classify_message(raw)
    assert (result.kind, result.recipients, result.reason, result.hard) == (
        "bounce", ("kijitora@notes.example.jp",), "user_unknown", True
    )  # fmt: skip


def test_domino_skips_the_quoted_subject_line() -> None:
    raw = plain(
        "From: Postmaster@example.jp\nSubject: DELIVERY FAILURE: User kijitora (kijitora@example.jp) not listed"
        " in Domino Directory",
        """
Your message

  Subject: Penawaran kerja sama

was not delivered to:

  kijitora@example.jp

because:

  User kijitora (kijitora@example.jp) not listed in Domino Directory
""",
    )
    result = classify_message(raw)
    assert (result.recipients, result.reason, result.hard) == (("kijitora@example.jp",), "user_unknown", True)


def test_v5_sendmail_transcript() -> None:
    raw = plain(
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\nSubject: Returned mail: User unknown",
        """
   ----- Transcript of session follows -----
... while talking to mx.example.jp.:
>>> RCPT To:<kijitora@example.jp>
<<< 550 <kijitora@example.jp>... User unknown
550 <kijitora@example.jp>... User unknown

   ----- Unsent message follows -----
""",
    )
    result = classify_message(raw)
    assert (result.recipients, result.reason, result.hard, result.stage) == (
        ("kijitora@example.jp",), "user_unknown", True, "rcpt"
    )  # fmt: skip


def test_sendmail_pipelining_reply_after_data_was_the_rcpt_answer() -> None:
    raw = plain(
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\nSubject: Returned mail: see transcript"
        " for details",
        """
   ----- The following addresses had permanent fatal errors -----
<kijitora@example.jp>
    (reason: 550 Requested action not taken: mailbox unavailable)

   ----- Transcript of session follows -----
... while talking to mx.example.jp.:
>>> DATA
<<< 550 Requested action not taken: mailbox unavailable
550 5.1.1 <kijitora@example.jp>... User unknown
<<< 503 Need Rcpt command.
""",
    )
    result = classify_message(raw)
    assert (result.reason, result.hard, result.stage) == ("user_unknown", True, "rcpt")


def test_docomo_unknown_user_after_data_is_a_reception_filter() -> None:
    """NTT docomo answers "550 Unknown user" after DATA when the recipient filters senders."""
    raw = plain(
        "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\nSubject: Returned mail: see transcript"
        " for details",
        """
   ----- The following addresses had permanent fatal errors -----
<kijitora@docomo.ne.jp>
    (reason: 550 Unknown user kijitora@docomo.ne.jp)

   ----- Transcript of session follows -----
... while talking to mfsmax.docomo.ne.jp.:
>>> DATA
<<< 550 Unknown user kijitora@docomo.ne.jp
554 5.0.0 Service unavailable
""",
        to="kijitora@docomo.ne.jp",
    )
    result = classify_message(raw)
    assert (result.recipients, result.reason, result.hard, result.stage) == (
        ("kijitora@docomo.ne.jp",), "filtered", False, "data"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "words", "reason", "hard"),
    [
        ("From: Postmaster@ezweb.ne.jp\nSubject: Mail System Error - Returned Mail",
         "The user(s) account is temporarily over quota.\n\n<kijitora@ezweb.ne.jp>", "mailbox_full", False),
        ("From: Postmaster@ezweb.ne.jp\nSubject: Mail System Error - Returned Mail",
         "The user(s) account is disabled.\n\n<kijitora@ezweb.ne.jp>", "suspended", False),
        ("From: no-reply@ezweb.dion.ne.jp\nSubject: Mail delivery failed",
         "Your mail sent on: Thu, 26 Nov 2026 10:00:00 +0900\n\n  Could not be delivered to: <kijitora@ezweb.ne.jp>\n"
         "  As their mailbox is full.", "mailbox_full", False),
        ("From: postmaster@biglobe.ne.jp\nSubject: Returned mail: Delivery failed",
         "   ----- The following addresses had delivery problems -----\nkijitora@ezweb.ne.jp\n\n"
         "   ----- Non-delivered information -----\nThe number of messages in recipient's mailbox exceeded the"
         " local limit.", "mailbox_full", False),
    ],
)  # fmt: skip
def test_japanese_carriers(headers: str, words: str, reason: str, hard: bool) -> None:
    result = classify_message(plain(headers, words, to="kijitora@ezweb.ne.jp"))
    assert (result.kind, result.recipients, result.reason, result.hard) == (
        "bounce", ("kijitora@ezweb.ne.jp",), reason, hard
    )  # fmt: skip


def test_exchange_2003() -> None:
    raw = plain(
        "From: System Administrator <postmaster@example.jp>\nSubject: Undeliverable: Penawaran kerja sama\n"
        "X-Mailer: Internet Mail Service (5.5.2653.19)",
        """
Your message

  To:      kijitora@example.jp
  Subject: Penawaran kerja sama
  Sent:    Thu, 26 Nov 2026 10:00:00 +0700

did not reach the following recipient(s):

kijitora@example.jp on Thu, 26 Nov 2026 10:00:05 +0700
    The e-mail account does not exist at the organization this message was sent to.  Check the e-mail
    address, or contact the recipient directly to find out the correct address.
    <mx.example.jp #5.1.1>
""",
    )
    result = classify_message(raw)
    assert (result.recipients, result.reason, result.hard, result.status) == (
        ("kijitora@example.jp",), "user_unknown", True, "5.1.1"
    )  # fmt: skip


def test_exchange_2007_diagnostic_section() -> None:
    raw = plain(
        "From: postmaster@example.jp\nSubject: Undeliverable: Penawaran kerja sama\nContent-Language: en-US",
        """
Delivery has failed to these recipients or groups:

kijitora@example.jp
The e-mail address you entered couldn't be found. Please check the recipient's e-mail address and try to
resend the message.

Diagnostic information for administrators:

Generating server: mx.example.jp

kijitora@example.jp
#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##

Original message headers:
""",
    )
    result = classify_message(raw)
    assert (result.recipients, result.reason, result.hard, result.status) == (
        ("kijitora@example.jp",), "user_unknown", True, "5.1.1"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("words", "recipient", "reason", "hard", "stage"),
    [
        ("Delivery to the following recipient failed permanently:\n\n     kijitora@example.jp\n\nTechnical details"
         " of permanent failure:\nGoogle tried to deliver your message, but it was rejected by the server for the"
         " recipient domain example.jp by mx.example.jp. [192.0.2.1].\n\nThe error that the other server returned"
         " was:\n550 5.1.1 <kijitora@example.jp>... User Unknown\n", "kijitora@example.jp", "user_unknown", True,
         None),
        ("Delivery to the following recipient failed permanently:\n\n     kijitora@example.invalid\n\nTechnical"
         " details of permanent failure:\nDNS Error: Domain name not found\n", "kijitora@example.invalid",
         "host_unknown", True, None),
        ("Sorry, we were unable to deliver your message to the following address.\n\n<kijitora@example.jp>:\n"
         "Remote host said: 550 5.1.1 <kijitora@example.jp>... User Unknown [RCPT_TO]\n", "kijitora@example.jp",
         "user_unknown", True, "rcpt"),
        ("    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n    An error has occurred while"
         " attempting to deliver a message for\n    the following list of recipients:\n\nkijitora@example.jp: 550"
         " 5.2.2 Mailbox full\n", "kijitora@example.jp", "mailbox_full", False, None),
        ('This message was created automatically by mail delivery software.\n\nA message that you sent could not'
         ' be delivered to one or more of\nits recipients. This is a permanent error. The following address(es)\n'
         'failed:\n\n"kijitora@example.jp":\nSMTP error from remote server for RCPT TO command, host: mx.example.jp'
         ' (192.0.2.1) reason: 550 5.1.1 User unknown\n', "kijitora@example.jp", "user_unknown", True, "rcpt"),
        ("This message was created automatically by mail delivery software.\nA message that you sent could not"
         " be delivered to one or more of its recipients.\n\nkijitora@example.jp Invalid Address, ERROR_CODE :550,"
         " ERROR_CODE :5.1.1 <kijitora@example.jp>... User Unknown\n", "kijitora@example.jp", "user_unknown",
         True, None),
        ("--- The following addresses had delivery problems ---\n\n<kijitora@example.jp>   (User unknown"
         " kijitora@example.jp)\n", "kijitora@example.jp", "user_unknown", True, None),
        ("Body of message generated response:\n\nUnknown user: kijitora@example.jp\n", "kijitora@example.jp",
         "user_unknown", True, None),
        ("Sent <<< RCPT TO:<kijitora@example.jp>\nReceived >>> 550 5.1.1 <kijitora@example.jp>... User unknown\n"
         "\nUnable to deliver message to <kijitora@example.jp>.\n", "kijitora@example.jp", "user_unknown", True,
         "rcpt"),
        ("Your message could not be sent.\nA transcript of the attempts to send the message follows.\n\n"
         "Addressed To: kijitora@example.jp\n\nThu, 26 Nov 2026 10:00:00 +0700\nFailed to send to identified host,\n"
         "kijitora@example.jp: [192.0.2.1], 550 kijitora@example.jp... No such user\n", "kijitora@example.jp",
         "user_unknown", True, None),
    ],
    ids=["gmail", "gmail-dns", "yahoo", "opensmtpd", "gmx", "zoho", "mcafee", "imail", "interscan", "surfcontrol"],
)  # fmt: skip
def test_provider_prose(words: str, recipient: str, reason: str, hard: bool, stage: str | None) -> None:
    headers = "From: Mail Delivery Subsystem <mailer-daemon@mx.example.net>\nSubject: Delivery Status Notification"
    result = classify_message(plain(headers, words, to=recipient))
    assert (result.kind, result.recipients, result.reason, result.hard, result.stage) == (
        "bounce", (recipient,), reason, hard, stage
    )  # fmt: skip


def test_exim_names_the_address_not_the_sender_it_quotes() -> None:
    raw = plain(
        "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nSubject: Mail delivery failed",
        """
This message was created automatically by mail delivery software.

A message sent by

  <andi@contoh-solusi.co.id>

could not be delivered to one or more of its recipients. The following
address(es) failed:

  kijitora@example.jp
    host mx.example.jp [192.0.2.1]
    SMTP error from remote mail server after end of data:
    550 5.7.1 Message rejected: user unknown

------ This is a copy of the message, including all the headers. ------
""",
    )
    result = classify_message(raw)
    assert (result.recipients, result.reason, result.hard, result.stage) == (
        ("kijitora@example.jp",), "filtered", False, "end_of_data"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("subject", "words", "kind", "reason"),
    [
        ("Mail delivery failed: returning message to sender",
         "This message was created automatically by mail delivery software.\n\nA message that you sent could not be"
         " delivered to one or more of its\nrecipients. This is a permanent error. The following address(es)"
         " failed:\n\n  kijitora@example.jp\n    retry timeout exceeded\n", "bounce", "expired"),
        ("Warning: message 1abcDE-000123-45 delayed 24 hours",
         "This message was created automatically by mail delivery software.\nA message that you sent has not yet"
         " been delivered to one or more of its\nrecipients after more than 24 hours on the queue on mx.example.net."
         "\n\nThe address to which the message has not yet been delivered is:\n\n  kijitora@example.jp\n    Delay"
         " reason: SMTP error from remote mail server after RCPT TO:<kijitora@example.jp>:\n    451 4.7.1"
         " Greylisted, please try again later\n\nNo action is required on your part. Delivery attempts will"
         " continue for some time, and this warning may be repeated at intervals if the message remains"
         " undelivered. Eventually the mail delivery software will give up, and when that happens, the message"
         " will be returned to you.\n", "other", "delayed"),
    ],
)  # fmt: skip
def test_exim_final_failure_and_delay_warning(subject: str, words: str, kind: str, reason: str) -> None:
    result = classify_message(plain(f"From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nSubject: {subject}",
                                    words))  # fmt: skip
    assert (result.kind, result.reason, result.recipients) == (kind, reason, ("kijitora@example.jp",))


# --------------------------------------------------------------------------- DSN


def test_action_failed_with_a_temporary_status_is_a_final_bounce() -> None:
    raw = report(
        "From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender",
        "This is the mail system at host mx.example.net.\n\nI'm sorry to have to inform you that your message could"
        " not\nbe delivered to one or more recipients.",
        "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; kijitora@example.jp\nAction: failed\n"
        "Status: 4.4.1\nDiagnostic-Code: X-Postfix; delivery temporarily suspended: connect to mx.example.jp"
        "[192.0.2.1]:25: Connection timed out",
    )
    result = classify_message(raw)
    assert (result.kind, result.hard, result.recipients) == ("bounce", False, ("kijitora@example.jp",))
    assert result.reason in ("network", "expired")


def test_action_delayed_is_not_a_bounce() -> None:
    raw = report(
        "From: MAILER-DAEMON@mx.example.net\nSubject: Delayed Mail (still being retried)",
        "This is the mail system at host mx.example.net.\n\n# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND"
        " YOUR MESSAGE. #",
        "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; kijitora@example.jp\nAction: delayed\n"
        "Status: 4.2.2\nDiagnostic-Code: smtp; 452 4.2.2 Mailbox full",
    )
    result = classify_message(raw)
    assert (result.kind, result.reason, result.recipients) == ("other", "delayed", ("kijitora@example.jp",))


POSTFIX_MULTI = report(
    "From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender",
    """
This is the mail system at host mx.example.net.

<kijitora@example.jp>: host mx.example.jp[192.0.2.1] said: 550 5.1.1
    <kijitora@example.jp>: Recipient address rejected: User unknown in virtual
    mailbox table (in reply to RCPT TO command)

<neko@example.org>: host mx.example.org[192.0.2.2] said: 554 5.7.1 Message
    rejected as spam (in reply to end of DATA command)
""",
    """
Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; kijitora@example.jp
Original-Recipient: rfc822;kijitora@example.jp
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <kijitora@example.jp>: Recipient address
    rejected: User unknown in virtual mailbox table

Final-Recipient: rfc822; neko@example.org
Original-Recipient: rfc822;neko@example.org
Action: failed
Status: 5.7.1
Diagnostic-Code: smtp; 554 5.7.1 Message rejected as spam

Final-Recipient: rfc822; tora@example.com
Action: delayed
Status: 4.4.1
Diagnostic-Code: X-Postfix; connect to mx.example.com[192.0.2.3]:25: Connection timed out
""",
)


def test_multi_recipient_dsn_reads_stage_from_prose_and_skips_the_delayed_one() -> None:
    result = classify_message(POSTFIX_MULTI)
    assert result.kind == "bounce"
    assert result.recipients == ("kijitora@example.jp", "neko@example.org")
    assert summary(result) == [("kijitora@example.jp", "user_unknown", True), ("neko@example.org", "spam", False)]
    assert [f.stage for f in result.failures] == ["rcpt", "end_of_data"]
    assert [f.category for f in result.failures] == ["dead", "sender"]


def test_original_recipient_is_preferred_and_final_is_kept() -> None:
    raw = report(
        "From: MAILER-DAEMON@mx.example.net\nSubject: Undelivered Mail Returned to Sender",
        "This is the mail system at host mx.example.net.",
        "Reporting-MTA: dns; mx.example.net\n\nOriginal-Recipient: rfc822;sales@example.jp\nFinal-Recipient:"
        " rfc822; kijitora@example.jp\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 User unknown",
        to="sales@example.jp",
    )
    result = classify_message(raw)
    assert result.recipients == ("sales@example.jp",)
    assert result.failures[0].also == ("sales@example.jp", "kijitora@example.jp")


def test_workmail_writes_dsn_fields_into_its_text() -> None:
    raw = plain(
        "From: MAILER-DAEMON@us-west-2.amazonses.com\nSubject: Delivery Status Notification (Failure)\n"
        "X-Mailer: Amazon WorkMail\nX-SES-Outgoing: 2026.11.26-54.240.27.1",
        """
An error occurred while trying to deliver the mail to the following recipients:
kijitora@example.jp

Technical report:

Reporting-MTA: dsn; a27-1.smtp-out.us-west-2.amazonses.com

Action: failed
Final-Recipient: rfc822; kijitora@example.jp
Diagnostic-Code: smtp; 554 4.4.7 Message expired: unable to deliver in 840 minutes.<421 4.4.0 Unable to
 lookup DNS for example.jp>
Status: 4.4.7
""",
    )
    result = classify_message(raw)
    assert (result.kind, result.recipients, result.reason, result.hard, result.status) == (
        "bounce", ("kijitora@example.jp",), "expired", False, "4.4.7"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("diagnostic", "reason"),
    [
        ("550 5.4.1 Recipient address rejected: Access denied. AS(201806281)", "user_unknown"),
        ("550 5.7.606 Access denied, banned sending IP [192.0.2.9]", "blocked"),
        ("550 5.7.1 Service unavailable, Client host [192.0.2.9] blocked using Spamhaus", "blocked"),
        ("554 5.7.1 Message rejected due to content restrictions", "content"),
    ],
)
def test_office365_codes(diagnostic: str, reason: str) -> None:
    raw = report(
        "From: Microsoft Outlook <postmaster@example.onmicrosoft.com>\nSubject: Undeliverable: Penawaran kerja sama\n"
        "X-MS-Exchange-Message-Is-Ndr:",
        f"Delivery has failed to these recipients or groups:\n\nkijitora@example.jp<mailto:kijitora@example.jp>\n"
        f"\nDiagnostic information for administrators:\n\nRemote Server returned '{diagnostic}'",
        f"Reporting-MTA: dns;EX1.example.onmicrosoft.com\n\nFinal-recipient: RFC822; kijitora@example.jp\nAction:"
        f" failed\nStatus: {diagnostic.split()[1]}\nDiagnostic-code: smtp; {diagnostic}",
    )
    result = classify_message(raw)
    assert (result.recipients, result.reason) == (("kijitora@example.jp",), reason)
    assert result.hard is (reason == "user_unknown")


def test_report_with_nobody_named_uses_the_returned_original() -> None:
    raw = plain(
        "From: MAILER-DAEMON@mx.example.net\nSubject: Undeliverable mail",
        "Your message could not be delivered.\n\nReason: 550 Requested action not taken: no such user here",
    )
    result = classify_message(raw)
    assert (result.kind, result.recipients, result.reason, result.hard) == (
        "bounce", ("kijitora@example.jp",), "user_unknown", True
    )  # fmt: skip


# --------------------------------------------------------------------------- Amazon SES notifications


def _sns(message: dict[str, object]) -> bytes:
    envelope = {"Type": "Notification", "MessageId": "0f1e2d3c", "TopicArn": "arn:aws:sns:us-east-1:1:ses",
                "Message": json.dumps(message)}  # fmt: skip
    return (
        "From: AWS Notifications <no-reply@sns.amazonaws.com>\nTo: ops@contoh-solusi.co.id\n"
        "Subject: AWS Notification Message\nX-Amz-Sns-Message-Id: 0f1e2d3c\nContent-Type: text/plain\n\n"
        + json.dumps(envelope)
        + "\n\n--\nIf you wish to stop receiving notifications from this topic, please click or visit the link below."
    ).encode()


_MAIL = {"messageId": "0100abc", "source": SENDER,
         "headers": [{"name": "Message-ID", "value": "<orig-1@contoh-solusi.co.id>"}]}  # fmt: skip


@pytest.mark.parametrize(
    ("bounce", "reason", "hard"),
    [
        ({"bounceType": "Permanent", "bounceSubType": "General", "bouncedRecipients": [
            {"emailAddress": "kijitora@example.jp", "action": "failed", "status": "5.1.1",
             "diagnosticCode": "smtp; 550 5.1.1 user unknown"}]}, "user_unknown", True),
        ({"bounceType": "Transient", "bounceSubType": "MailboxFull", "bouncedRecipients": [
            {"emailAddress": "kijitora@example.jp"}]}, "mailbox_full", False),
        ({"bounceType": "Permanent", "bounceSubType": "Suppressed", "bouncedRecipients": [
            {"emailAddress": "kijitora@example.jp", "diagnosticCode": "Amazon SES has suppressed sending to this"
             " address because it has a recent history of bouncing as an invalid address."}]}, "user_unknown", True),
    ],
)  # fmt: skip
def test_ses_bounce_notification(bounce: dict[str, object], reason: str, hard: bool) -> None:
    result = classify_message(_sns({"notificationType": "Bounce", "bounce": bounce, "mail": _MAIL}))
    assert (result.kind, result.recipients, result.reason, result.hard) == (
        "bounce", ("kijitora@example.jp",), reason, hard
    )  # fmt: skip
    assert result.related_ids[0] == "orig-1@contoh-solusi.co.id"


def test_ses_complaint_and_delivery_notifications() -> None:
    complaint = {"complainedRecipients": [{"emailAddress": "kijitora@example.jp"}], "complaintFeedbackType": "abuse"}
    result = classify_message(_sns({"notificationType": "Complaint", "complaint": complaint, "mail": _MAIL}))
    assert (result.kind, result.reason, result.recipients) == ("complaint", "abuse", ("kijitora@example.jp",))
    delivered = classify_message(_sns({"notificationType": "Delivery", "delivery": {}, "mail": _MAIL}))
    assert delivered.kind == "other"


def test_ses_raw_event_without_sns_envelope() -> None:
    event = {"eventType": "Bounce", "bounce": {"bounceType": "Permanent", "bounceSubType": "NoEmail",
             "bouncedRecipients": [{"emailAddress": "kijitora@example.jp"}]}, "mail": _MAIL}  # fmt: skip
    head = "From: ses@contoh-solusi.co.id\nSubject: SES event\nContent-Type: text/plain\n\n"
    raw = (head + json.dumps(event)).encode()
    result = classify_message(raw)
    assert (result.kind, result.reason, result.hard) == ("bounce", "user_unknown", True)


# --------------------------------------------------------------------------- feedback reports


def _arf(feedback: str, extra: str = "") -> bytes:
    fields = f"Feedback-Type: {feedback}\nUser-Agent: ExampleFBL/1.0\nVersion: 1\n{extra}"
    return report(
        "From: fbl@isp.example\nSubject: FW: Penawaran kerja sama",
        "This is an email abuse report for an email message received from IP 192.0.2.7.",
        to="kijitora@example.jp",
        report_type="feedback-report",
    ).replace(b"message/delivery-status", b"x").replace(
        b"Content-Type: message/rfc822",
        f"Content-Type: message/feedback-report\n\n{fields}\n--BOUNDARY\nContent-Type: message/rfc822".encode(),
    )


@pytest.mark.parametrize(
    ("feedback", "kind", "reason"),
    [
        ("abuse", "complaint", "abuse"),
        ("fraud", "complaint", "fraud"),
        ("opt-out", "unsubscribe", "opt-out"),
        ("auth-failure", "other", "auth_failure"),
        ("not-spam", "other", "not-spam"),
    ],
)
def test_feedback_types(feedback: str, kind: str, reason: str) -> None:
    result = classify_message(_arf(feedback, "Auth-Failure: dmarc\n" if feedback == "auth-failure" else ""))
    assert (result.kind, result.reason, result.recipients) == (kind, reason, ("kijitora@example.jp",))
    assert result.category == ("sender" if reason == "auth_failure" else None)


def test_microsoft_jmrp_complaint_without_arf_fields() -> None:
    original = ORIGINAL.format(to="kijitora@hotmail.com").replace(
        "Subject:", "X-HmXmrOriginalRecipient: <kijitora@hotmail.com>\nSubject:"
    )
    raw = (
        "From: staff@hotmail.com\nTo: fbl@contoh-solusi.co.id\nSubject: complaint about message from 192.0.2.7\n"
        'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="B"\n\n--B\nContent-Type: text/plain\n\n'
        "This is a Microsoft email abuse report for an email message received from IP 192.0.2.7.\n\n--B\n"
        f"Content-Type: message/rfc822\n\n{original}\n--B--\n"
    ).encode()
    result = classify_message(raw)
    assert (result.kind, result.recipients) == ("complaint", ("kijitora@hotmail.com",))
    assert result.related_ids[0] == "orig-1@contoh-solusi.co.id"


def test_arf_fields_in_a_text_part() -> None:
    raw = plain(
        "From: feedback@isp.example\nSubject: Abuse report",
        "Feedback-Type: abuse\nUser-Agent: SomeISP-FBL/2.0\nVersion: 1\nOriginal-Rcpt-To: <kijitora@example.jp>\n",
    )
    result = classify_message(raw)
    assert (result.kind, result.recipients) == ("complaint", ("kijitora@example.jp",))


# --------------------------------------------------------------------------- not bounces


@pytest.mark.parametrize(
    "raw",
    [
        b"From: Budi <budi@pt-maju.co.id>\nTo: andi@contoh-solusi.co.id\nSubject: Re: Penawaran\n"
        b"In-Reply-To: <orig-1@contoh-solusi.co.id>\n\nYour message could not be delivered to my old address"
        b" budi@lama.co.id, please use this one.\n",
        b"From: news@vendor.example\nTo: andi@contoh-solusi.co.id\nSubject: Newsletter\n\nHow to handle a"
        b" 550 5.1.1 user unknown error in your campaigns.\n",
        b"From: Budi <budi@pt-maju.co.id>\nTo: andi@contoh-solusi.co.id\nSubject: Read: Penawaran\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="R"\n\n--R\n'
        b"Content-Type: text/plain\n\nYour message was displayed.\n--R\nContent-Type: message/disposition-notification"
        b"\n\nFinal-Recipient: rfc822; budi@pt-maju.co.id\nDisposition: manual-action/MDN-sent-manually; displayed\n"
        b"--R--\n",
    ],
    ids=["human-reply", "newsletter", "read-receipt"],
)
def test_not_bounces(raw: bytes) -> None:
    assert classify_message(raw).kind != "bounce"


# --------------------------------------------------------------------------- the CLI


def test_track_classify_json_prints_the_contract_fields_then_the_details(tmp_path: Path) -> None:
    path = tmp_path / "qmail.eml"
    path.write_bytes(QMAIL_TWO)
    result = invoke("track", "classify", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "file": str(path), "kind": "bounce", "hard": False, "reason": "user_unknown", "status": "5.1.1",
        "recipients": ["kijitora@example.jp", "neko@example.org"], "reply_text": None, "intent": None,
        "stage": "rcpt", "category": "dead",
        "failures": [
            {"address": "kijitora@example.jp", "action": "failed", "reason": "user_unknown", "hard": True,
             "status": "5.1.1", "stage": "rcpt", "category": "dead"},
            {"address": "neko@example.org", "action": "failed", "reason": "mailbox_full", "hard": False,
             "status": "5.2.2", "stage": "end_of_data", "category": "mailbox"},
        ],
        "intent_detail": None,
    }  # fmt: skip
    assert list(json.loads(result.output))[:8] == [
        "file", "kind", "hard", "reason", "status", "recipients", "reply_text", "intent"
    ]  # fmt: skip


# --------------------------------------------------------------------------- more layouts

MORE = {
    "courier": report(
        "From: Courier mail server at mx.example.net <@>\nSubject: NOTICE: mail delivery status.",
        "UNDELIVERABLE MAIL\n\nYour message to the following recipients cannot be delivered:\n\n"
        "<kijitora@example.jp>:\n    mx.example.jp [192.0.2.1]:\n>>> RCPT TO:<kijitora@example.jp>\n"
        "<<< 550 5.1.1 <kijitora@example.jp>:"
        " Recipient address rejected: User unknown",
        "Reporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; kijitora@example.jp\nAction: failed\n"
        "Status: 5.0.0",
    ),
    "sun-messaging-server": plain(
        "From: Internet Mail Delivery <postmaster@example.net>\nSubject: Delivery Notification: Delivery has failed",
        "This report relates to a message you sent with the following header fields:\n\n  Message-id: <x@y>\n\n"
        "Your message cannot be delivered to the following recipients:\n\n  Recipient address: kijitora@example.jp\n"
        "  Reason: Remote SMTP server has rejected address\n  Diagnostic code: smtp;550 5.1.1 <kijitora@example.jp>..."
        " User unknown",
    ),
    "apache-james": plain(
        "From: postmaster@example.net\nSubject: [BOUNCE]",
        "Hi. This is the James mail server at mx.example.net.\nI'm afraid I wasn't able to deliver your message to the"
        " following addresses.\n\nFailed recipient(s):\nkijitora@example.jp\n\nError message:\n550 5.1.1"
        " <kijitora@example.jp>... User unknown\n",
    ),
    "powermta-category": report(
        "From: postmaster@mta.example.net\nSubject: Delivery report",
        "Hello, this is the mail server on mta.example.net.",
        "Reporting-MTA: dns; mta.example.net\n\nFinal-Recipient: rfc822;kijitora@example.jp\nAction: failed\n"
        "Status: 5.0.0 (undefined status)\nDiagnostic-Code: smtp; 550 5.0.0 Mailbox unavailable\n"
        "X-PowerMTA-BounceCategory: bad-mailbox",
    ),
    "gmail-without-dsn": plain(
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\nSubject: Delivery Status Notification (Failure)",
        "** Address not found **\n\nYour message wasn't delivered to kijitora@example.jp because the address couldn't"
        " be found, or is unable to receive mail.\n\nThe response from the remote server was:\n550 5.1.1 The email"
        " account that you tried to reach does not exist.",
    ),
    "exchange-french": plain(
        "From: postmaster@example.jp\nSubject: Non remis : Penawaran\nContent-Language: fr-FR",
        "La remise a échoué pour ces destinataires ou groupes :\n\nkijitora@example.jp\nL'adresse de messagerie que"
        " vous avez entrée est introuvable.\n\nInformations de diagnostic pour les administrateurs :\n\n"
        "kijitora@example.jp\n"
        "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##",
    ),
    "office365-no-domain": report(
        "From: Microsoft Outlook <postmaster@example.onmicrosoft.com>\nSubject: Undeliverable: Penawaran",
        "Delivery has failed to these recipients or groups:\n\nkijitora@example.jp\n",
        "Reporting-MTA: dns;EX1.example.onmicrosoft.com\n\nFinal-recipient: RFC822; kijitora@example.jp\n"
        "Action: failed\n"
        "Status: 5.4.310\nDiagnostic-code: smtp; 550 5.4.310 DNS domain example.jp does not exist"
        " [Message=InfoDomainNonexistent]",
    ),
}


@pytest.mark.parametrize("name", sorted(MORE))
def test_more_layouts_name_the_dead_address(name: str) -> None:
    result = classify_message(MORE[name])
    assert (result.kind, result.recipients, result.hard) == ("bounce", ("kijitora@example.jp",), True)
    assert result.reason in ("user_unknown", "host_unknown")


def test_help_addresses_in_the_prose_are_not_failed_recipients() -> None:
    raw = QMAIL_TWO.replace(
        b"Hi. This is the qmail-send program at mx.example.net.",
        b"Hi. This is the qmail-send program at mx.example.net.\nQuestions? Write to our help address"
        b" help@isp.example or see <mailto:postmaster@isp.example>.",
    )
    assert classify_message(raw).recipients == ("kijitora@example.jp", "neko@example.org")
