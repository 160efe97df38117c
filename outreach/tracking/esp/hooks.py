"""The face the web app calls: one post to ``/hooks/SERVICE`` in, one answer (status and JSON) out.

For every service, in this order: it is configured in outreach.yaml (else
404); the post is the service's own, by its signature or credentials (else
401 or 403, and nothing of it is used); it is in the service's format (else
400); then its events are recorded and the answer counts them. A post whose
events were all recorded before (a retry) is answered 200 and changes
nothing. 503 means "send it again later": the database, or AWS for a
certificate, could not be reached, or the secret is missing from the
environment. Refusals are logged with their reason, never with a secret.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from outreach.errors import HookError
from outreach.settings.config import EmailEvents, Guardrails
from outreach.storage import utcnow
from outreach.tracking.esp import mailgun, postmark, replay, sendgrid, ses
from outreach.tracking.esp.common import parse_json
from outreach.tracking.esp.events import Parsed
from outreach.tracking.esp.record import record_events
from outreach.tracking.ingest import SoftBouncePolicy

T = TypeVar("T")
log = logging.getLogger("outreach.hooks")
SERVICES = ("ses", "mailgun", "sendgrid", "postmark")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, object]
    headers: dict[str, str] = field(default_factory=dict)


class Hooks:
    """The configured services' hooks; secrets are read from the environment once, when made."""

    def __init__(self, settings: EmailEvents, engine: Engine, fetch: ses.Fetch, *, policy: SoftBouncePolicy,
                 limits: Guardrails, clock: Callable[[], datetime] = utcnow,
                 environ: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self.settings = settings
        self.engine = engine
        self.fetch = fetch
        self.certificates = ses.Certificates(fetch)
        self.policy = policy
        self.limits = limits
        self.clock = clock
        self.problems: list[str] = []  # what makes a configured service answer 503: say it at start
        env = os.environ if environ is None else environ
        self._mailgun_key = self._secret(env, "mailgun", settings.mailgun.signing_key_env) if settings.mailgun else None
        self._postmark_password = (self._secret(env, "postmark", settings.postmark.password_env)
                                   if settings.postmark else None)  # fmt: skip
        self._sendgrid_key = self._load_sendgrid_key(env)

    @property
    def services(self) -> tuple[str, ...]:
        """The services configured in outreach.yaml, in a fixed order."""
        return tuple(name for name in SERVICES if getattr(self.settings, name) is not None)

    @property
    def max_body(self) -> int:
        return self.settings.max_body

    def _secret(self, env: Mapping[str, str], service: str, name: str) -> str | None:
        value = (env.get(name) or "").strip()
        if not value:
            self.problems.append(f"email_events.{service}: ${name} is not set, so /hooks/{service} answers 503 "
                                 "(set it and restart outreach serve)")  # fmt: skip
        return value or None

    def _load_sendgrid_key(self, env: Mapping[str, str]) -> sendgrid.ec.EllipticCurvePublicKey | None:
        if self.settings.sendgrid is None:
            return None
        name = self.settings.sendgrid.public_key_env
        value = self._secret(env, "sendgrid", name)
        try:
            return sendgrid.load_key(value) if value else None
        except ValueError as exc:
            self.problems.append(f"email_events.sendgrid: ${name} is {exc}, so /hooks/sendgrid answers 503 "
                                 "(copy the verification key from SendGrid's Mail Settings)")  # fmt: skip
            return None

    # -- one post ---------------------------------------------------------------------------

    def receive(self, service: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        """Check and record one post; ``headers`` with lower-case names."""
        if service not in self.services:
            return Answer(404, {"error": f"no email service {service[:40]!r} is configured (email_events)"})
        try:
            return getattr(self, f"_{service}")(body, headers)
        except HookError as exc:
            log.info("refused a post to /hooks/%s (%d): %s", service, exc.status, exc.detail)
            asks = {"WWW-Authenticate": 'Basic realm="hooks"'} if exc.status == 401 and service == "postmark" else {}
            return Answer(exc.status, {"error": exc.detail}, asks)
        except SQLAlchemyError:
            log.exception("the database failed while recording a post to /hooks/%s", service)
            return Answer(503, {"error": "cannot record it now; send it again later"})

    def _ses(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        assert self.settings.ses is not None
        message = ses.read(body, self.settings.ses.topic_arns, self.certificates, self.clock())
        if message.type == ses.SUBSCRIBE:
            return self._confirm(message)
        if message.type == ses.UNSUBSCRIBE:
            log.warning("SNS ended the subscription of %s to /hooks/ses", message.topic_arn)
            return Answer(200, {"unsubscribed": message.topic_arn})
        return self._record(ses.events(message))

    def _confirm(self, message: ses.SnsMessage) -> Answer:
        url = ses.subscribe_url(message)
        try:
            self.fetch(url)
        except Exception as exc:  # noqa: BLE001 - AWS unreachable or refusing: SNS sends the confirmation again
            raise HookError(f"could not confirm the subscription now ({type(exc).__name__})", status=503) from None
        log.warning("confirmed the SNS subscription of %s to /hooks/ses", message.topic_arn)
        return Answer(200, {"subscribed": message.topic_arn})

    def _mailgun(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        assert self.settings.mailgun is not None
        key = _needed(self._mailgun_key, "mailgun")
        now = self.clock()
        payload = parse_json(body)
        token = f"mailgun:{mailgun.verify(payload, key.encode(), now, self.settings.mailgun.max_age)}"
        if replay.used(self.engine, token):
            raise HookError("this signed post was received before (a replay)", status=403)
        answer = self._record(mailgun.events(payload))
        replay.remember(self.engine, token, now, timedelta(seconds=self.settings.mailgun.max_age + mailgun.FUTURE_SKEW))
        return answer

    def _sendgrid(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        key = _needed(self._sendgrid_key, "sendgrid")
        sendgrid.verify(body, headers.get(sendgrid.SIGNATURE), headers.get(sendgrid.TIMESTAMP), key)
        return self._record(sendgrid.events(parse_json(body)))

    def _postmark(self, body: bytes, headers: Mapping[str, str]) -> Answer:
        assert self.settings.postmark is not None
        password = _needed(self._postmark_password, "postmark")
        postmark.check(headers.get("authorization"), self.settings.postmark.username, password)
        return self._record(postmark.events(parse_json(body)))

    def _record(self, parsed: Parsed) -> Answer:
        report = record_events(self.engine, parsed.events, self.policy, self.limits, self.clock())
        for why in report.paused:
            log.warning("guardrail: %s", why)
        recorded = max(0, len(parsed.events) - report.duplicates - report.unmatched)
        return Answer(200, {"events": len(parsed.events), "recorded": recorded, "already_recorded": report.duplicates,
                            "unmatched": report.unmatched, "suppressed": report.suppressed,
                            "ignored": parsed.ignored})  # fmt: skip


def _needed(secret: T | None, service: str) -> T:
    if secret is None:
        raise HookError(f"email_events.{service}: its secret is missing from the environment", status=503)
    return secret
