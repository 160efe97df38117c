"""What ``GET /metrics`` reports, read from the database when Prometheus scrapes.

Nothing is counted in memory: several processes (``campaign send``, any number
of workers, the web app) change the same rows, and only the database knows
the sum. So the collector runs a handful of queries per scrape, each one read
from an index (``ix_outbox_claim`` for the states, ``ix_outbox_sent_at`` for the
last minute, ``ix_events_kind_campaign`` for bounces and complaints): about as
cheap on a 200,000-message outbox as on an empty one (``bench/metrics.py``).

``COLLECTORS`` is the list of functions the collector calls, each
``(engine, now) -> metric families``: another part (webhooks) adds or replaces
its own by name, without touching the others. Every metric is named
``outreach_…``. Counters come from rows that only ever grow (sent messages,
bounce and complaint events), so ``rate()`` works on them.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine, func, select

from outreach import __version__
from outreach.operations.heartbeat import last_mailbox_poll, worker_status
from outreach.storage import transaction, utcnow
from outreach.storage.models import Campaign, Event, Outbox

Collect = Callable[[Engine, datetime], Iterable[Metric]]
WAITING = ("queued", "retry", "claimed")  # the queue: messages not yet handed to the relay
STATES = ("queued", "claimed", "sending", "retry", "sent", "failed", "uncertain", "suppressed", "cancelled")


def _ts(t: datetime) -> float:
    """A naive UTC time from the database as Unix seconds."""
    return t.replace(tzinfo=UTC).timestamp()


def _campaign_names(engine: Engine) -> dict[int | None, str]:
    with transaction(engine) as session:
        names: dict[int | None, str] = {i: n for i, n in session.execute(select(Campaign.id, Campaign.name))}
    names[None] = ""
    return names


def messages(engine: Engine, now: datetime) -> Iterator[Metric]:
    """Messages by campaign and state, the queue, and the sent counter (one grouped read of the claim index)."""
    with transaction(engine) as session:
        rows = session.execute(select(Outbox.campaign_id, Outbox.state, func.count())
                               .group_by(Outbox.campaign_id, Outbox.state)).all()  # fmt: skip
    names = _campaign_names(engine)
    by_state = GaugeMetricFamily("outreach_messages", "Outbox messages by campaign and state",
                                 labels=["campaign", "state"])  # fmt: skip
    totals: dict[str, int] = defaultdict(int)
    for campaign_id, state, n in rows:
        by_state.add_metric([names.get(campaign_id, str(campaign_id)), state], n)
        totals[state] += n
    yield by_state
    yield GaugeMetricFamily("outreach_queue_depth", "Messages waiting to be sent (queued, retry, claimed)",
                            value=sum(totals[s] for s in WAITING))  # fmt: skip
    yield CounterMetricFamily("outreach_messages_sent", "Messages the relay accepted, ever", value=totals["sent"])


def send_rate(engine: Engine, now: datetime) -> Iterator[Metric]:
    """Messages sent in the last minute, and that as a rate per second."""
    with transaction(engine) as session:
        n = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.sent_at >= now - timedelta(minutes=1)))
    yield GaugeMetricFamily("outreach_sent_last_minute", "Messages sent in the last 60 seconds", value=n or 0)
    yield GaugeMetricFamily("outreach_send_rate", "Messages sent per second, over the last 60 seconds",
                            value=(n or 0) / 60)  # fmt: skip


def returns(engine: Engine, now: datetime) -> Iterator[Metric]:
    """Bounces and complaints recorded, by campaign (unmatched ones under campaign="")."""
    with transaction(engine) as session:
        rows = session.execute(select(Event.kind, Event.campaign_id, func.count())
                               .where(Event.kind.in_(("bounced", "complained")))
                               .group_by(Event.kind, Event.campaign_id)).all()  # fmt: skip
    names = _campaign_names(engine) if rows else {}
    bounces = CounterMetricFamily("outreach_bounces", "Bounces recorded, by campaign", labels=["campaign"])
    complaints = CounterMetricFamily("outreach_complaints", "Complaints recorded, by campaign", labels=["campaign"])
    for kind, campaign_id, n in rows:
        (bounces if kind == "bounced" else complaints).add_metric([names.get(campaign_id, str(campaign_id))], n)
    yield bounces
    yield complaints


def campaigns(engine: Engine, now: datetime) -> Iterator[Metric]:
    with transaction(engine) as session:
        rows = session.execute(select(Campaign.state, func.count()).group_by(Campaign.state)).all()
    family = GaugeMetricFamily("outreach_campaigns", "Campaigns by state", labels=["state"])
    for state, n in rows:
        family.add_metric([state], n)
    yield family


def worker(engine: Engine, now: datetime) -> Iterator[Metric]:
    """Is a worker alive, how old its heartbeat is, when its last pass was (absent: no worker ever ran)."""
    status = worker_status(engine, now)
    yield GaugeMetricFamily("outreach_worker_up", "1 while an outreach worker's heartbeat is fresh, else 0",
                            value=1 if status.alive else 0)  # fmt: skip
    yield GaugeMetricFamily("outreach_workers_alive", "Workers whose heartbeat is fresh", value=len(status.live))
    if status.age is not None:
        yield GaugeMetricFamily("outreach_worker_heartbeat_age_seconds", "Seconds since the newest worker heartbeat",
                                value=status.age)  # fmt: skip
    if status.last_pass is not None:
        yield GaugeMetricFamily("outreach_worker_last_pass_timestamp_seconds",
                                "When a worker last finished a pass over due campaigns", value=_ts(status.last_pass))


def mailbox(engine: Engine, now: datetime) -> Iterator[Metric]:
    """The last IMAP poll (worker or ``track poll``); absent until the mailbox was polled once."""
    poll = last_mailbox_poll(engine)
    if poll is None:
        return
    yield GaugeMetricFamily("outreach_imap_last_poll_timestamp_seconds", "When the IMAP mailbox was last polled",
                            value=_ts(poll.at))  # fmt: skip
    yield GaugeMetricFamily("outreach_imap_last_poll_success", "1 if the last IMAP poll worked, else 0",
                            value=1 if poll.ok else 0)  # fmt: skip
    if poll.last_ok_at is not None:
        yield GaugeMetricFamily("outreach_imap_last_success_timestamp_seconds",
                                "When an IMAP poll last worked", value=_ts(poll.last_ok_at))


def webhook_backlog(engine: Engine, now: datetime) -> Iterator[Metric]:
    """Webhook deliveries waiting. 0 until the webhooks land: they replace this function in COLLECTORS."""
    yield GaugeMetricFamily("outreach_webhook_backlog", "Webhook deliveries waiting to be made", value=0)


def build_info(engine: Engine, now: datetime) -> Iterator[Metric]:
    family = GaugeMetricFamily("outreach_build_info", "The running version of outreach", labels=["version"])
    family.add_metric([__version__], 1)
    yield family


COLLECTORS: list[Collect] = [build_info, messages, send_rate, returns, campaigns, worker, mailbox, webhook_backlog]


class DatabaseCollector(Collector):
    """A Prometheus collector that reads the database on every scrape, through ``collectors``."""

    def __init__(self, engine: Engine, collectors: Sequence[Collect] | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:  # fmt: skip
        self.engine, self.clock = engine, clock
        self.collectors = list(COLLECTORS if collectors is None else collectors)

    def describe(self) -> Iterable[Metric]:
        return ()  # registering must not query the database; names are checked by their prefix in the tests

    def collect(self) -> Iterable[Metric]:
        started, now = time.perf_counter(), self.clock()
        for collect in self.collectors:
            yield from collect(self.engine, now)
        yield GaugeMetricFamily("outreach_scrape_duration_seconds", "Seconds this scrape spent reading the database",
                                value=time.perf_counter() - started)  # fmt: skip


def registry(engine: Engine, collectors: Sequence[Collect] | None = None) -> CollectorRegistry:
    """A registry of our own (not prometheus_client's global one): only ``outreach_`` metrics, per app."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DatabaseCollector(engine, collectors))
    return reg
