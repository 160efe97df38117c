"""Tracker issue 21, bounces third round: the categories that were still read wrong.

Each category is tested on real messages of the tuning half of the sisimai corpus
(tests/data/corpora/sisimai, labels and upstream disagreements in its
expected.json), and on the rule's own words where a mail system's wording
reached us only as quoted text. The checking half is scored, not tested here
(tests/test_classify_corpus.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import mailcorpus
import pytest
from helpers import invoke

from outreach.tracking import reasons, stages
from outreach.tracking.classify import Classification, classify_message

SISIMAI = Path(__file__).parents[1] / "data" / "corpora" / "sisimai" / "messages"


def classify(name: str) -> Classification:
    return classify_message((SISIMAI / name).read_bytes())


def test_the_category_samples_used_here_are_in_the_tuning_half() -> None:
    tuning = ["lhost-opensmtpd-05.eml", "lhost-opensmtpd-06.eml", "lhost-gmail-15.eml", "mcafee-01.eml",
              "mfilter-01.eml", "mfilter-02.eml", "mxlogic-01.eml", "postfix-06.eml", "opensmtpd-04.eml"]  # fmt: skip
    assert {mailcorpus.half_of("sisimai", name) for name in tuning} == {"tuning"}


# --------------------------------------------------------------------------- gave up


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("lhost-opensmtpd-05.eml", "kijitora@mail.example.co.jp"),  # prose: "Envelope expired"
        ("lhost-opensmtpd-06.eml", "nekochan@libsisimai.org"),  # the same words in the delay template, Action: delayed
        ("lhost-gmail-15.eml", "mikeneko@libsisimai.org"),  # Gmail: "did not accept our requests to connect"
    ],
)
def test_a_gave_up_notice_is_a_soft_expired_bounce(name: str, address: str) -> None:
    result = classify(name)
    assert (result.kind, result.hard, result.reason, result.recipients) == ("bounce", False, "expired", (address,))
    assert result.status == "4.4.7"  # none in the report: delivery time expired


def test_a_delay_warning_stays_a_delay() -> None:
    result = classify("opensmtpd-04.eml")  # "only a temporary failure report", "Network error on destination MXs"
    assert (result.kind, result.reason) == ("other", "delayed")


@pytest.mark.parametrize(
    "words",
    [
        "Could not deliver the message in the time limit specified. Please retry or contact your administrator.",
        "The server has tried to deliver this message, without success, and has stopped trying.",
        "[Status: Error, Address: <kijitora@example.co.jp>, ResponseCode 421, , Host not reachable.]",
    ],
)
def test_exchange_and_zoho_gave_up_wordings_are_expired(words: str) -> None:
    """Exchange 2003/2007 and Zoho's final notices, as Sisimai's readers quote them."""
    raw = ("From: Mail Delivery System <mailer-daemon@mail.example.net>\nTo: sales@contoh-solusi.co.id\n"
           "Subject: Undeliverable: Penawaran\nMIME-Version: 1.0\nContent-Type: text/plain\n\n"
           f"Delivery has failed to these recipients or groups:\n\nkijitora@example.co.jp\n{words}\n")  # fmt: skip
    result = classify_message(raw.encode())
    assert (result.kind, result.hard, result.reason) == ("bounce", False, "expired")


def test_qmails_given_up_keeps_a_block_the_senders_problem() -> None:
    """qmail says "I've given up" on every permanent error: final, but no expiry."""
    raw = (b"From: MAILER-DAEMON@mx.example.net\nTo: a@contoh-solusi.co.id\nSubject: failure notice\n\n"
           b"Hi. This is the qmail-send program at mx.example.net.\nI'm afraid I wasn't able to deliver your "
           b"message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work "
           b"out.\n\n<budi@example.jp>:\n192.0.2.153 does not like recipient.\nRemote host said: 554 5.7.1 "
           b"Service unavailable; Client host [192.0.2.7] blocked using zen.spamhaus.org\nGiving up on 192.0.2.153."
           b"\n")  # fmt: skip
    result = classify_message(raw)
    assert (result.kind, result.hard, result.reason, result.category) == ("bounce", False, "blocked", "sender")


# --------------------------------------------------------------------------- dead domain vs passing failure


def test_a_dead_domain_is_hard_with_its_status_implied() -> None:
    result = classify("postfix-06.eml")  # "Host or domain name not found ... Host not found", Status 5.4.4
    assert (result.kind, result.hard, result.reason, result.status) == ("bounce", True, "host_unknown", "5.4.4")


@pytest.mark.parametrize(
    ("words", "reason"),
    [
        ("550 Unrouteable mail domain example.invalid", "host_unknown"),
        ("Host or domain name not found. Name service error for name=x.example type=MX: Host not found",
         "host_unknown"),
        ("DNS Error: Domain name not found", "host_unknown"),
        ("DNS lookup for example.invalid responded with code NXDOMAIN", "host_unknown"),
        ("Host or domain name not found. Name service error for name=x.example type=MX: Host not found, try again",
         "network"),
        ("connect to mx.example.net[192.0.2.1]:25: Connection refused", "network"),
        ("Connection refused by mx.example.net", "network"),
        ("Temporary failure in name resolution", "network"),
    ],
)  # fmt: skip
def test_dead_domain_words_against_passing_failures(words: str, reason: str) -> None:
    assert reasons.decide(None, words, None, "failed") == reason
    assert reasons.is_hard(reason, reasons.implied_status(reason, words, "failed"), None) == (reason == "host_unknown")


# --------------------------------------------------------------------------- filtering gateways and DATA


@pytest.mark.parametrize("name", ["mcafee-01.eml", "mfilter-01.eml", "mfilter-02.eml", "mxlogic-01.eml"])
def test_user_unknown_from_a_filtering_gateway_is_filtered_and_soft(name: str) -> None:
    result = classify(name)
    assert (result.kind, result.hard, result.reason) == ("bounce", False, "filtered")
    assert result.category == "sender"


def test_the_stage_a_report_names_by_number_or_on_its_own_line() -> None:
    assert stages.find_stage("550 550 Unknown user kijitora@example.jp (state 18).") == stages.DATA
    assert stages.find_stage("550 550 5.1.1 <x@example.jp>... User Unknown (state 14).") == stages.RCPT
    assert stages.find_stage("-------server message\n550 unknown user\n\n-------SMTP command\nDATA\n") == stages.DATA
    assert reasons.decide(None, "550 550 <x@example.jp> No such user here (state 17).",
                          stages.find_stage("(state 17)"), "failed") == "filtered"  # fmt: skip


# --------------------------------------------------------------------------- status codes from prose


def test_status_codes_implied_by_prose() -> None:
    assert classify("lhost-opensmtpd-05.eml").status == "4.4.7"
    assert reasons.implied_status("host_unknown", "Domain does not exist", "failed") == "5.1.2"
    said = "Could not initiate SMTP conversation with any hosts"
    assert reasons.implied_status("network", said, "failed") == "5.3.2"
    assert reasons.implied_status("network", "SMTP connection dropped", "delayed") == "4.4.1"
    assert reasons.implied_status("mailbox_full", "Mailbox full", "failed") is None  # only what the issue names


# --------------------------------------------------------------------------- several recipients


def test_each_recipient_of_a_report_has_its_own_reason_and_hard_flag(tmp_path: Path) -> None:
    """OpenSMTPD names a full mailbox and an unknown user in one report (a checking-half file,
    kept here as the CLI's regression sample: the scores use it too)."""
    result = classify("opensmtpd-2.eml")
    assert [(f.address, f.reason, f.hard, f.status) for f in result.failures] == [
        ("mailboxfull@example.jp", "mailbox_full", False, "5.2.2"),
        ("userunknown@example.jp", "user_unknown", True, "5.1.1"),
    ]
    assert result.hard is False  # the report as a whole: not every recipient is dead
    out = invoke("track", "classify", str(SISIMAI / "opensmtpd-2.eml"), "--json")
    assert out.exit_code == 0, out.output
    row = json.loads(out.stdout)
    rcpts = ["mailboxfull@example.jp", "userunknown@example.jp"]
    assert (row["kind"], row["hard"], row["recipients"]) == ("bounce", False, rcpts)
    assert [(f["address"], f["reason"], f["hard"]) for f in row["failures"]] == [
        ("mailboxfull@example.jp", "mailbox_full", False), ("userunknown@example.jp", "user_unknown", True)
    ]  # fmt: skip


def test_5_2_1_with_user_unknown_is_a_dead_address() -> None:
    result = classify_message(
        b"From: Mail Delivery System <Mailer-Daemon@mx.example.org>\nTo: a@contoh-solusi.co.id\n"
        b"Subject: Mail delivery failed: returning message to sender\nX-Failed-Recipients: s@example.jp\n\n"
        b"A message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent "
        b"error. The following address(es) failed:\n\n  s@example.jp\n    SMTP error from remote mail server after "
        b"RCPT TO:<s@example.jp>:\n    host mx.example.jp [192.0.2.153]: 550 5.2.1 <s@example.jp>... User Unknown\n"
    )
    assert (result.reason, result.hard, result.status) == ("user_unknown", True, "5.2.1")
    disabled = reasons.decide("5.2.1", "550 5.2.1 mailbox disabled", stages.RCPT, "failed")
    assert disabled == "suspended"  # the code alone, or with its own words, is still a suspended mailbox


# --------------------------------------------------------------------------- DMARC reports


def test_a_dmarc_failure_report_is_still_nobody_complaining() -> None:
    raw = (
        b"From: dmarc@receiver.example\nTo: postmaster@contoh-solusi.co.id\nSubject: DMARC failure report\n"
        b'MIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report; boundary="F"\n\n'
        b"--F\nContent-Type: text/plain\n\nThis is an authentication failure report.\n"
        b"--F\nContent-Type: message/feedback-report\n\nFeedback-Type: auth-failure\nUser-Agent: dmarc/1.0\n"
        b"Version: 1\nAuth-Failure: dmarc\nOriginal-Rcpt-To: budi@pt-maju.co.id\n"
        b"--F\nContent-Type: text/rfc822-headers\n\nMessage-ID: <m1@contoh-solusi.co.id>\n--F--\n"
    )
    result = classify_message(raw)
    assert (result.kind, result.reason, result.hard) == ("other", "auth_failure", False)


# --------------------------------------------------------------------------- second batch (tuning half)


def test_the_second_batch_samples_used_here_are_in_the_tuning_half() -> None:
    tuning = ["activehunter-02.eml", "email-amavis-01.eml", "mailmarshalsmtp-01.eml", "de-gmx-04.eml",
              "email-amazonworkmail-05.eml", "qmail-07.eml", "x3-02.eml", "email-google-09.eml", "postfix-17.eml",
              "v5sendmail-07.eml", "sendmail-05.eml", "us-receivingses-07.eml", "email-exim-04.eml"]  # fmt: skip
    assert {mailcorpus.half_of("sisimai", name) for name in tuning} == {"tuning"}


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("activehunter-02.eml", "kijitora@example.ed.jp"),  # Active!Hunter: X-AHMAILID
        ("email-amavis-01.eml", "neko@example.co.jp"),  # amavisd-new: From "Content-filter at ..."
        ("mailmarshalsmtp-01.eml", "dummyuser@blabla.xxxxxxxxxxxx.com"),  # Received: from MailMarshal.Sender
    ],
)
def test_more_filtering_gateways_are_recognised_by_their_own_marks(name: str, address: str) -> None:
    result = classify(name)
    assert (result.kind, result.hard, result.reason, result.recipients) == ("bounce", False, "filtered", (address,))


