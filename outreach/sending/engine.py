"""The sending engine: claim rows, personalise, send, record — never twice, never lost.

Pipeline, per worker process:

* the feeder claims a batch of due rows (a lease in the database), holds back
  those outside their recipient's sending window, renders the rest, signs
  them (DKIM; in worker processes, see ``signing.py``) and queues them, still
  only ``claimed``, for
* the connections: N SMTP sessions, each paced by the campaign's token
  bucket and by a bucket per recipient domain. Once its buckets let a
  message go, a connection asks for it to be marked ``sending`` and starts
  its transaction; MAIL FROM and RCPT TO go while the mark is committed, and
  DATA — the first command that can deliver anything — waits until it is on
  disk. The outcome goes back to
* the ledger (``recording.py``), which commits marks and outcomes together,
  in groups: the marks asked while others were in MAIL and RCPT share one
  commit, so durability costs about a commit per three messages and no wait.

A crash can leave only the rows committed as ``sending`` and not yet
answered — at most one per connection that the relay has not taken, and the
few it took in the last milliseconds (``sent`` answers are written a tick later) —
and those become ``uncertain``, never silently resent; the messages still
waiting in memory are only ``claimed`` and go back to the queue. Pause, cancel and shutdown stop the
hand-over within half a second; rows not yet attempted go back to the queue.

A database outage (PostgreSQL restarting, SQLite locked past its busy
timeout) is ridden through for up to ``database.outage_timeout``: every
database call goes through one ``Outage`` (``storage/outage.py``), which
retries with backoff; meanwhile the messages in flight finish, their
outcomes wait in the ledger, and no new transaction starts. Past the timeout
the run stops with ``DatabaseUnavailable``, having sent nothing twice.

Every claim is a lease, renewed every quarter lease (``lease`` in
outreach.yaml, 45 s). While it runs, a sender takes over the rows of its
campaign whose lease ran out — a sender that was killed — so a send started
right after a crash finishes the campaign one lease later instead of waiting
on the dead sender's rows for ever; while it waits on a live sender's rows it
says so in its progress (``SendReport.waiting``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from outreach.audience.fields import fields_of
from outreach.campaigns.builder import content_digest, preflight
from outreach.campaigns.definition import CampaignSpec, load_campaign
from outreach.campaigns.messages import MessageFactory, step_factories
from outreach.campaigns.sequences import StepsResult, schedule_steps
from outreach.campaigns.status import built_campaign
from outreach.errors import DatabaseUnavailable, StateError
from outreach.guardrails import enforce, sent_today, warmup_allowance
from outreach.sending.recording import Health, Ledger, backoff
from outreach.sending.signing import Signing
from outreach.sending.smtp import Outcome, Relay
from outreach.sending.throttle import TokenBucket
from outreach.settings.tokens import verp_address
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import outbox, transaction, utcnow
from outreach.storage.models import Campaign
from outreach.storage.outage import Outage
from outreach.workdays import SendingWindow

Progress = Callable[["SendReport"], None]


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(16**6):06x}"


@dataclass
class SendOptions:
    worker: str = field(default_factory=worker_id)
    lease: timedelta | None = None  # None: the workspace's ``lease`` setting
    batch: int = 200
    wait_for_retries: timedelta = timedelta(minutes=2)  # keep running while retries are this close
    now: Callable[[], datetime] = utcnow
    stop: asyncio.Event | None = None  # set by a signal handler: finish in-flight, release the rest
    guardrail_every: float = 5.0  # seconds between the engine's own guardrail checks
    outage: Outage | None = None  # None: a new one with the workspace's database.outage_timeout


@dataclass
class SendReport:
    campaign: str
    total: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    deferred: int = 0  # held for their sending window
    state: str = ""
    reason: str = ""
    fatal: str | None = None  # the run stopped because the relay could not be reached
    requeued: int = 0  # taken over from a sender whose lease ran out: never attempted, queued again
    uncertain: int = 0  # taken over mid-attempt: the relay may have them
    waiting: str = ""  # what the run waits for now, for its progress line ("" while it sends)
    waiting_on: tuple[str, ...] = ()  # the other senders it waits for
    started: float = field(default_factory=time.monotonic)

    @property
    def attempted(self) -> int:
        return self.sent + self.failed

    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.sent / elapsed if elapsed > 0 else 0.0

    def taken_over(self) -> str:
        return (f"took over {self.requeued + self.uncertain} message(s) from a sender that stopped: "
                f"{self.requeued} queued again, {self.uncertain} uncertain"
                + (" (the relay may have them; `outreach campaign resend-uncertain` sends them again)"
                   if self.uncertain else ""))  # fmt: skip


@dataclass
class _Job:
    row_id: int
    email: str
    attempts: int
    data: bytes
    envelope_from: str
    domain: str


class CampaignSender:
    def __init__(self, ws: WorkspaceConfig, engine: Engine, spec: CampaignSpec, campaign: Campaign,
                 options: SendOptions, progress: Progress | None) -> None:  # fmt: skip
        self.ws, self.engine, self.spec, self.campaign = ws, engine, spec, campaign
        self.options, self.progress = options, progress
        self.lease = options.lease or timedelta(seconds=ws.settings.lease)
        self.factory = MessageFactory.for_campaign(ws, engine, spec, campaign.id)
        self.factories = step_factories(ws, spec, self.factory)
        self.view = fields_of(ws).view  # the workspace's ContactView: its fields, derived ones too
        dkim = ws.settings.dkim
        self.signing = Signing(self.factory.dkim, dkim.signing_processes() if dkim else 1)  # see signing.py
        self.report = SendReport(campaign=spec.name)
        self.rng = random.Random()
        t = spec.throttle
        self.bucket = TokenBucket(t.rate)
        self.domain_buckets: dict[str, TokenBucket] = {}
        self.queue: asyncio.Queue[_Job | None] = asyncio.Queue()
        self.chunk = t.connections * 8
        self.db = options.outage or Outage(ws.settings.database.outage_timeout)
        self.ledger = Ledger(engine, options.worker, options.now, self.lease, self.db)
        ap = ws.settings.auto_pause
        self.health = Health(ap.window, ap.failure_rate, ap.min_attempts)
        self.window = SendingWindow.parse(spec.file.window.days, spec.file.window.hours) if spec.file.window else None
        self.halt = asyncio.Event()
        self.stop_reason = ""
        self.fatal: str | None = None
        self.connect_failures = 0
        self.cap_left: int | None = None
        self.allowance: int | None = None  # warm-up: today's limit; 0 when the sender is not warming up
        self.guardrails_checked = time.monotonic()
        self.background_error: BaseException | None = None
        self.steps: StepsResult | None = None
        self.events_seen = 0  # sender-side bounces recorded after this event id count for auto-pause
        self.state_writes: list[asyncio.Task[None]] = []  # auto-pauses decided by a connection, being written

    # -- preparation -----------------------------------------------------------

    def _check_content(self) -> None:
        digest = content_digest(self.factories)
        if self.campaign.preflight_ok and self.campaign.content_hash == digest:
            return
        preflight(self.ws, self.engine, self.factories, self.campaign.id, self.spec.name)
        with transaction(self.engine) as session:
            row = session.get(Campaign, self.campaign.id)
            assert row is not None
            row.content_hash, row.preflight_ok = digest, True

    def _envelope_from(self, row_id: int) -> str:
        b = self.ws.settings.bounces
        base = b.address or self.spec.sender.email
        return verp_address(self.factory.signer, base, row_id) if b.verp else base

    def _prepare(self, r: Any) -> _Job:
        view = self.view.from_row(r)
        factory = self.factories.get(r.step, self.factory)
        in_reply_to = r.first_message_id if r.step else None
        data = factory.prepare(view, r.message_id, r.email, int(r.variant or 0), in_reply_to=in_reply_to,
                               sign=False, lang=r.message_language).data  # signed per chunk by self.signing
        return _Job(r.id, r.email, r.attempts, data, self._envelope_from(r.id), r.email.rsplit("@", 1)[-1])

    async def _defer(self, claimed: list[Any]) -> list[Any]:
        """Rows outside their window go back with the time their window opens."""
        if self.window is None:
            return claimed
        now, ready, later = self.options.now(), [], []
        for r in claimed:
            opens = self.window.next_open(now, self.ws.zone(r.timezone or r.company_timezone or ""))
            if opens <= now:
                ready.append(r)
            else:
                later.append(outbox.Result(r.id, "queued", next_attempt_at=opens))
        if later:
            self.report.deferred += len(later)
            await self.db.acall(_record, self.engine, later, self.options.worker, now)
        return ready

    # -- the connections ---------------------------------------------------------

    def _domain_bucket(self, domain: str) -> TokenBucket | None:
        rate = self.spec.throttle.per_domain_rate
        if rate is None:
            return None
        if domain not in self.domain_buckets:
            self.domain_buckets[domain] = TokenBucket(rate, burst=1)
        return self.domain_buckets[domain]

    async def _connection(self) -> None:
        relay = Relay(self.ws.settings.smtp)
        try:
            while (job := await self.queue.get()) is not None:
                if (bucket := self._domain_bucket(job.domain)) is not None and not self.halt.is_set():
                    await bucket.acquire()
                if not self.halt.is_set():
                    await self.bucket.acquire()
                if self.halt.is_set():  # paused/cancelled/stopping: not attempted, give it back
                    self.ledger.add(outbox.Result(job.row_id, "queued"))
                    continue
                mark = self.ledger.mark(job.row_id)  # committed while MAIL and RCPT go, at the latest before DATA
                outcome = await relay.send(job.envelope_from, job.email, job.data,
                                           self.spec.throttle.messages_per_connection,
                                           before_data=functools.partial(self.ledger.settled, mark))  # fmt: skip
                if not await self.ledger.settled(mark):
                    continue  # taken over meanwhile (our lease ran out): another sender has it, we sent nothing
                self.ledger.add(self._result(job, outcome))
                if self.progress:
                    self.progress(self.report)
        finally:
            await relay.close()

    def _result(self, job: _Job, outcome: Outcome) -> outbox.Result:
        if outcome.untouched:
            # the relay is unreachable: the message certainly did not leave; stop after a few
            self.connect_failures += 1
            if self.connect_failures >= 3 and not self.fatal:
                self.fatal = outcome.text
                self.halt.set()
            self._health(True)
            return outbox.Result(job.row_id, "queued")
        self.connect_failures = 0
        if outcome.kind == "sent":
            self.report.sent += 1
            self.bucket.recover()
            self._health(False)
            return outbox.Result(job.row_id, "sent", outcome.code)
        if outcome.code == 421 or outcome.connection:
            self.bucket.slow_down()
        error = f"{outcome.code} {outcome.text}" if outcome.code else outcome.text
        retry = self.spec.retry
        if outcome.kind == "temporary" and job.attempts + 1 < retry.attempts:
            self._health(outcome.connection)  # a 4xx that may still succeed is not a failure
            self.report.retried += 1
            delay = backoff(job.attempts + 1, retry.backoff, retry.max_backoff, self.rng)
            when = self.options.now() + timedelta(seconds=delay)
            return outbox.Result(job.row_id, "retry", outcome.code, error, next_attempt_at=when)
        self.report.failed += 1
        self._health(True)
        if outcome.kind == "temporary":
            error = f"gave up after {job.attempts + 1} attempts: {error}"
        return outbox.Result(
            job.row_id, "failed", outcome.code, error,
            suppress_reason=f"hard_bounce:smtp {outcome.status or outcome.code}" if outcome.hard else None,
        )  # fmt: skip

    def _health(self, bad: bool) -> None:
        self._pause_if(self.health.add(bad))

    async def _late_failures(self) -> None:
        """Bounces ingested during the run that blame the sender count as failed attempts."""
        count, self.events_seen = await self.db.acall(outbox.sender_problems_since, self.engine, self.campaign.id,
                                                      self.events_seen)  # fmt: skip
        if count:
            self._pause_if(self.health.add_late(count))

    def _pause_if(self, why: str | None) -> None:
        """Halt at once; the state is written by a task of its own (it rides through an outage)."""
        if why and not self.halt.is_set():
            reason = f"paused automatically: {why}; check `outreach campaign status`, then resume"
            self.state_writes.append(asyncio.ensure_future(
                self.db.acall(_set_state, self.engine, self.campaign.id, "paused", reason)))  # fmt: skip
            self.stop_reason = reason
            self.halt.set()

    # -- the run -----------------------------------------------------------------

    def _schedule_steps(self) -> int:
        """Create the follow-up rows that are due; remember how many are still to come."""
        if not self.spec.file.steps:
            return 0
        self.steps = schedule_steps(self.ws, self.engine, self.spec, self.campaign.id, self.options.now())
        return self.steps.created

    async def run(self) -> SendReport:
        await self.db.acall(self._schedule_steps)
        await self.db.acall(self._check_content)
        self.events_seen = await self.db.acall(outbox.last_event_id, self.engine)
        await self.db.acall(_set_state, self.engine, self.campaign.id, "sending", None)
        await self._take_over(self.options.now())
        tasks = [asyncio.create_task(t) for t in (self.ledger.run(), self._leases(), self._watch())]
        for task in tasks:  # a database failure in the background stops the run, loudly
            task.add_done_callback(self._background_done)
        conns = [asyncio.create_task(self._connection()) for _ in range(self.spec.throttle.connections)]
        try:
            await self._feed()
        except DatabaseUnavailable as exc:
            self._stop_for(exc)
        finally:
            for _ in conns:  # after the queued jobs: each connection sends them (or gives them back, halted)
                await self.queue.put(None)
            await asyncio.gather(*conns, return_exceptions=True)
            await self.signing.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, *self.state_writes, return_exceptions=True)
            await self._wind_up()
        if self.background_error is not None:
            raise self._gave_up(self.background_error)
        await self.db.acall(self._finish)
        return self.report

    def _background_done(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._stop_for(task.exception())

    def _stop_for(self, exc: BaseException | None) -> None:
        self.background_error = self.background_error or exc
        self.halt.set()

    async def _wind_up(self) -> None:
        """Outcomes still held and rows never attempted go to the database, riding out an outage; once one
        has outlasted its timeout, a single try (``Outage`` gives up at once)."""
        try:
            await self.ledger.flush()
            await self.db.acall(outbox.release, self.engine, self.options.worker, self.options.now())
        except DatabaseUnavailable as exc:
            self._stop_for(exc)
        finally:
            await self.ledger.close()

    def _gave_up(self, exc: BaseException) -> BaseException:
        """The run's error; for an outage, with what it means for the messages."""
        if not isinstance(exc, DatabaseUnavailable):
            return exc
        held = len([r for r in self.ledger.results if r.state != "queued"])
        unrecorded = (f"; {held} message(s) answered by the relay could not be recorded and show as uncertain "
                      "once another send or the worker takes them over" if held else "")  # fmt: skip
        return DatabaseUnavailable(
            f"campaign {self.spec.name}: {exc.detail}; sending stopped after {self.report.attempted} message(s)"
            f"{unrecorded}; nothing was sent twice, and the rest stays queued: send again once the database "
            "answers", seconds=exc.seconds, error=exc.error,
        )  # fmt: skip

    async def _leases(self) -> None:
        """Renew ours every quarter lease, then take over the campaign's rows whose lease ran out."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 4)
            now = self.options.now()
            await self.db.acall(outbox.renew, self.engine, self.options.worker, now, self.lease)
            await self._take_over(now)

    async def _take_over(self, now: datetime) -> None:
        """Rows whose lease ran out: their sender died. Not within a lease after an outage, when nobody
        could renew: by then every live sender has renewed its own."""
        if self.db.recovered_within(self.lease.total_seconds()):
            return
        requeued, uncertain = await self.db.acall(outbox.expire_leases, self.engine, now, self.campaign.id)
        self.report.requeued += requeued
        self.report.uncertain += uncertain

    def _stopping(self) -> bool:
        """A stop signal arrived: halt (also checked before each claim, so none is made after it)."""
        if self.options.stop is None or not self.options.stop.is_set():
            return False
        self.stop_reason = self.stop_reason or "stopped by a signal"
        self.halt.set()
        return True

    async def _watch(self) -> None:
        """Pause/cancel from another process, or a stop signal, halts within half a second;
        every two seconds, bounces ingested meanwhile feed the health check."""
        ticks = 0
        while not self.halt.is_set():
            ticks += 1
            if ticks % 4 == 0:
                await self._late_failures()
            if self._stopping():
                return
            state = await self.db.acall(outbox.campaign_state, self.engine, self.campaign.id)
            if state in ("paused", "cancelled"):
                self.stop_reason = self.stop_reason or state
                self.halt.set()
                return
            await self._guardrails()
            await asyncio.sleep(0.5)

    async def _guardrails(self) -> None:
        """Every few seconds: complaints and hard bounces recorded by ingest (any process) may
        have crossed a guardrail, or the sample grown past its minimum; the pause is a state
        change the next watch turn obeys."""
        now = time.monotonic()
        if now - self.guardrails_checked < self.options.guardrail_every:
            return
        self.guardrails_checked = now
        await self.db.acall(enforce, self.engine, self.campaign.id, self.ws.settings.guardrails, self.options.now())

    async def _feed(self) -> None:
        while not self.halt.is_set() and not self._stopping():
            limit = await self.db.acall(self._claim_limit)
            if limit == 0:
                return
            claimed = await self.db.acall(outbox.claim, self.engine, self.campaign.id, self.options.worker, limit,
                                          self.lease, self.options.now(), bool(self.spec.file.steps))  # fmt: skip
            if not claimed:
                if await self._wait_for_more():
                    continue
                if await self.db.acall(self._schedule_steps):  # follow-up steps that became due meanwhile
                    continue
                return
            ready = await self._defer(claimed)
            for start in range(0, len(ready), self.chunk):
                if self.halt.is_set():
                    return  # the rest is still only claimed: release() gives it back
                await self._hand_over(ready[start : start + self.chunk])

    async def _hand_over(self, chunk: list[Any]) -> None:
        """Render and sign a chunk, then queue it for the connections, still only ``claimed``: each is
        marked ``sending`` by the connection that takes it, right before its transaction."""
        jobs = []
        for r in chunk:
            jobs.append(self._prepare(r))
            await asyncio.sleep(0)  # let the connections run between renders
        for job, data in zip(jobs, await self.signing.sign([j.data for j in jobs]), strict=True):
            job.data = data
        if self.cap_left is not None:
            self.cap_left -= len(jobs)
        for job in jobs:
            await self.queue.put(job)
        while self.queue.qsize() > self.chunk and not self.halt.is_set():
            await asyncio.sleep(0.002)

    def _claim_limit(self) -> int:
        cap, what = self._daily_cap()
        if cap is None:
            return self.options.batch
        if self.cap_left is None:
            self.cap_left = cap - sent_today(self.engine, self.ws, self.spec.sender_key, self.options.now())
        if self.cap_left <= 0:
            self.stop_reason = (f"{what} of {cap} for sender {self.spec.sender_key} reached; "
                                "the rest waits for tomorrow")  # fmt: skip
            return 0
        return min(self.options.batch, self.cap_left)

    def _daily_cap(self) -> tuple[int | None, str]:
        """The campaign's ``daily_cap``, lowered to the warm-up allowance of a warming sender
        (read once per run: the allowance is per day and a run rarely spans midnight)."""
        if self.allowance is None:
            found = warmup_allowance(self.engine, self.ws, self.spec.sender_key, self.options.now())
            self.allowance = found.limit if found else 0
        cap = self.spec.throttle.daily_cap
        if self.allowance and (cap is None or self.allowance < cap):
            return self.allowance, "warm-up allowance"
        return cap, "daily cap"

    async def _wait_for_more(self) -> bool:
        """Nothing to claim: True when there is more to send now, False when this run is done.

        It waits — a second at most at a time, so pause, cancel and signals stay prompt — for its
        own messages in flight (they may come back as retries), for retries and window openings
        due within ``wait_for_retries``, and for messages leased to other senders: a live sender
        finishes them, a dead one's are taken over when its lease runs out.
        """
        now = self.options.now()
        await self._take_over(now)
        w = await self.db.acall(_waiting, self.engine, self.campaign.id, self.options.worker, now)
        if w.ready:
            self._show_waiting("")
            return True
        if not w.busy() and (w.due is None or w.due - now > self.options.wait_for_retries):
            if w.due is not None:
                self.stop_reason = (f"{w.pending} message(s) wait until {w.due:%Y-%m-%d %H:%M} UTC (retries or "
                                    "sending window); a worker or another send will take them")  # fmt: skip
            self._show_waiting("")
            return False
        if w.held:
            one = len(w.holders) == 1
            who = "another sender" if one else f"{len(w.holders)} other senders"
            ends = f" ({w.lease_ends:%H:%M:%S} UTC)" if w.lease_ends else ""
            self._show_waiting(f"waiting for {w.held} message(s) held by {who} ({', '.join(w.holders)}); "
                               f"if {'it' if one else 'one'} has stopped, they are taken over when its lease runs "
                               f"out{ends}", w.holders)  # fmt: skip
        elif w.due is not None and not w.mine:
            self._show_waiting(f"waiting for {w.pending} message(s) to retry at {w.due:%H:%M:%S} UTC")
        wakes = [0.2 if w.mine else 1.0] + [(t - now).total_seconds() for t in (w.due, w.lease_ends) if t is not None]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.halt.wait(), timeout=max(min(wakes), 0.05))
        return not self.halt.is_set()

    def _show_waiting(self, text: str, on: tuple[str, ...] = ()) -> None:
        if (text, on) == (self.report.waiting, self.report.waiting_on):
            return
        self.report.waiting, self.report.waiting_on = text, on
        if self.progress:
            self.progress(self.report)

    def _finish(self) -> None:
        with transaction(self.engine) as session:
            row = session.get(Campaign, self.campaign.id)
            assert row is not None
            if row.state == "cancelled":  # rows handed back after the cancel are cancelled too
                outbox.cancel_pending(session, self.campaign.id, self.options.now())
            counts = outbox.state_counts(session, self.campaign.id)
            pending = sum(counts.get(s, 0) for s in outbox.PENDING)
            if row.state == "sending" and not pending:
                waiting = self.steps.waiting if self.steps else 0
                row.state, row.state_reason = ("sending", f"{waiting} follow-up step(s) not due yet") if waiting \
                    else ("done", None)
            self.report.state = row.state
            self.report.reason = row.state_reason or self.stop_reason
            self.report.fatal = self.fatal
            self.report.total = sum(counts.values())


def _waiting(engine: Engine, campaign_id: int, worker: str, now: datetime) -> outbox.Waiting:
    with transaction(engine) as session:
        return outbox.waiting(session, campaign_id, worker, now)


def _record(engine: Engine, results: list[outbox.Result], worker: str, now: datetime) -> None:
    with transaction(engine) as session:
        outbox.record(session, results, worker, now)


def _set_state(engine: Engine, campaign_id: int, state: str, reason: str | None) -> None:
    with transaction(engine) as session:
        row = session.get(Campaign, campaign_id)
        assert row is not None
        if row.state == "cancelled":
            return
        row.state, row.state_reason, row.updated_at = state, reason, utcnow()


def load_campaign_row(engine: Engine, name: str) -> Campaign:
    with transaction(engine) as session:
        return built_campaign(session, name)


async def send_campaign(ws: WorkspaceConfig, engine: Engine, name: str, *, options: SendOptions | None = None,
                        progress: Progress | None = None, start_now: bool = False) -> SendReport:  # fmt: skip
    """Send what is due; a campaign scheduled for later is only marked ``scheduled``."""
    spec = load_campaign(ws, name)
    options = options or SendOptions()
    if options.outage is None:
        options = dataclasses.replace(options, outage=Outage(ws.settings.database.outage_timeout))
    db = options.outage
    assert db is not None
    campaign = await db.acall(load_campaign_row, engine, name)
    if (not start_now and campaign.state in ("built", "scheduled") and campaign.schedule_at is not None
            and campaign.schedule_at > options.now()):  # fmt: skip
        when = campaign.schedule_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(ws.tz)
        reason = f"scheduled for {when:%Y-%m-%d %H:%M} {ws.settings.timezone}; `outreach worker` starts it then"
        await db.acall(_set_state, engine, campaign.id, "scheduled", reason)
        return SendReport(campaign=name, state="scheduled", reason=reason)
    if campaign.state == "cancelled":
        raise StateError(f"campaign {name} is cancelled; nothing more will be sent")
    if campaign.state == "paused":
        raise StateError(f"campaign {name} is paused ({campaign.state_reason or 'by a user'}); "
                         f"run `outreach campaign resume {name}` first")  # fmt: skip
    sender = await db.acall(CampaignSender, ws, engine, spec, campaign, options, progress)  # reads the secret
    return await sender.run()
