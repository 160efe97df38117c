"""``outreach worker``: the long-running scheduler, one APScheduler job per concern.

=============  ======================  ===============================================
job            trigger                 does
=============  ======================  ===============================================
``leases``     every third of a lease  takes over the messages of senders that died
                                       (their lease ran out): never attempted → queued,
                                       mid-attempt → uncertain
``steps``      every ``--interval``    creates the follow-up step rows that came due;
                                       finishes campaigns with nothing left to send
``campaigns``  every ``--interval``    starts a ``send:NAME`` job for each campaign with
                                       work due now: a scheduled start that came, retries
                                       whose backoff ended, rows a window held or a
                                       stopped send left, the rows ``steps`` made
``send:NAME``  once, from campaigns    the engine, until nothing is due within
                                       ``--interval``
``mailbox``    ``imap.poll_every``     replies, bounces and complaints from IMAP
``heartbeat``  every 15 s              the worker's sign of life (operations/heartbeat.py);
                                       ``campaigns`` also writes it at the end of each
                                       pass, with what the pass did
``webhook:N``  every second            the N-th receiver of ``webhooks:``: queues the
                                       new events, POSTs what is due (webhooks/)
=============  ======================  ===============================================

Every job outlives its own failures: an error is logged — expected ones as one
line, anything else through the scheduler's error events — and the job runs
again at its next time, so a broken mailbox never stops sending and a broken
relay never stops the mailbox. A database outage is expected too: the worker
logs when it begins and when it ends (storage/outage.py, one view shared by
every job), each job just runs again at its next time meanwhile, a send under
way rides it out for ``database.outage_timeout`` and is started again once the
database is back, and no lease is taken over until one lease after that (no
sender could renew its own meanwhile). A campaign whose run could send nothing (the
relay is unreachable, the daily cap is reached, its content has an error) is
tried again after a growing pause, ``--interval`` doubling up to five
minutes, instead of every tick.
``max_instances=1`` and ``coalesce``: a job that overruns its interval is not
started twice and its missed runs collapse into one; ``misfire_grace_time=None``:
a run delayed by a busy machine still runs.

SIGINT/SIGTERM (outreach/stopping.py): no job starts any more, sends in
progress finish their messages in flight and give the rest back to the queue,
a mailbox poll under way finishes, and the worker exits with status 0.
Several workers on one PostgreSQL database share the work: claims skip rows
another worker holds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, and_, exists, or_, select

from outreach.campaigns.definition import load_campaign
from outreach.campaigns.sequences import schedule_steps
from outreach.errors import DatabaseUnavailable, OutreachError
from outreach.operations.heartbeat import HEARTBEAT_EVERY, Heartbeat
from outreach.sending.engine import SendOptions, SendReport, load_campaign_row, send_campaign, worker_id
from outreach.settings.config import Webhook
from outreach.settings.workspace import WorkspaceConfig
from outreach.stopping import stop_requests
from outreach.storage import outbox, transaction, utcnow
from outreach.storage.models import Campaign, Outbox
from outreach.storage.outage import Outage, is_outage
from outreach.webhooks.runner import Deliverer

log = logging.getLogger("outreach.worker")

MAX_PAUSE = 300.0  # seconds: the longest wait before trying a campaign that could send nothing again
WEBHOOK_EVERY = 1.0  # seconds between a receiver's passes (an idle pass is two reads)
Job = Callable[..., Awaitable[None]]


@dataclass
class WorkerStats:
    ticks: int = 0  # passes of the ``campaigns`` job
    sent: int = 0
    failed: int = 0
    polled: int = 0  # inbound messages read from the IMAP mailbox


def due_campaigns(engine: Engine, now: datetime) -> list[str]:
    """Campaigns with work due now: a scheduled start that came, or rows due to be claimed."""
    rows_due = exists().where(
        Outbox.campaign_id == Campaign.id, Outbox.state.in_(("queued", "retry")),
        or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now),
    )  # fmt: skip
    query = select(Campaign.name).where(or_(
        and_(Campaign.state == "scheduled", Campaign.schedule_at.is_not(None), Campaign.schedule_at <= now),
        and_(Campaign.state == "sending", rows_due),
    )).order_by(Campaign.name)  # fmt: skip
    with transaction(engine) as session:
        return list(session.scalars(query))


def idle_campaigns(engine: Engine) -> list[str]:
    """Campaigns still ``sending`` with nothing pending: follow-up steps to come, or done but not marked so."""
    pending = exists().where(Outbox.campaign_id == Campaign.id, Outbox.state.in_(outbox.PENDING))
    query = select(Campaign.name).where(Campaign.state == "sending", ~pending).order_by(Campaign.name)
    with transaction(engine) as session:
        return list(session.scalars(query))


class Worker:
    def __init__(self, ws: WorkspaceConfig, engine: Engine, stop: asyncio.Event, *, interval: float,
                 on_report: Callable[[SendReport], None] | None = None) -> None:  # fmt: skip
        self.ws, self.engine, self.stop, self.interval, self.on_report = ws, engine, stop, interval, on_report
        self.stats = WorkerStats()
        self.sending: set[str] = set()  # campaigns with a send job under way
        self.pauses: dict[str, tuple[int, float]] = {}  # campaign -> (runs that sent nothing, monotonic next try)
        self.busy: set[asyncio.Task[Any]] = set()
        self.scheduler: AsyncIOScheduler | None = None
        self.id = worker_id()
        self.heartbeat = Heartbeat(engine, self.id, socket.gethostname(), os.getpid(), utcnow())
        self.due: list[str] = []  # what the last pass found due
        self.deliverer = Deliverer(ws, engine, self.id)
        self.outage = Outage(ws.settings.database.outage_timeout)  # shared by the jobs and the sends they run

    # -- the jobs ---------------------------------------------------------------------

    async def take_over_leases(self) -> None:
        if self.outage.recovered_within(self.ws.settings.lease):  # nobody could renew during the outage
            return
        requeued, uncertain = outbox.expire_leases(self.engine, utcnow())
        if requeued or uncertain:
            log.warning("took over the messages of a sender that stopped: %d queued again, %d uncertain",
                        requeued, uncertain, extra={"requeued": requeued, "uncertain": uncertain})  # fmt: skip

    async def follow_up_steps(self) -> None:
        """Step rows that came due (the ``campaigns`` job sends them); a campaign with no step left to
        come and nothing pending gets one more send run, whose end marks it done."""
        now = utcnow()
        for name in idle_campaigns(self.engine):
            if name in self.sending or self._paused(name):
                continue
            try:
                spec = load_campaign(self.ws, name)
                campaign_id = load_campaign_row(self.engine, name).id
                steps = schedule_steps(self.ws, self.engine, spec, campaign_id, now) if spec.file.steps else None
            except OutreachError as exc:  # its file is gone or broken: it stays so until someone acts
                self._pause(name, str(exc), logging.ERROR)
                continue
            if steps is None or (not steps.created and not steps.waiting):
                self._start(name)
            elif steps.created:
                log.info("campaign %s: %d follow-up message(s) came due", name, steps.created,
                         extra={"campaign": name, "created": steps.created})

    async def dispatch(self) -> None:
        self.stats.ticks += 1
        self.due = due_campaigns(self.engine, utcnow())
        for name in self.due:
            self._start(name)
        if self.scheduler is not None:  # --once beats when its whole pass is done
            await asyncio.to_thread(self.heartbeat.beat, utcnow(), self.last_pass())

    async def beat(self) -> None:
        """The sign of life between passes (a pass beats too): ``outreach worker --status``, /metrics."""
        await asyncio.to_thread(self.heartbeat.beat, utcnow())

    def last_pass(self) -> dict[str, Any]:
        """What the last pass did, as the heartbeat keeps it (operations.heartbeat.pass_summary reads it)."""
        return {"due": list(self.due), "sending": sorted(self.sending),
                "totals": {"sent": self.stats.sent, "failed": self.stats.failed, "polled": self.stats.polled,
                           "passes": self.stats.ticks}}  # fmt: skip

    def _start(self, name: str) -> None:
        if name in self.sending or self.stop.is_set() or self._paused(name):
            return
        self.sending.add(name)
        if self.scheduler is None:  # --once: the caller awaits the sends in turn
            return
        self.scheduler.add_job(self._tracked(self.send), args=(name,), id=f"send:{name}", name=f"send:{name}",
                               replace_existing=True)  # fmt: skip

    async def send(self, name: str, wait_for_retries: timedelta | None = None) -> None:
        options = SendOptions(stop=self.stop, wait_for_retries=wait_for_retries or timedelta(seconds=self.interval),
                              outage=self.outage)  # fmt: skip
        try:
            report = await send_campaign(self.ws, self.engine, name, options=options)
        except DatabaseUnavailable as exc:  # not the campaign's fault: the next pass after the outage starts it
            log.warning("%s; what was not sent stays queued and is sent when the database is back", exc)
            return
        except OutreachError as exc:  # a content error, a campaign file gone: it stays so until someone acts
            self._pause(name, str(exc), logging.ERROR)
            return
        finally:
            self.sending.discard(name)
        self.stats.sent += report.sent
        self.stats.failed += report.failed
        if self.on_report:
            self.on_report(report)
        if report.attempted or report.state != "sending" or self.stop.is_set():
            self.pauses.pop(name, None)
        else:
            self._pause(name, report.fatal or report.reason or "nothing could be sent", logging.WARNING)

    def _paused(self, name: str) -> bool:
        return time.monotonic() < self.pauses.get(name, (0, 0.0))[1]

    def _pause(self, name: str, why: str, level: int) -> None:
        """A run that could send nothing: the next waits longer each time (``--interval`` doubling)."""
        failures = self.pauses.get(name, (0, 0.0))[0] + 1
        pause = min(self.interval * 2 ** (failures - 1), MAX_PAUSE)
        self.pauses[name] = (failures, time.monotonic() + pause)
        then = f"trying again in {pause:.0f}s" if self.scheduler is not None else "the next run tries again"
        log.log(level, "campaign %s: %s; %s", name, why, then, extra={"campaign": name, "failures": failures})

    async def poll_mailbox(self) -> None:
        """imaplib blocks, so the poll runs in a thread; a failed poll is logged and runs again next time."""
        from outreach.tracking.imap import poll_and_promote

        try:
            report, promoted = await asyncio.to_thread(poll_and_promote, self.ws, self.engine)
        except OutreachError as exc:
            log.error("mailbox poll: %s", exc)
            return
        self.stats.polled += report.new
        log.info("%s; %d new follow-up(s)", report.summary().replace("\n", "; "), promoted,
                 extra={"new": report.new, "moved": report.moved, "errors": report.errors, "followups": promoted})

    def deliver_webhooks(self, hook: Webhook) -> Job:
        """The job of one receiver: a pass of its deliveries; a failure is logged and the next pass runs."""

        async def webhooks() -> None:
            try:
                report = await self.deliverer.run(hook, self.stop)
            except OutreachError as exc:
                log.error("webhook %s: %s", hook.url, exc)
                return
            if report.attempted:
                log.info("webhook %s: %d delivered, %d failed (retried later), %d dead-lettered", hook.url,
                         report.delivered, report.failed, report.dead)  # fmt: skip

        return webhooks

    # -- running them -------------------------------------------------------------------

    def _tracked(self, job: Job) -> Job:
        """The job as the scheduler runs it: not at all once stopping, and awaited by the shutdown."""

        async def run(*args: Any) -> None:
            if self.stop.is_set():
                return
            task = asyncio.current_task()
            assert task is not None
            self.busy.add(task)
            try:
                await self._outlasting(job, *args)
            finally:
                self.busy.discard(task)

        run.__name__ = run.__qualname__ = job.__name__
        return run

    def _on_event(self, event: JobEvent) -> None:
        """The scheduler's own error events: a job that raised, missed its time, or overran."""
        if event.code == EVENT_JOB_ERROR:
            log.error("job %s failed: %r; it runs again at its next time\n%s", event.job_id, event.exception,
                      getattr(event, "traceback", "") or "")  # fmt: skip
        elif event.code == EVENT_JOB_MISSED:
            log.warning("job %s missed its run at %s", event.job_id, event.scheduled_run_time)
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            log.warning("job %s is still running; this run is skipped", event.job_id)

    async def serve(self) -> None:
        """Run the jobs until ``stop`` is set, then let the work under way finish."""
        scheduler = AsyncIOScheduler(timezone=self.ws.tz, job_defaults={
            "max_instances": 1, "coalesce": True, "misfire_grace_time": None})  # fmt: skip
        scheduler.add_listener(self._on_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)
        now = datetime.now(self.ws.tz)
        jobs: list[tuple[str, Job, float]] = [
            ("leases", self.take_over_leases, max(self.ws.settings.lease / 3, 1.0)),
            ("steps", self.follow_up_steps, self.interval),
            ("campaigns", self.dispatch, self.interval),
            ("heartbeat", self.beat, HEARTBEAT_EVERY),
        ]
        if self.ws.settings.imap is not None:
            jobs.append(("mailbox", self.poll_mailbox, self.ws.settings.imap.poll_every))
        jobs += [(f"webhook:{n}", self.deliver_webhooks(hook), WEBHOOK_EVERY)
                 for n, hook in enumerate(self.ws.settings.webhooks, 1)]  # fmt: skip
        for job_id, job, every in jobs:
            scheduler.add_job(self._tracked(job), "interval", seconds=every, id=job_id, name=job_id, next_run_time=now)
        self.scheduler = scheduler
        await asyncio.to_thread(self.heartbeat.start, utcnow())
        scheduler.start()
        try:
            await self.stop.wait()
        finally:
            scheduler.pause()
            while self.busy:  # sends give back what they have not attempted; a mailbox poll finishes
                await asyncio.gather(*self.busy, return_exceptions=True)
            scheduler.shutdown(wait=False)
            await asyncio.to_thread(self.heartbeat.stop, utcnow(), self.last_pass())

    async def once(self) -> None:
        """Every job once, in order, each surviving the others' failures (for cron); the heartbeat records
        the pass, and that this worker is not running any more."""
        await asyncio.to_thread(self.heartbeat.start, utcnow())
        for job in (self.take_over_leases, self.follow_up_steps, self.dispatch):
            await self._survive(job)
        due = sorted(self.sending)
        for name in due:
            if not self.stop.is_set():
                await self._survive(self.send, name, timedelta(0))
        self.sending.clear()
        if self.ws.settings.imap is not None and not self.stop.is_set():
            await self._survive(self.poll_mailbox)
        for hook in self.ws.settings.webhooks:
            if not self.stop.is_set():
                await self._survive(self.deliver_webhooks(hook))
        await asyncio.to_thread(self.heartbeat.stop, utcnow(), {**self.last_pass(), "sending": due})

    async def _outlasting(self, job: Job, *args: Any) -> None:
        """The job, once; a database outage ends it quietly (the outage is logged once, for all jobs) and
        it runs again at its next time. Any other error goes on to the scheduler's error event."""
        try:
            await job(*args)
        except Exception as exc:
            if not (is_outage(exc) or isinstance(exc, DatabaseUnavailable)):
                raise
            self.outage.fail(job.__name__, exc)
            return
        self.outage.ok(job.__name__)

    async def _survive(self, job: Job, *args: Any) -> None:
        try:
            await self._outlasting(job, *args)
        except Exception:  # noqa: BLE001 - with no scheduler to report it, one failed job must not stop the rest
            log.exception("job %s failed", job.__name__)


async def run_worker(ws: WorkspaceConfig, engine: Engine, *, once: bool = False, interval: float = 10.0,
                     on_report: Callable[[SendReport], None] | None = None,
                     stop: asyncio.Event | None = None) -> WorkerStats:  # fmt: skip
    async with stop_requests(stop or asyncio.Event()) as stop_event:
        worker = Worker(ws, engine, stop_event, interval=interval, on_report=on_report)
        await (worker.once() if once else worker.serve())
    return worker.stats
