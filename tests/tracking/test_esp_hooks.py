"""The email services' event hooks, in the core (``tracking/esp``): a real workspace whose campaign was sent
to a real SMTP server, a real SQLite database, the services' documented payloads signed with test keys.

What is checked: each service's events become the same bounce and complaint records as mail-borne ones
(events, suppressions, Message-ID or address matching, soft-bounce limit, guardrails) with the same reasons
and hard/soft; an event sent twice is recorded once; a forged, unsigned, stale or replayed post is refused
and changes nothing; a hostile certificate address is never fetched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from engine_support import dsn_bounce
from esp_support import (
    CERT_URL,
    MAILGUN_KEY,
    SETTINGS,
    TOPIC,
    FakeAws,
    body,
    certificate,
    environ,
    load,
    mailgun_sign,
    postmark_headers,
    rsa_key,
    sendgrid_headers,
    sns_notification,
    sns_sign,
    swap,
)
from sqlalchemy import Engine, select, text

from outreach.errors import ConfigError
from outreach.settings.config import EmailEvents, Guardrails
from outreach.settings.workspace import load_workspace
from outreach.storage import transaction, utcnow
from outreach.storage.models import Campaign, Event, Outbox, Suppression
from outreach.tracking.classify import classify_message
from outreach.tracking.esp import mailgun, postmark, sendgrid, ses
from outreach.tracking.esp.hooks import Answer, Hooks
from outreach.tracking.ingest import policy_of

# -- the site: a sent campaign, and hooks for every service -----------------------------------------


@dataclass
class Site:
    hooks: Hooks
    engine: Engine
    rows: dict[str, Outbox]
    aws: FakeAws

    @property
    def emails(self) -> list[str]:
        return sorted(self.rows)

    def row(self, n: int) -> Outbox:
        return self.rows[self.emails[n]]

    def post(self, service: str, data: Any, headers: dict[str, str] | None = None) -> Answer:
        raw = data if isinstance(data, bytes) else body(data)
        return self.hooks.receive(service, raw, headers or {})

    def events(self) -> list[tuple[str, str | None, dict[str, Any]]]:
        """(kind, the contact's address, detail) of every event but "sent"."""
        with transaction(self.engine) as session:
            found = session.execute(select(Event.kind, Outbox.email, Event.detail, Event.contact_id)
                                    .outerjoin(Outbox, Outbox.id == Event.outbox_id)
                                    .where(Event.kind != "sent").order_by(Event.id)).all()  # fmt: skip
            return [(kind, email, detail) for kind, email, detail, _ in found]

    def suppressions(self) -> dict[str, str]:
        with transaction(self.engine) as session:
            return {s.email: s.reason for s in session.scalars(select(Suppression))}


def make_hooks(ws: Any, engine: Engine, aws: FakeAws, settings: dict[str, Any] | None = None,
               env: dict[str, str] | None = None, limits: Guardrails | None = None,
               clock: Callable[[], datetime] = utcnow) -> Hooks:  # fmt: skip
    return Hooks(EmailEvents.model_validate(SETTINGS if settings is None else settings), engine, aws,
                 policy=policy_of(ws.settings), limits=limits or ws.settings.guardrails,
                 environ=environ() if env is None else env, clock=clock)  # fmt: skip


@pytest.fixture
def site(sent: Any) -> Site:
    ws, engine, rows, _signer = sent
    aws = FakeAws()
    return Site(make_hooks(ws, engine, aws), engine, rows, aws)


def ses_bounce(site: Site, n: int, name: str = "ses-bounce-with-dsn.json") -> dict[str, Any]:
    """A documented SES notification about the message sent to contact ``n`` (jane), and ``n + 1`` (richard)."""
    return swap(load(name), {"jane@example.com": site.emails[n], "richard@example.com": site.emails[n + 1],
                             "custom-message-ID": f"<{site.row(n).message_id}>"})  # fmt: skip


# -- Amazon SES through SNS ------------------------------------------------------------------------

HOSTILE_CERT_URLS = [
    "http://sns.us-west-2.amazonaws.com/cert.pem",
    "https://sns.us-west-2.amazonaws.com.evil.example/cert.pem",
    "https://evil.example/sns.us-west-2.amazonaws.com/cert.pem",
    "https://sns.us-west-2.amazonaws.com@evil.example/cert.pem",
    "https://evil.example#@sns.us-west-2.amazonaws.com/cert.pem",
    "https://sns.us-west-2.amazonaws.com\\@evil.example/cert.pem",
    "https://sns.us-west-2.amazonaws.com:8443/cert.pem",
    "https://sns.us-west-2.amazonaws.com./cert.pem",
    "https://sns.us-west-2.amazonaws.com/cert.pem?x=1",
    "https://sns.us-west-2.amazonaws.com/cert.txt",
    "https://sqs.us-west-2.amazonaws.com/cert.pem",
    "https://sns.amazonaws.com/cert.pem",
    "https://sns.us-west-2.amazonaws.co/cert.pem",
    "https://sns.us-west-2.amazonaws.com.cn.evil.example/cert.pem",
    "https://sns.us-west-2.аmazonaws.com/cert.pem",  # a Cyrillic "а"
    "https://sns.us-west-2.amazonaws.com/cert.pem\r\nX: y",
    "https:///cert.pem",
    "file:///etc/passwd",
    "",
]


@pytest.mark.parametrize("url", HOSTILE_CERT_URLS)
def test_sns_url_refuses_anything_but_an_sns_host(url: str) -> None:
    with pytest.raises(ValueError):
        ses.sns_url(url, certificate=True)


@pytest.mark.parametrize("url", [CERT_URL, "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-x.pem",
                                 "https://SNS.AP-SOUTHEAST-3.amazonaws.com:443/SimpleNotificationService-x.pem",
                                 "https://sns.us-gov-west-1.amazonaws.com/a.pem"])  # fmt: skip
def test_sns_url_accepts_sns_hosts(url: str) -> None:
    assert ses.sns_url(url, certificate=True) == url


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_bounce_is_recorded_once_as_a_mailed_one_would_be(site: Site, version: str) -> None:
    notification = sns_notification(ses_bounce(site, 0), version)
    first = site.post("ses", notification)
    assert (first.status, first.body["recorded"], first.body["suppressed"]) == (200, 1, 1)
    again = site.post("ses", notification)  # SNS retries with the same message
    assert (again.status, again.body["recorded"], again.body["already_recorded"]) == (200, 0, 1)
    [(kind, email, detail)] = site.events()
    assert (kind, email) == ("bounced", site.emails[0])  # matched by the Message-ID SES passed on
    assert (detail["reason"], detail["hard"], detail["status"], detail["category"], detail["via"]) == (
        "user_unknown", True, "5.1.1", "dead", "ses")
    assert site.suppressions() == {site.emails[0]: "hard_bounce:user_unknown"}
    assert site.aws.fetched == [CERT_URL]  # the certificate once, for both posts


def test_ses_bounce_without_dsn_records_each_recipient(site: Site) -> None:
    answer = site.post("ses", sns_notification(ses_bounce(site, 1, "ses-bounce-without-dsn.json")))
    assert (answer.status, answer.body["suppressed"]) == (200, 2)
    recorded = {(email, d["reason"], d["hard"]) for kind, email, d in site.events() if kind == "bounced"}
    # "Permanent/General" and nothing more: AWS says remove the address, so it is a dead one
    assert recorded == {(site.emails[1], "user_unknown", True), (site.emails[2], "user_unknown", True)}


@pytest.mark.parametrize("name", ["ses-complaint-with-feedback.json", "ses-complaint-without-feedback.json"])
def test_ses_complaint_suppresses(site: Site, name: str) -> None:
    payload = swap(load(name), {"richard@example.com": site.emails[2],
                                "custom-message-ID": f"<{site.row(2).message_id}>"})  # fmt: skip
    assert site.post("ses", sns_notification(payload)).status == 200
    assert [(k, e, d["reason"]) for k, e, d in site.events()] == [("complained", site.emails[2], "abuse")]
    assert site.suppressions() == {site.emails[2]: "complaint"}


def test_ses_delivery_is_ignored(site: Site) -> None:
    answer = site.post("ses", sns_notification(ses_bounce(site, 0, "ses-delivery.json")))
    assert (answer.status, answer.body["ignored"], answer.body["events"]) == (200, 1, 0)
    assert site.events() == [] and site.suppressions() == {}


def _tamper(notification: dict[str, Any]) -> dict[str, Any]:
    message = json.loads(notification["Message"])
    message["bounce"]["bouncedRecipients"][0]["emailAddress"] = "someone.else@co1.example.com"
    return {**notification, "Message": json.dumps(message)}


FORGERIES: dict[str, tuple[Callable[[dict[str, Any]], Any], int]] = {
    "message changed after signing": (_tamper, 403),
    "signed with another key": (lambda n: sns_sign({k: v for k, v in n.items() if k != "Signature"}, "1",
                                                   rsa_key(1)), 403),  # fmt: skip
    "version 1 signature claimed as 2": (lambda n: {**n, "SignatureVersion": "2"}, 403),
    "unknown signature version": (lambda n: {**n, "SignatureVersion": "3"}, 403),
    "no signature": (lambda n: {k: v for k, v in n.items() if k != "Signature"}, 401),
    "signature not base64": (lambda n: {**n, "Signature": "%%%"}, 403),
    "topic not configured": (lambda n: sns_sign({**n, "TopicArn": TOPIC + "-other"}), 403),
    "raw message delivery": (lambda n: json.loads(n["Message"]), 400),
    "no TopicArn": (lambda n: {k: v for k, v in n.items() if k != "TopicArn"}, 403),
    "Message not a string": (lambda n: {**n, "Message": {"notificationType": "Bounce"}}, 403),
    "not JSON": (lambda n: b"Type=Notification&Message=x", 400),
}


@pytest.mark.parametrize("name", list(FORGERIES))
def test_sns_forgeries_change_nothing(site: Site, name: str) -> None:
    forge, status = FORGERIES[name]
    answer = site.post("ses", forge(sns_notification(ses_bounce(site, 0))))
    assert answer.status == status, answer.body
    assert site.events() == [] and site.suppressions() == {}


@pytest.mark.parametrize("url", HOSTILE_CERT_URLS)
def test_sns_hostile_certificate_address_is_never_fetched(site: Site, url: str) -> None:
    notification = sns_notification(ses_bounce(site, 0))
    assert site.post("ses", {**notification, "SigningCertURL": url}).status == 403
    assert site.aws.fetched == [] and site.events() == []


def test_sns_certificate_trouble(site: Site) -> None:
    notification = sns_notification(ses_bounce(site, 0))
    site.aws.fail = OSError("network unreachable")
    assert site.post("ses", notification).status == 503  # SNS sends it again later
    site.aws.fail = ses.FetchRefused("404")
    assert site.post("ses", notification).status == 403  # no certificate there: not SNS
    site.aws.fail = None
    now = datetime.now(UTC)
    site.aws.pem = certificate(rsa_key(), now - timedelta(days=400), now - timedelta(days=1))
    assert site.post("ses", notification).status == 403  # expired
    site.aws.pem = b"not a certificate"
    site.hooks.certificates = ses.Certificates(site.aws)
    assert site.post("ses", notification).status == 403
    assert site.events() == []


def _subscription(name: str = "sns-subscription-confirmation.json", **changes: Any) -> dict[str, Any]:
    return sns_sign({**load(name), **changes})


def test_sns_subscription_is_confirmed_for_configured_topics_only(site: Site) -> None:
    confirmation = _subscription()
    answer = site.post("ses", confirmation)
    assert (answer.status, answer.body) == (200, {"subscribed": TOPIC})
    assert site.aws.fetched == [CERT_URL, confirmation["SubscribeURL"]]
    other = TOPIC.replace("MyTopic", "Elsewhere")
    elsewhere = _subscription(TopicArn=other, SubscribeURL=confirmation["SubscribeURL"].replace(TOPIC, other))
    assert site.post("ses", elsewhere).status == 403
    assert site.aws.fetched == [CERT_URL, confirmation["SubscribeURL"]]  # nothing fetched for it


@pytest.mark.parametrize("url", [
    "https://evil.example/?Action=ConfirmSubscription&TopicArn=" + TOPIC,
    "http://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + TOPIC,
    "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&TopicArn=" + TOPIC,
    "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:1:other",
])  # fmt: skip
def test_sns_subscription_with_a_hostile_subscribe_url_is_refused(site: Site, url: str) -> None:
    assert site.post("ses", _subscription(SubscribeURL=url)).status == 403
    assert site.aws.fetched == [CERT_URL]


def test_sns_subscription_confirmation_failing_is_retried_later(site: Site) -> None:
    confirmation = _subscription()
    site.hooks.certificates.key(CERT_URL, utcnow())  # the certificate is known; confirming fails
    site.aws.fail = OSError("timed out")
    assert site.post("ses", confirmation).status == 503
    unsubscribed = site.post("ses", _subscription("sns-unsubscribe-confirmation.json"))
    assert (unsubscribed.status, unsubscribed.body) == (200, {"unsubscribed": TOPIC})  # noted, nothing fetched


# -- Mailgun ---------------------------------------------------------------------------------------


def mailgun_event(site: Site, n: int, name: str) -> dict[str, Any]:
    data = load(name)
    old_id = data["event-data"]["message"]["headers"]["message-id"]
    return swap(data, {"alice@example.com": site.emails[n], "invalid@example.com": site.emails[n],
                       "undeliverable@nomx.example.com": site.emails[n], old_id: site.row(n).message_id})  # fmt: skip


@pytest.mark.parametrize(("name", "kind", "reason", "hard", "suppression"), [
    ("mailgun-permanent-fail.json", "bounced", "user_unknown", True, "hard_bounce:user_unknown"),
    ("mailgun-failed-bounce.json", "bounced", "user_unknown", True, "hard_bounce:user_unknown"),
    ("mailgun-complained.json", "complained", "abuse", False, "complaint"),
])  # fmt: skip
def test_mailgun_events(site: Site, name: str, kind: str, reason: str, hard: bool, suppression: str) -> None:
    signed = mailgun_sign(mailgun_event(site, 3, name))
    assert site.post("mailgun", signed).body["recorded"] == 1
    [(got, email, detail)] = site.events()
    assert (got, email, detail["reason"], detail["hard"], detail["via"]) == (kind, site.emails[3], reason, hard,
                                                                             "mailgun")  # fmt: skip
    assert site.suppressions() == {site.emails[3]: suppression}


def test_mailgun_temporary_failure_is_a_delay_not_a_bounce(site: Site) -> None:
    answer = site.post("mailgun", mailgun_sign(mailgun_event(site, 3, "mailgun-temporary-fail.json")))
    assert (answer.status, answer.body["ignored"]) == (200, 1)
    assert site.events() == []


MAILGUN_REFUSALS: dict[str, tuple[Callable[[dict[str, Any]], dict[str, Any]], int]] = {
    "unsigned": (lambda p: {k: v for k, v in p.items() if k != "signature"}, 401),
    "signature emptied": (lambda p: {**p, "signature": {**p["signature"], "signature": ""}}, 401),
    "documented example signature": (lambda p: {**p, "signature": load("mailgun-permanent-fail.json")["signature"]},
                                     403),  # fmt: skip
    "signed with another key": (lambda p: mailgun_sign(p, key="key-someone-else"), 403),
    "token changed": (lambda p: {**p, "signature": {**p["signature"], "token": "a" * 50}}, 403),
    "nine hours old": (lambda p: mailgun_sign(p, timestamp=datetime.now(UTC).timestamp() - 9 * 3600), 403),
    "ten minutes ahead": (lambda p: mailgun_sign(p, timestamp=datetime.now(UTC).timestamp() + 600), 403),
    "signature not hex": (lambda p: {**p, "signature": {**p["signature"], "signature": "z" * 64}}, 403),
    "signature an object": (lambda p: {**p, "signature": {"timestamp": {}, "token": [], "signature": 5}}, 401),
}


@pytest.mark.parametrize("name", list(MAILGUN_REFUSALS))
def test_mailgun_refusals_change_nothing(site: Site, name: str) -> None:
    forge, status = MAILGUN_REFUSALS[name]
    answer = site.post("mailgun", forge(mailgun_sign(mailgun_event(site, 3, "mailgun-failed-bounce.json"))))
    assert answer.status == status, answer.body
    assert site.events() == [] and site.suppressions() == {}


def test_mailgun_replay_is_refused_even_after_a_restart(site: Site, sent: Any) -> None:
    ws, engine, _rows, _ = sent
    signed = mailgun_sign(mailgun_event(site, 3, "mailgun-failed-bounce.json"))
    assert site.post("mailgun", signed).status == 200
    assert site.post("mailgun", signed).status == 403
    restarted = make_hooks(ws, engine, FakeAws())  # a new process: the tokens are in the database
    assert restarted.receive("mailgun", body(signed), {}).status == 403
    assert len(site.events()) == 1


def test_mailgun_post_not_recorded_is_taken_when_retried(site: Site) -> None:
    """A post the database could not take is answered 503 and its token not kept: Mailgun's retry is taken."""
    signed = mailgun_sign(mailgun_event(site, 3, "mailgun-failed-bounce.json"))
    with site.engine.begin() as conn:
        conn.execute(text("ALTER TABLE events RENAME TO events_away"))
    try:
        assert site.post("mailgun", signed).status == 503
    finally:
        with site.engine.begin() as conn:
            conn.execute(text("ALTER TABLE events_away RENAME TO events"))
    assert site.post("mailgun", signed).status == 200
    assert [kind for kind, _, _ in site.events()] == ["bounced"]


def test_mailgun_window_is_configurable(sent: Any) -> None:
    ws, engine, rows, _ = sent
    hooks = make_hooks(ws, engine, FakeAws(), {"mailgun": {"max_age": "5m"}})
    site = Site(hooks, engine, rows, FakeAws())
    ten_minutes_ago = datetime.now(UTC).timestamp() - 600
    signed = mailgun_sign(mailgun_event(site, 3, "mailgun-failed-bounce.json"), timestamp=ten_minutes_ago)
    assert site.post("mailgun", signed).status == 403


# -- SendGrid --------------------------------------------------------------------------------------


def test_sendgrid_verification_agrees_with_sendgrids_own_test_vector() -> None:
    [vector] = load("sendgrid-signature-vectors.json")
    key = sendgrid.load_key(vector["public_key"])
    sendgrid.verify(vector["payload"].encode(), vector["signature"], vector["timestamp"], key)
    for payload, timestamp in ((vector["payload"] + " ", vector["timestamp"]), (vector["payload"], "1588788368")):
        with pytest.raises(Exception, match="does not verify"):
            sendgrid.verify(payload.encode(), vector["signature"], timestamp, key)


def sendgrid_events(site: Site, n: int) -> bytes:
    events = swap(load("sendgrid-events.json"), {"example@test.com": site.emails[n],
                                                 "14c5d75ce93.dfd.64b469@ismtpd-555": site.row(n).message_id})
    return json.dumps(events).encode() + b"\r\n"  # as SendGrid sends it


def test_sendgrid_documented_events(site: Site) -> None:
    raw = sendgrid_events(site, 4)
    answer = site.post("sendgrid", raw, sendgrid_headers(raw))
    assert (answer.status, answer.body["events"], answer.body["ignored"]) == (200, 5, 6)
    got = [(kind, email, d.get("reason"), d.get("hard")) for kind, email, d in site.events()]
    assert got == [("bounced", site.emails[4], "user_unknown", True),  # dropped: "Bounced Address"
                   ("bounced", site.emails[4], "user_unknown", True),  # "500 unknown recipient", 5.0.0
                   ("complained", site.emails[4], "abuse", False),
                   ("unsubscribed", site.emails[4], None, False),
                   ("unsubscribed", site.emails[4], None, False)]  # fmt: skip
    assert site.suppressions() == {site.emails[4]: "hard_bounce:user_unknown"}
    again = site.post("sendgrid", raw, sendgrid_headers(raw))  # SendGrid retries a batch: nothing twice
    assert (again.body["recorded"], again.body["already_recorded"]) == (0, 5)
    assert len(site.events()) == 5


SENDGRID_REFUSALS: dict[str, tuple[Callable[[bytes, dict[str, str]], tuple[bytes, dict[str, str]]], int]] = {
    "unsigned": (lambda raw, h: (raw, {}), 401),
    "no timestamp": (lambda raw, h: (raw, {"x-twilio-email-event-webhook-signature": "MEUCIQ=="}), 401),
    "body changed": (lambda raw, h: (raw.replace(b"bounce", b"bounc3"), h), 403),
    "timestamp changed": (lambda raw, h: (raw, {**h, "x-twilio-email-event-webhook-timestamp": "1"}), 403),
    "another key": (lambda raw, h: (raw, sendgrid_headers(raw, n=1)), 403),
    "signature not base64": (lambda raw, h: (raw, {**h, "x-twilio-email-event-webhook-signature": "!!"}), 403),
    "huge signature": (lambda raw, h: (raw, {**h, "x-twilio-email-event-webhook-signature": "A" * 5000}), 403),
}


@pytest.mark.parametrize("name", list(SENDGRID_REFUSALS))
def test_sendgrid_refusals_change_nothing(site: Site, name: str) -> None:
    forge, status = SENDGRID_REFUSALS[name]
    raw = sendgrid_events(site, 4)
    raw, headers = forge(raw, sendgrid_headers(raw))
    assert site.post("sendgrid", raw, headers).status == status
    assert site.events() == [] and site.suppressions() == {}


# -- Postmark --------------------------------------------------------------------------------------


def postmark_record(site: Site, n: int, name: str, **changes: Any) -> dict[str, Any]:
    return {**swap(load(name), {"john@example.com": site.emails[n]}), **changes}


@pytest.mark.parametrize(("name", "kind", "reason", "suppression"), [
    ("postmark-bounce.json", "bounced", "user_unknown", "hard_bounce:user_unknown"),
    ("postmark-spam-complaint.json", "complained", "abuse", "complaint"),
])  # fmt: skip
def test_postmark_documented_records(site: Site, name: str, kind: str, reason: str, suppression: str) -> None:
    record = postmark_record(site, 5, name)
    assert site.post("postmark", record, postmark_headers()).body["recorded"] == 1
    assert site.post("postmark", record, postmark_headers()).body["already_recorded"] == 1
    [(got, email, detail)] = site.events()  # matched by address: Postmark passes on no Message-ID of ours
    assert (got, email, detail["reason"]) == (kind, site.emails[5], reason)
    assert site.suppressions() == {site.emails[5]: suppression}


@pytest.mark.parametrize("headers", [
    {}, {"authorization": "Bearer x"}, {"authorization": "Basic !!!"}, {"authorization": "Basic "},
    postmark_headers(password="wrong"), postmark_headers(user="someone"), postmark_headers(password=""),
])  # fmt: skip
def test_postmark_without_its_credentials_is_refused(site: Site, headers: dict[str, str]) -> None:
    answer = site.post("postmark", postmark_record(site, 5, "postmark-bounce.json"), headers)
    assert (answer.status, answer.headers) == (401, {"WWW-Authenticate": 'Basic realm="hooks"'})
    assert site.events() == []


def test_soft_bounces_suppress_only_when_they_persist(sent: Any) -> None:
    """Postmark's soft bounces count towards the same soft-bounce limit as mailed ones (3 over more than 7 days)."""
    ws, engine, rows, _ = sent
    clock = [utcnow()]
    hooks = make_hooks(ws, engine, FakeAws(), clock=lambda: clock[0])
    site = Site(hooks, engine, rows, FakeAws())
    for n, days in enumerate((0, 4, 8)):
        clock[0] = utcnow() + timedelta(days=days)
        record = postmark_record(site, 5, "postmark-bounce.json", ID=100 + n, Type="SoftBounce", TypeCode=4096,
                                 Details="smtp;552 5.2.2 <x>: mailbox full, quota exceeded")  # fmt: skip
        assert site.post("postmark", record, postmark_headers()).body["recorded"] == 1
        assert site.suppressions() == ({} if n < 2 else {site.emails[5]: "soft_bounces:mailbox_full"})
    assert {(d["reason"], d["hard"]) for _, _, d in site.events()} == {("mailbox_full", False)}


# -- the same reasons as mail -----------------------------------------------------------------------

DIAGNOSTICS = [
    ("5.1.1", "550 5.1.1 <x>: Recipient address rejected: User unknown in virtual mailbox table"),
    ("5.2.2", "552 5.2.2 The email account that you tried to reach is over quota"),
    ("5.7.1", "550 5.7.1 Message rejected as spam by Content Filtering"),
    ("5.1.2", "550 5.1.2 Host unknown: domain name not found"),
    ("5.4.1", "550 5.4.1 Recipient address rejected: Access denied"),
    ("5.7.26", "550 5.7.26 This message does not pass authentication checks (SPF and DKIM both do not pass)"),
    ("4.2.2", "452 4.2.2 Mailbox full"),
]


@pytest.mark.parametrize(("status", "diagnostic"), DIAGNOSTICS)
def test_services_and_mail_agree_on_reason_and_hard(sent: Any, status: str, diagnostic: str) -> None:
    """The reply a relay passes on gets the reason and hard flag the same reply gets in a mailed DSN."""
    _ws, _engine, rows, _ = sent
    row = next(iter(rows.values()))
    mailed = classify_message(dsn_bounce(row, 1, status=status, diagnostic=diagnostic, text="Delivery failed.",
                                         prefix="d")[1]).failures[0]  # fmt: skip
    code, words = diagnostic.split(" ", 1)
    via = {
        "ses": ses.events(ses.SnsMessage(ses.NOTIFICATION, TOPIC, "m", json.dumps({"notificationType": "Bounce",
            "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "feedbackId": "f",
                       "bouncedRecipients": [{"emailAddress": row.email, "status": status,
                                              "diagnosticCode": f"smtp; {diagnostic}"}]}}), None)),
        "mailgun": mailgun.events({"event-data": {"event": "failed", "severity": "permanent", "reason": "bounce",
            "recipient": row.email, "delivery-status": {"code": int(code), "message": words}}}),
        "sendgrid": sendgrid.events([{"event": "bounce", "email": row.email, "reason": diagnostic, "status": status,
                                      "sg_event_id": "e"}]),
        "postmark": postmark.events({"RecordType": "Bounce", "Type": "HardBounce", "ID": 1, "Email": row.email,
                                     "Details": f"smtp;{diagnostic}"}),
    }  # fmt: skip
    for service, parsed in via.items():
        [failure] = parsed.events[0].failures
        assert (failure.reason, failure.hard, failure.status) == (mailed.reason, mailed.hard, mailed.status), service


