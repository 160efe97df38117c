"""The sending engine: claim rows, personalise, send, record — without ever sending twice.

Each SMTP connection is a task that takes prepared messages from a queue.
Before a message's SMTP transaction starts, its row is committed as
``sending``; afterwards its result is committed. Those commits are grouped
(one transaction for whatever the connections produced meanwhile), so the
guarantee costs little: at most the messages in flight can end ``uncertain``
if the process dies.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, select

from outreach.campaigns.builder import preflight
from outreach.campaigns.definition import CampaignSpec, load_campaign
from outreach.campaigns.messages import MessageFactory
from outreach.config import Workspace
from outreach.contacts import ContactView
from outreach.errors import NotFoundError, StateError, TemplateError
from outreach.sending.smtp import Outcome, Relay
from outreach.sending.throttle import TokenBucket
from outreach.storage import outbox, transaction, utcnow
from outreach.storage.models import Campaign, Contact, Outbox

Progress = Callable[["SendReport"], None]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"


@dataclass
class SendOptions:
    worker: str = field(default_factory=worker_id)
    lease: timedelta = timedelta(seconds=45)
    batch: int = 200
    wait_for_retries: timedelta = timedelta(minutes=2)  # keep running while retries are this close
    now: Callable[[], datetime] = utcnow


@dataclass
class SendReport:
    campaign: str
    total: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    state: str = ""
    reason: str = ""
    fatal: str | None = None  # the run stopped because the relay could not be reached
    started: float = field(default_factory=time.monotonic)

    @property
    def attempted(self) -> int:
        return self.sent + self.failed

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.sent / elapsed if elapsed > 0 else 0.0


@dataclass
class _Job:
    row_id: int
    email: str
    attempts: int
    data: bytes
    envelope_from: str


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with +-20% jitter, so retries of a burst do not stampede."""
    return min(cap, base * (2 ** max(attempt - 1, 0))) * rng.uniform(0.8, 1.2)


