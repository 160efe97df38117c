"""``outreach worker``: the long-running scheduler.

Every tick: hand dead workers' rows to ``uncertain``/the queue again, start
campaigns whose scheduled time has come, and keep sending campaigns that
have rows due (retries, sending windows, or a ``campaign send`` that stopped).
Several workers on one PostgreSQL database share the work: claims skip rows
another worker holds. SIGINT/SIGTERM stop it cleanly: messages in flight
finish, rows not yet attempted go back to the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import Engine, select

from outreach.errors import OutreachError
from outreach.sending.engine import SendOptions, SendReport, send_campaign
from outreach.settings.workspace import WorkspaceConfig
from outreach.storage import outbox, transaction, utcnow
from outreach.storage.models import Campaign

log = logging.getLogger("outreach.worker")


@dataclass
class WorkerStats:
    ticks: int = 0
    sent: int = 0
    failed: int = 0
    reports: list[SendReport] = field(default_factory=list)
    polled: int = 0  # inbound messages read from the IMAP mailbox
    last_poll: float | None = None  # time.monotonic() of the last mailbox poll


def due_campaigns(engine: Engine) -> list[str]:
    now = utcnow()
    with transaction(engine) as session:
        rows = session.execute(select(Campaign.name, Campaign.state, Campaign.schedule_at)).all()
    due = []
    for name, state, schedule_at in rows:
        if state == "scheduled" and schedule_at is not None and schedule_at <= now or state == "sending":
            due.append(name)
    return sorted(due)


def stop_on_signals(stop: asyncio.Event) -> asyncio.Event:
    """SIGINT/SIGTERM set ``stop`` instead of killing us mid-transaction."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread, or Windows
            loop.add_signal_handler(sig, stop.set)
    return stop


async def tick(ws: WorkspaceConfig, engine: Engine, stop: asyncio.Event, stats: WorkerStats, *,
               wait_for_retries: timedelta, on_report: Callable[[SendReport], None] | None = None) -> None:  # fmt: skip
    stats.ticks += 1
    outbox.expire_leases(engine, utcnow())
    for name in due_campaigns(engine):
        if stop.is_set():
            return
        try:
            report = await send_campaign(
                ws, engine, name, options=SendOptions(stop=stop, wait_for_retries=wait_for_retries)
            )
        except OutreachError as exc:
            log.error("campaign %s: %s", name, exc)
            continue
        stats.sent += report.sent
        stats.failed += report.failed
        stats.reports.append(report)
        if on_report:
            on_report(report)
    imap = ws.settings.imap
    if imap is not None and not stop.is_set() and (
        stats.last_poll is None or time.monotonic() - stats.last_poll >= imap.poll_every
    ):
        await poll_mailbox(ws, engine, stats)


async def poll_mailbox(ws: WorkspaceConfig, engine: Engine, stats: WorkerStats) -> None:
    """imaplib blocks, so the poll runs in a thread; a failed poll is logged and retried next time."""
    from outreach.tracking.imap import poll_and_promote

    stats.last_poll = time.monotonic()
    try:
        report, promoted = await asyncio.to_thread(poll_and_promote, ws, engine)
    except OutreachError as exc:
        log.error("mailbox poll: %s", exc)
        return
    except Exception:  # noqa: BLE001 - the scheduler must outlive a broken mailbox
        log.exception("mailbox poll failed")
        return
    stats.polled += report.new
    log.info("%s; %d new follow-up(s)", report.summary().replace("\n", "; "), promoted)


async def run_worker(ws: WorkspaceConfig, engine: Engine, *, once: bool = False, interval: float = 10.0,
                     on_report: Callable[[SendReport], None] | None = None,
                     stop: asyncio.Event | None = None) -> WorkerStats:  # fmt: skip
    stop = stop_on_signals(stop or asyncio.Event())
    stats = WorkerStats()
    if once:
        await tick(ws, engine, stop, stats, wait_for_retries=timedelta(0), on_report=on_report)
        return stats
    scheduler = AsyncIOScheduler(timezone=ws.tz)
    scheduler.add_job(
        tick, "interval", seconds=interval, next_run_time=None, max_instances=1, coalesce=True,
        args=(ws, engine, stop, stats), kwargs={"wait_for_retries": timedelta(seconds=interval),
                                                 "on_report": on_report},
    )  # fmt: skip
    scheduler.start()
    try:
        await tick(ws, engine, stop, stats, wait_for_retries=timedelta(seconds=interval), on_report=on_report)
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
    return stats
