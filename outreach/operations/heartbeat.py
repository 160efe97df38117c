"""Signs of life: each worker's heartbeat, and the time of the last mailbox poll.

A worker writes its row of ``worker_heartbeats`` at the end of every pass over
due campaigns and at least every ``HEARTBEAT_EVERY`` seconds in between (a
long send does not stop it: the beat is its own job). A worker is *alive*
when its last beat is younger than ``ALIVE_WITHIN`` and it did not stop
cleanly; a killed worker simply stops beating, which is the point: nobody has
to clean up after a crash for the status to be true.

``worker_status(engine, now)`` is the one reading of it, for ``outreach worker
--status``, the team app's banner and ``/metrics``. Writing a beat never
raises for a database that is away: the worker keeps working and the next
beat tries again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import DBAPIError, IntegrityError

from outreach.storage import transaction
from outreach.storage.models import Meta, WorkerHeartbeat

log = logging.getLogger("outreach.worker")

HEARTBEAT_EVERY = 15.0  # seconds: the longest a running worker goes without writing its beat
ALIVE_WITHIN = 60.0  # seconds: a beat older than this is a worker that died (four beats missed)
FORGET_AFTER = timedelta(days=30)  # rows of workers not seen for this long are deleted at the next start
SHOWN = 50  # workers read: the newest beats (a live worker's is among them, unless 50 run at once)
MAILBOX_POLL_KEY = "mailbox:last_poll"


@dataclass(frozen=True)
class WorkerBeat:
    """One worker's row, as read."""

    id: str
    host: str
    pid: int
    started_at: datetime
    beat_at: datetime
    pass_at: datetime | None
    last_pass: Mapping[str, Any]
    stopped_at: datetime | None
    alive: bool  # as of the ``now`` it was read at: beating lately, and not stopped

    def summary(self) -> str:
        """What its last pass did, in words: ``2 campaign(s) due (a, b); sending a; since start: ...``."""
        return pass_summary(self.last_pass)

    def line(self, now: datetime) -> str:
        """``HOST, pid N, since T UTC; heartbeat 3s ago (stopped cleanly); last pass 3s ago: what it did``."""
        state = ("" if self.alive else " (stopped cleanly)" if self.stopped_at else
                 " (it stopped beating: killed, crashed or cut off from the database)")  # fmt: skip
        text = (f"{self.host}, pid {self.pid}, since {self.started_at:%Y-%m-%d %H:%M:%S} UTC; "
                f"heartbeat {ago((now - self.beat_at).total_seconds())} ago{state}")  # fmt: skip
        if self.pass_at is not None:
            text += f"; last pass {ago((now - self.pass_at).total_seconds())} ago: {self.summary()}"
        return text


@dataclass(frozen=True)
class WorkerStatus:
    """Is a worker alive, when was the last pass, and how old is the newest heartbeat."""

    alive: bool
    last_pass: datetime | None  # the newest pass of any worker (None: no worker ever made one)
    age: float | None  # seconds since the newest heartbeat (None: no worker ever ran)
    now: datetime  # as of when
    workers: tuple[WorkerBeat, ...] = ()  # newest beat first: the SHOWN last seen within FORGET_AFTER

    def lines(self) -> list[str]:
        """One line per live worker (``Worker alive: …``); else the last one seen (``No worker alive. …``)."""
        if self.alive:
            return [f"Worker alive: {w.line(self.now)}" for w in self.live]
        if self.workers:
            return [f"No worker alive. Last seen: {self.workers[0].line(self.now)}"]
        return ["No worker has run on this database yet."]

    @property
    def live(self) -> tuple[WorkerBeat, ...]:
        return tuple(w for w in self.workers if w.alive)

    def as_dict(self) -> dict[str, Any]:
        def stamp(t: datetime | None) -> str | None:
            return t.isoformat() + "Z" if t else None

        return {
            "alive": self.alive,
            "last_pass": stamp(self.last_pass),
            "heartbeat_age": round(self.age, 3) if self.age is not None else None,
            "workers": [{"id": w.id, "host": w.host, "pid": w.pid, "started_at": stamp(w.started_at),
                         "beat_at": stamp(w.beat_at), "pass_at": stamp(w.pass_at), "stopped_at": stamp(w.stopped_at),
                         "alive": w.alive, "last_pass": dict(w.last_pass)} for w in self.workers],
        }  # fmt: skip


def worker_status(engine: Engine, now: datetime) -> WorkerStatus:
    """The workers' heartbeats as of ``now`` (naive UTC, as every time in the database)."""
    with transaction(engine) as session:
        query = (select(WorkerHeartbeat).where(WorkerHeartbeat.beat_at >= now - FORGET_AFTER)
                 .order_by(WorkerHeartbeat.beat_at.desc(), WorkerHeartbeat.id).limit(SHOWN))  # fmt: skip
        rows = session.scalars(query).all()
        beats = tuple(WorkerBeat(r.id, r.host, r.pid, r.started_at, r.beat_at, r.pass_at, r.last_pass or {},
                                 r.stopped_at, _alive(r.beat_at, r.stopped_at, now)) for r in rows)  # fmt: skip
    if not beats:
        return WorkerStatus(alive=False, last_pass=None, age=None, now=now)
    passes = [b.pass_at for b in beats if b.pass_at is not None]
    return WorkerStatus(alive=any(b.alive for b in beats), last_pass=max(passes) if passes else None,
                        age=max((now - beats[0].beat_at).total_seconds(), 0.0), workers=beats, now=now)  # fmt: skip


