"""Per-campaign counts, kept by the database in the very transactions that change the outbox and the events.

A campaign's status (``campaign status``, the campaign list, the team app's
pages, polled every few seconds while it sends) used to count its outbox rows
by state and its events by kind: a read of the whole campaign, 135 ms for a
200,000-recipient one. Instead ``campaign_counts`` holds the numbers, and
triggers (migration ``0011_exec``) keep them: every INSERT, UPDATE or DELETE
of an outbox row, and every counted event, adds its change to them inside the
statement that makes it. Nothing in the code can forget one (a new state
change anywhere, a repair by hand in ``sqlite3``): the count moves with the row
or not at all.

Keys: each outbox state (``queued`` rows that carry a time — put back until
their sending window opens, or given back after one — are ``queued_later``),
and ``ev:KIND`` for the events the status counts, once per message
(``ev:replied``: messages with at least one reply).

* SQLite (one writer at a time) adds to one row per (campaign, key): ``slot`` 0.
* PostgreSQL: many senders commit at once, and one hot row per key would
  serialize them (and deadlock them, locking keys in different orders). Each
  transaction adds to its own rows instead (``slot`` = its transaction id;
  per statement, aggregated: a build of 200,000 rows is one row per key), and
  a reader sums a campaign's rows. ``fold`` turns them back into slot 0 (one
  statement, atomic for readers) when they pile up; readers and the worker
  call it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from outreach.storage.models import CampaignCount, Event, Outbox

EVENT_KINDS = ("bounced", "replied", "unsubscribed", "complained", "auto_reply", "clicked")
FOLD_AT = 64  # a campaign's rows beyond which a reader folds them (PostgreSQL)
FOLD_LOCK = 0x636E7473  # "cnts": folds of one campaign take turns (pg_advisory_xact_lock(FOLD_LOCK, id))


def read(session: Session, campaign_id: int) -> dict[str, int]:
    """The campaign's counts by key (keys with no rows are absent); folds them first when many piled up."""
    rows = session.execute(
        select(CampaignCount.key, func.sum(CampaignCount.n), func.count())
        .where(CampaignCount.campaign_id == campaign_id).group_by(CampaignCount.key)
    ).all()  # fmt: skip
    if sum(r[2] for r in rows) > FOLD_AT and session.get_bind().dialect.name == "postgresql":
        fold(session.connection(), campaign_id)
    return {key: int(n) for key, n, _ in rows if n}


def fold(conn: Connection, campaign_id: int) -> None:
    """PostgreSQL: the campaign's per-transaction rows summed into its slot-0 rows, in one statement.

    Only committed rows are seen and deleted; a transaction still open keeps its rows and they are summed
    by the next fold. Folds of one campaign take turns (an advisory lock), so they never deadlock.
    """
    if conn.dialect.name != "postgresql":
        return
    conn.execute(text("SELECT pg_advisory_xact_lock(:lock, :id)"), {"lock": FOLD_LOCK, "id": campaign_id})
    conn.execute(text(
        "WITH gone AS (DELETE FROM campaign_counts WHERE campaign_id = :id AND slot <> 0 RETURNING key, n) "
        "INSERT INTO campaign_counts (campaign_id, key, slot, n) "
        "SELECT :id, key, 0, sum(n) FROM gone GROUP BY key ORDER BY key "
        "ON CONFLICT (campaign_id, key, slot) DO UPDATE SET n = campaign_counts.n + EXCLUDED.n"
    ), {"id": campaign_id})  # fmt: skip


def recount(session: Session, campaign_id: int, now: Any = None) -> dict[str, int]:
    """The same counts from the outbox and the events themselves: what the kept ones must always equal
    (the tests compare them after every kind of change; the slow way, for checking only)."""
    later = (Outbox.state == "queued") & Outbox.next_attempt_at.is_not(None)
    key = func.coalesce(func.nullif(Outbox.state, "queued"), "queued")
    out: dict[str, int] = {}
    for state, is_later, n in session.execute(
        select(key, later, func.count()).where(Outbox.campaign_id == campaign_id).group_by(key, later)
    ):
        name = "queued_later" if is_later else state
        out[name] = out.get(name, 0) + int(n)
    for kind, n in session.execute(
        select(Event.kind, func.count(func.distinct(Event.outbox_id)))
        .where(Event.campaign_id == campaign_id, Event.outbox_id.is_not(None), Event.kind.in_(EVENT_KINDS))
        .group_by(Event.kind)
    ):  # fmt: skip
        out[f"ev:{kind}"] = int(n)
    return {k: v for k, v in out.items() if v}
