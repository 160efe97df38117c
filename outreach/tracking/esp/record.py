"""Recording what a service reported: the same path, and the same guardrails, as mail."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine

from outreach.settings.config import Guardrails
from outreach.tracking.esp.events import ServiceEvent
from outreach.tracking.ingest import IngestReport, SoftBouncePolicy, check_guardrails, record_classified


def record_events(engine: Engine, events: Iterable[ServiceEvent], policy: SoftBouncePolicy, limits: Guardrails,
                  now: datetime | None = None) -> IngestReport:  # fmt: skip
    """Record each event as ``ingest`` records a message (matched to its outbox row by Message-ID, else
    by address; suppressed by its own hard flag or the soft-bounce policy; an event already recorded is
    counted in ``duplicates``), then let the guardrails pause a campaign that crossed one."""
    report = IngestReport()
    for event in events:
        record_classified(engine, event.classification(), event.source_id, None, report, now=now, policy=policy,
                          via=event.service)  # fmt: skip
    check_guardrails(engine, report, limits, now)
    return report