def ago(seconds: float) -> str:
    """``3s``, ``5m 02s``, ``2h 03m``, ``3d 04h``: how long ago, to the precision that matters."""
    s = max(int(seconds), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60:02d}m"
    return f"{s // 86400}d {s % 86400 // 3600:02d}h"


def _alive(beat_at: datetime, stopped_at: datetime | None, now: datetime) -> bool:
    return stopped_at is None and (now - beat_at).total_seconds() <= ALIVE_WITHIN


def pass_summary(last_pass: Mapping[str, Any]) -> str:
    due, sending = list(last_pass.get("due") or ()), list(last_pass.get("sending") or ())
    totals = last_pass.get("totals") or {}
    parts = [f"{len(due)} campaign(s) due ({', '.join(due)})" if due else "nothing due"]
    if sending:
        parts.append(f"sending {', '.join(sending)}")
    parts.append(f"since start: {totals.get('sent', 0)} sent, {totals.get('failed', 0)} failed, "
                 f"{totals.get('polled', 0)} read from the mailbox, {totals.get('passes', 0)} pass(es)")  # fmt: skip
    return "; ".join(parts)


class Heartbeat:
    """The beat of one worker process: ``start`` once, ``beat`` often, ``stop`` at a clean exit."""

    def __init__(self, engine: Engine, worker_id: str, host: str, pid: int, started_at: datetime) -> None:
        self.engine, self.id, self.host, self.pid, self.started_at = engine, worker_id, host, pid, started_at
        self._failing = False

    def start(self, now: datetime) -> None:
        """The first beat, and the rows of workers long gone forgotten."""
        self._write(now, stopped=False, forget=True)

    def beat(self, now: datetime, last_pass: Mapping[str, Any] | None = None) -> bool:
        """A sign of life; with ``last_pass``, also the end of a pass and what it did. False: not written."""
        return self._write(now, stopped=False, last_pass=last_pass)

    def stop(self, now: datetime, last_pass: Mapping[str, Any] | None = None) -> bool:
        return self._write(now, stopped=True, last_pass=last_pass)

    def _write(self, now: datetime, *, stopped: bool, last_pass: Mapping[str, Any] | None = None,
               forget: bool = False) -> bool:  # fmt: skip
        try:
            self._upsert(now, stopped, last_pass, forget)
        except DBAPIError as exc:  # the database is away: the worker goes on, the next beat tries again
            if not self._failing:
                log.warning("worker heartbeat not written (%s); trying again at the next beat",
                            str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__,
                            extra={"worker": self.id})  # fmt: skip
            self._failing = True
            return False
        if self._failing:
            log.info("worker heartbeat written again", extra={"worker": self.id})
        self._failing = False
        return True

    def _upsert(self, now: datetime, stopped: bool, last_pass: Mapping[str, Any] | None, forget: bool) -> None:
        for _ in range(2):  # two writers of one id cannot happen (it holds our pid), but an insert race costs one try
            try:
                with transaction(self.engine) as session:
                    if forget:
                        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER))
                    row = session.get(WorkerHeartbeat, self.id)
                    if row is None:
                        row = WorkerHeartbeat(id=self.id, host=self.host, pid=self.pid, started_at=self.started_at,
                                              last_pass={})  # fmt: skip
                        session.add(row)
                    row.beat_at = now
                    if last_pass is not None:
                        row.pass_at, row.last_pass = now, dict(last_pass)
                    row.stopped_at = now if stopped else None
                return
            except IntegrityError:
                continue


# -- the mailbox ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailboxPoll:
    at: datetime
    ok: bool
    new: int = 0
    error: str | None = None
    last_ok_at: datetime | None = None


def record_mailbox_poll(engine: Engine, now: datetime, *, ok: bool, new: int = 0, error: str | None = None) -> None:
    """Remember when the mailbox was last polled (and the last successful one), for ``/metrics``.

    A failure to write it is logged, never raised: it must not turn a good poll into a failed one.
    """
    try:
        with transaction(engine) as session:
            row = session.get(Meta, MAILBOX_POLL_KEY)
            before = _poll_data(row.value) if row is not None else {}
            data = {"at": now.isoformat(), "ok": ok, "new": new, "error": (error or "")[:500] or None,
                    "last_ok_at": now.isoformat() if ok else before.get("last_ok_at")}  # fmt: skip
            if row is None:
                session.add(Meta(key=MAILBOX_POLL_KEY, value=json.dumps(data)))
            else:
                row.value = json.dumps(data)
    except (DBAPIError, IntegrityError) as exc:
        log.warning("the time of the mailbox poll was not recorded: %s", type(exc).__name__)


def last_mailbox_poll(engine: Engine) -> MailboxPoll | None:
    with transaction(engine) as session:
        row = session.get(Meta, MAILBOX_POLL_KEY)
        data = _poll_data(row.value) if row is not None else {}
    try:
        last_ok = data.get("last_ok_at")
        return MailboxPoll(at=datetime.fromisoformat(data["at"]), ok=bool(data.get("ok")), new=int(data.get("new", 0)),
                           error=data.get("error"), last_ok_at=datetime.fromisoformat(last_ok) if last_ok else None)
    except (KeyError, TypeError, ValueError):
        return None


def _poll_data(value: str) -> dict[str, Any]:
    try:
        data = json.loads(value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