def test_amavis_on_our_own_inbound_path_is_no_gateway() -> None:
    """Our own mail server may run amavisd-new too: its Received line on a report says nothing."""
    result = classify("email-exim-60.eml")  # Exim report received through the recipient's amavisd-new
    assert (result.kind, result.reason) == ("bounce", "mailbox_full")


@pytest.mark.parametrize(
    "name",
    [
        "de-gmx-04.eml",  # GMX: "delivery retry timeout exceeded"
        "email-amazonworkmail-05.eml",  # WorkMail: 4.4.7 "Message expired: unable to deliver in 840 minutes"
        "qmail-07.eml",  # qmail: "in the queue too long" after no connection
        "x3-02.eml",  # "Delivery ... was aborted after 5.0 hour(s)"
    ],
)
def test_gave_up_notices_of_more_mail_systems(name: str) -> None:
    result = classify(name)
    assert (result.kind, result.hard, result.reason) == ("bounce", False, "expired")


def test_gmails_connection_details_in_a_warning_stay_a_delay() -> None:
    """Gmail writes "did not accept our requests to connect" in its warnings too: a warning that
    says it will be retried is a delay, not a give-up notice."""
    result = classify("email-google-09.eml")
    assert (result.kind, result.reason) == ("other", "delayed")


def test_a_malformed_name_server_reply_is_a_passing_failure() -> None:
    result = classify("postfix-17.eml")  # 5.4.4 "Malformed or unexpected name server reply"
    assert (result.kind, result.hard, result.reason) == ("bounce", False, "network")