# -- guardrails and configuration ---------------------------------------------------------------------


def test_complaints_over_the_guardrail_pause_the_campaign(sent: Any) -> None:
    ws, engine, rows, _ = sent
    with transaction(engine) as session:  # complaints come in while the campaign is still sending
        session.scalars(select(Campaign)).one().state = "sending"
    hooks = make_hooks(ws, engine, FakeAws(), limits=Guardrails(complaint_rate=0.1, min_delivered=1))
    site = Site(hooks, engine, rows, FakeAws())
    complaint = postmark_record(site, 0, "postmark-spam-complaint.json")
    assert site.post("postmark", complaint, postmark_headers()).status == 200
    with transaction(engine) as session:
        campaign = session.scalars(select(Campaign)).one()
        assert campaign.state == "paused" and "complaint" in (campaign.state_reason or "")


def test_a_service_not_configured_answers_404(sent: Any) -> None:
    ws, engine, rows, _ = sent
    hooks = make_hooks(ws, engine, FakeAws(), {"postmark": {"username": "u"}})
    assert hooks.services == ("postmark",)
    for service in ("ses", "mailgun", "sendgrid", "nope", "../etc", "p" * 1000):
        assert hooks.receive(service, b"{}", {}).status == 404


def test_a_missing_secret_answers_503_and_is_said_at_start(sent: Any) -> None:
    ws, engine, rows, _ = sent
    hooks = make_hooks(ws, engine, FakeAws(), env={"SENDGRID_WEBHOOK_PUBLIC_KEY": "bm90IGEga2V5"})
    assert hooks.problems == [
        "email_events.mailgun: $MAILGUN_WEBHOOK_SIGNING_KEY is not set, so /hooks/mailgun answers 503 "
        "(set it and restart outreach serve)",
        "email_events.postmark: $POSTMARK_WEBHOOK_PASSWORD is not set, so /hooks/postmark answers 503 "
        "(set it and restart outreach serve)",
        "email_events.sendgrid: $SENDGRID_WEBHOOK_PUBLIC_KEY is not a base64 DER public key, so /hooks/sendgrid "
        "answers 503 (copy the verification key from SendGrid's Mail Settings)",
    ]
    signed = mailgun_sign({"event-data": {}}, key=MAILGUN_KEY)
    assert [hooks.receive(s, body(signed), postmark_headers()).status for s in ("mailgun", "postmark", "sendgrid")] == [
        503, 503, 503]


@pytest.mark.parametrize(("yaml", "message"), [
    ("email_events:\n  ses: {topic_arns: [not-an-arn]}\n", "is not an SNS topic ARN"),
    ("email_events:\n  ses: {topic_arns: []}\n", "at least 1 item"),
    ("email_events:\n  mailgun: {signing_key: abc}\n", "signing_key"),
    ("email_events:\n  postmark: {password_env: X}\n", "username"),
    ("email_events:\n  mailgun: {max_age: soon}\n", "is not a duration"),
    ("email_events:\n  sendgrid: {public_key_env: 'not a name'}\n", "public_key_env"),
])  # fmt: skip
def test_settings_are_checked_at_load(example_ws: Any, yaml: str, message: str) -> None:
    with (example_ws / "outreach.yaml").open("a") as fh:
        fh.write(yaml)
    with pytest.raises(ConfigError, match=message) as caught:
        load_workspace(example_ws)
    assert "outreach.yaml" in str(caught.value)
