"""The events a hook records: what one email service reported, in the shape of a message read from mail."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from outreach.tracking.bounces import BounceVerdict, Failure
from outreach.tracking.classify import Classification


@dataclass(frozen=True)
class ServiceEvent:
    """One bounce, complaint or unsubscribe an email service reported, ready to record.

    ``event_id`` is the service's own id of the event (SES's feedback id, Mailgun's event id,
    SendGrid's sg_event_id, Postmark's bounce id): the same event sent twice is recorded once.
    ``message_ids`` are the Message-IDs of our message it is about, when the service passes them on.
    """

    service: str
    event_id: str
    kind: str  # bounce | complaint | unsubscribe
    failures: tuple[Failure, ...] = ()
    recipients: tuple[str, ...] = ()
    message_ids: tuple[str, ...] = ()
    feedback_type: str | None = None
    subject: str | None = None

    @property
    def source_id(self) -> str:
        return f"{self.service}:{self.event_id}"[:250]

    def classification(self) -> Classification:
        """The same record a message read from the mailbox makes, for ``ingest.record_classified``."""
        base = Classification(kind=self.kind, message_id=self.source_id, subject=self.subject,
                              related_ids=self.message_ids)  # fmt: skip
        if self.kind != "bounce":
            return replace(base, reason=self.feedback_type, recipients=self.recipients)
        verdict = BounceVerdict(False, self.failures)
        return replace(base, hard=verdict.hard, reason=verdict.reason, status=verdict.status,
                       recipients=verdict.recipients, failures=verdict.counted, stage=verdict.stage)  # fmt: skip


@dataclass
class Parsed:
    """What a post holds: the events to record, and how many others (deliveries, opens...) it ignored."""

    events: list[ServiceEvent] = field(default_factory=list)
    ignored: int = 0