def test_a_sendmail_transcript_gives_each_recipient_the_dialogue_before_its_summary_line() -> None:
    """V5 Sendmail writes ">>> MAIL From / <<< 501 ..." and "550 host (smtp)... Host unknown" before the
    "554 <a@b>... reason" line of the recipient they concern."""
    result = classify("v5sendmail-07.eml")
    assert [(f.address, f.reason, f.hard) for f in result.failures] == [
        ("kijitora@example.org", "blocked", False),  # the sending host refused as an open relay
        ("mikeneko@example.org", "host_unknown", True),
        ("hachiware@example.edu", "user_unknown", True),
    ]
    assert result.hard is False


def test_a_size_refusal_at_mail_from_is_the_messages_not_the_senders() -> None:
    result = classify("sendmail-05.eml")  # ">>> MAIL From:<...> SIZE=16600348 <<< 552 5.2.3 Message size exceeds"
    assert (result.reason, result.hard) == ("content", False)
    assert reasons.decide("5.2.2", "552 5.2.2 mailbox size limit exceeded", None, "failed") == "mailbox_full"


def test_message_filtered_is_a_filter_and_a_refused_isp_relay_a_block() -> None:
    assert classify("us-receivingses-07.eml").reason == "filtered"  # 550 5.2.0 Message Filtered
    assert classify("email-exim-04.eml").reason == "blocked"  # "Please use the smtp server of your ISP"
    words = (">>> MAIL From:<a@example.jp>\n"
             "<<< 501 <a@example.jp>... no access from mail server [192.0.2.5] which is an open relay.")
    assert reasons.decide(None, words, stages.MAIL, "failed") == "blocked"