class _Committer:
    """Group commit: callers await durability; one transaction serves all who are waiting."""

    def __init__(self, engine: Engine, options: SendOptions) -> None:
        self.engine = engine
        self.options = options
        self.marks: list[tuple[int, asyncio.Future[bool]]] = []
        self.results: list[tuple[outbox.Result, asyncio.Future[bool]]] = []
        self.wakeup = asyncio.Event()

    async def mark_sending(self, row_id: int) -> bool:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.marks.append((row_id, fut))
        self.wakeup.set()
        return await fut

    async def record(self, result: outbox.Result) -> None:
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.results.append((result, fut))
        self.wakeup.set()
        await fut

    def flush(self) -> None:
        marks, self.marks = self.marks, []
        results, self.results = self.results, []
        if not marks and not results:
            return
        now = self.options.now()
        try:
            with transaction(self.engine) as session:
                outbox.record(session, [r for r, _ in results], self.options.worker, now)
                owned = outbox.mark_sending(
                    session, [i for i, _ in marks], self.options.worker, now, self.options.lease
                )
        except Exception as exc:
            for _, fut in marks + results:  # type: ignore[operator]
                if not fut.done():
                    fut.set_exception(exc)
            raise
        for i, fut in marks:
            fut.set_result(i in owned)
        for _, fut in results:
            fut.set_result(True)

    async def run(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            await asyncio.sleep(0)  # let every connection that is ready add its row first
            self.flush()


class CampaignSender:
    def __init__(self, ws: Workspace, engine: Engine, spec: CampaignSpec, campaign: Campaign,
                 options: SendOptions, progress: Progress | None) -> None:  # fmt: skip
        self.ws, self.engine, self.spec, self.campaign = ws, engine, spec, campaign
        self.options = options
        self.progress = progress
        self.factory = MessageFactory.for_campaign(ws, engine, spec, campaign.id)
        self.report = SendReport(campaign=spec.name)
        self.rng = random.Random()
        t = spec.throttle
        self.bucket = TokenBucket(t.rate)
        self.queue: asyncio.Queue[_Job | None] = asyncio.Queue(maxsize=t.connections * 4)
        self.committer = _Committer(engine, options)
        self.stop_reason = ""
        self.fatal: str | None = None
        self.connect_failures = 0

    def _check_content(self) -> None:
        if self.campaign.preflight_ok and self.campaign.content_hash == self.factory.content_hash:
            return
        preflight(self.engine, self.factory, self.campaign.id)
        with transaction(self.engine) as session:
            row = session.get(Campaign, self.campaign.id)
            assert row is not None
            row.content_hash, row.preflight_ok = self.factory.content_hash, True

    def _prepare(self, row: Outbox, contact: Contact) -> _Job:
        view = ContactView.of(contact)
        prepared = self.factory.prepare(view, row.message_id, row.email, int(row.variant or 0))
        return _Job(row.id, row.email, row.attempts, prepared.data, prepared.envelope_from)

    async def _connection(self) -> None:
        relay = Relay(self.ws.settings.smtp)
        try:
            while (job := await self.queue.get()) is not None:
                if not await self.committer.mark_sending(job.row_id):
                    continue  # lease lost (e.g. reaped): another worker owns it now
                await self.bucket.acquire()
                outcome = await relay.send(
                    job.envelope_from, job.email, job.data, self.spec.throttle.messages_per_connection
                )
                await self.committer.record(self._result(job, outcome))
        finally:
            await relay.close()

    def _result(self, job: _Job, outcome: Outcome) -> outbox.Result:
        if outcome.untouched:
            # the relay is unreachable: hand the row back untouched; stop after a few in a row
            self.connect_failures += 1
            if self.connect_failures >= 3 and not self.fatal:
                self.fatal = outcome.text
            return outbox.Result(job.row_id, "queued")
        self.connect_failures = 0
        if outcome.kind == "sent":
            self.report.sent += 1
            self.bucket.recover()
            return outbox.Result(job.row_id, "sent", outcome.code)
        if outcome.code == 421 or outcome.connection:
            self.bucket.slow_down()
        error = f"{outcome.code} {outcome.text}" if outcome.code else outcome.text
        retry = self.spec.retry
        if outcome.kind == "temporary" and job.attempts + 1 < retry.attempts:
            self.report.retried += 1
            delay = backoff(job.attempts + 1, retry.backoff, retry.max_backoff, self.rng)
            when = self.options.now() + timedelta(seconds=delay)
            return outbox.Result(job.row_id, "retry", outcome.code, error, next_attempt_at=when)
        self.report.failed += 1
        if outcome.kind == "temporary":
            error = f"gave up after {job.attempts + 1} attempts: {error}"
        return outbox.Result(
            job.row_id, "failed", outcome.code, error,
            suppress_reason="hard_bounce" if outcome.hard else None,
        )  # fmt: skip

    async def run(self) -> SendReport:
        self._check_content()
        _set_state(self.engine, self.campaign.id, "sending", None)
        outbox.expire_leases(self.engine, self.options.now())
        committer = asyncio.create_task(self.committer.run())
        conns = [asyncio.create_task(self._connection()) for _ in range(self.spec.throttle.connections)]
        renewer = asyncio.create_task(self._renew())
        try:
            await self._feed()
        finally:
            for _ in conns:
                await self.queue.put(None)
            await asyncio.gather(*conns, return_exceptions=True)
            self.committer.flush()
            for task in (committer, renewer):
                task.cancel()
            outbox.release(self.engine, self.options.worker, self.options.now())
        self._finish()
        return self.report

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self.options.lease.total_seconds() / 4)
            outbox.renew(self.engine, self.options.worker, self.options.now(), self.options.lease)

    async def _feed(self) -> None:
        while True:
            if self.fatal:
                return
            state = outbox.campaign_state(self.engine, self.campaign.id)
            if state in ("paused", "cancelled"):
                self.stop_reason = state
                return
            rows = outbox.claim(self.engine, self.campaign.id, self.options.worker,
                                self.options.batch, self.options.lease, self.options.now())  # fmt: skip
            if not rows:
                if not await self._wait_for_retries():
                    return
                continue
            for row, contact in rows:
                await self.queue.put(self._prepare(row, contact))
                if self.progress:
                    self.progress(self.report)

    async def _wait_for_retries(self) -> bool:
        with transaction(self.engine) as session:
            due = outbox.next_retry_at(session, self.campaign.id)
            busy = outbox.state_counts(session, self.campaign.id)
        in_flight = busy.get("claimed", 0) + busy.get("sending", 0)
        now = self.options.now()
        if due is None and not in_flight:
            return False
        if due is not None and due - now > self.options.wait_for_retries and not in_flight:
            self.stop_reason = f"retries due from {due:%Y-%m-%d %H:%M} UTC; run send again or a worker"
            return False
        wait = (due - now).total_seconds() if due is not None else 0.2
        await asyncio.sleep(min(max(wait, 0.05), 1.0))
        return True

    def _finish(self) -> None:
        with transaction(self.engine) as session:
            counts = outbox.state_counts(session, self.campaign.id)
            row = session.get(Campaign, self.campaign.id)
            assert row is not None
            pending = sum(counts.get(s, 0) for s in outbox.PENDING)
            if row.state == "sending" and not pending:
                row.state, row.state_reason = "done", None
            self.report.state = row.state
            self.report.reason = row.state_reason or self.stop_reason
            self.report.fatal = self.fatal
            self.report.total = sum(counts.values())


def _set_state(engine: Engine, campaign_id: int, state: str, reason: str | None) -> None:
    with transaction(engine) as session:
        row = session.get(Campaign, campaign_id)
        assert row is not None
        row.state, row.state_reason, row.updated_at = state, reason, utcnow()


def load_campaign_row(engine: Engine, name: str) -> Campaign:
    with transaction(engine) as session:
        row = session.scalar(select(Campaign).where(Campaign.name == name))
    if row is None:
        raise NotFoundError(f"campaign {name!r} has not been built yet; run `outreach campaign build {name}`")
    return row


async def send_campaign(ws: Workspace, engine: Engine, name: str, *, options: SendOptions | None = None,
                        progress: Progress | None = None) -> SendReport:  # fmt: skip
    spec = load_campaign(ws, name)
    campaign = load_campaign_row(engine, name)
    if campaign.state == "cancelled":
        raise StateError(f"campaign {name} is cancelled; nothing more will be sent")
    if campaign.state == "paused":
        raise StateError(f"campaign {name} is paused ({campaign.state_reason or 'by a user'}); "
                         f"run `outreach campaign resume {name}` first")  # fmt: skip
    sender = CampaignSender(ws, engine, spec, campaign, options or SendOptions(), progress)
    return await sender.run()


__all__ = ["SendOptions", "SendReport", "TemplateError", "send_campaign", "backoff"]