def test_a_null_mx_is_a_dead_domain_whatever_status_class_the_report_gives() -> None:
    """RFC 7505: Gmail reports a null MX with Status 4.0.0 and Action: failed (the words of its
    report; the sample itself is in the checking half)."""
    words = ("DNS Error: 80458680 DNS type 'mx' lookup of example.org responded with code NOERROR\n"
             "The domain example.org doesn't receive email according to the administrator: "
             "returned Null MX")  # fmt: skip
    reason = reasons.decide("4.0.0", words, None, "failed")
    assert reason == "not_accept"
    assert reasons.is_hard(reason, "4.0.0", None, words)
    assert not reasons.is_hard(reason, "4.0.0", None, "451 4.3.2 domain does not accept mail right now")


def test_a_dsn_action_expired_is_a_give_up_notice() -> None:
    """SendGrid writes "Action: expired" (no such RFC 3464 action): final, and the retries ran out."""
    raw = (b"From: MAILER-DAEMON@mx.example.net\nTo: sales@contoh-solusi.co.id\nSubject: Undelivered Mail Returned to "
           b'Sender\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
           b"--B\nContent-Type: text/plain\n\nkijitora:00000:<budi@example.org> : Connection timed out in connect\n"
           b"--B\nContent-Type: message/delivery-status\n\nArrival-Date: 2013-07-08 18-21-01\n\n"
           b"Final-Recipient: rfc822; budi@example.org\nAction: expired\nStatus: \n"
           b"Diagnostic-Code: Connection timed out\n--B--\n")  # fmt: skip
    result = classify_message(raw)
    assert (result.kind, result.hard, result.reason) == ("bounce", False, "expired")
    assert result.recipients == ("budi@example.org",)
