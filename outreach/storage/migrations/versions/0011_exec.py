"""audit_log (who changed what by hand: accounts, imports, suppressions, campaign and segment files, campaign steps);
campaign_counts, kept by triggers on outbox and events (storage/counts.py), filled from what is there

Revision ID: 0011_exec
Revises: 0010_content_history
Create Date: 2026-12-15 09:00:00

The triggers add every change of an outbox row's state (and of a counted event) to the counts inside the
statement that makes it. SQLite: row triggers adding to one row per (campaign, key). PostgreSQL: statement
triggers over the transition tables, each transaction adding to rows of its own (slot = txid_current()),
so concurrent senders never wait for each other on a counter row; readers sum and fold them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011_exec'
down_revision = '0010_content_history'
branch_labels = None
depends_on = None

EVENT_KINDS = ("bounced", "replied", "unsubscribed", "complained", "auto_reply", "clicked")
KINDS = ", ".join(f"'{k}'" for k in EVENT_KINDS)


def key(row: str) -> str:
    """An outbox row's key: its state; a queued row that carries a time is queued_later."""
    return f"(CASE WHEN {row}.state = 'queued' AND {row}.next_attempt_at IS NOT NULL THEN 'queued_later' ELSE {row}.state END)"


def _add(campaign: str, counted: str, n: str, slot: str = "0", where: str = "") -> str:
    """One upsert adding ``n`` to (campaign, key) of ``slot``."""
    source = f"SELECT {campaign}, {counted}, {slot}, {n} {where}" if where else f"VALUES ({campaign}, {counted}, {slot}, {n})"
    return (f"INSERT INTO campaign_counts (campaign_id, key, slot, n) {source} "
            "ON CONFLICT (campaign_id, key, slot) DO UPDATE SET n = campaign_counts.n + excluded.n;")


def _no_other(row: str, skip_self: bool) -> str:
    self_ = f" AND e.id <> {row}.id" if skip_self else ""
    return (f"{row}.kind IN ({KINDS}) AND {row}.outbox_id IS NOT NULL AND {row}.campaign_id IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM events e WHERE e.outbox_id = {row}.outbox_id AND e.kind = {row}.kind "
            f"AND e.campaign_id = {row}.campaign_id{self_})")


SQLITE = [
    f"CREATE TRIGGER campaign_counts_outbox_insert AFTER INSERT ON outbox BEGIN "
    f"{_add('NEW.campaign_id', key('NEW'), '1')} END",
    f"CREATE TRIGGER campaign_counts_outbox_delete AFTER DELETE ON outbox BEGIN "
    f"{_add('OLD.campaign_id', key('OLD'), '-1')} END",
    f"CREATE TRIGGER campaign_counts_outbox_update AFTER UPDATE OF state, next_attempt_at, campaign_id ON outbox "
    f"WHEN OLD.campaign_id IS NOT NEW.campaign_id OR {key('OLD')} IS NOT {key('NEW')} BEGIN "
    f"{_add('OLD.campaign_id', key('OLD'), '-1')} {_add('NEW.campaign_id', key('NEW'), '1')} END",
    f"CREATE TRIGGER campaign_counts_event_insert AFTER INSERT ON events WHEN {_no_other('NEW', True)} BEGIN "
    f"{_add('NEW.campaign_id', chr(39) + 'ev:' + chr(39) + ' || NEW.kind', '1')} END",
    f"CREATE TRIGGER campaign_counts_event_delete AFTER DELETE ON events WHEN {_no_other('OLD', False)} BEGIN "
    f"{_add('OLD.campaign_id', chr(39) + 'ev:' + chr(39) + ' || OLD.kind', '-1')} END",
    "CREATE TRIGGER campaign_counts_event_update AFTER UPDATE OF kind, outbox_id, campaign_id ON events "
    "WHEN OLD.kind IS NOT NEW.kind OR OLD.outbox_id IS NOT NEW.outbox_id OR OLD.campaign_id IS NOT NEW.campaign_id "
    f"BEGIN {_add('OLD.campaign_id', chr(39) + 'ev:' + chr(39) + ' || OLD.kind', '-1', where='WHERE ' + _no_other('OLD', False))} "
    f"{_add('NEW.campaign_id', chr(39) + 'ev:' + chr(39) + ' || NEW.kind', '1', where='WHERE ' + _no_other('NEW', True))} END",
]
SQLITE_DROP = ["campaign_counts_outbox_insert", "campaign_counts_outbox_delete", "campaign_counts_outbox_update",
               "campaign_counts_event_insert", "campaign_counts_event_delete", "campaign_counts_event_update"]

PG_OUTBOX = f"""
CREATE OR REPLACE FUNCTION outreach_counts_outbox() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO campaign_counts (campaign_id, key, slot, n)
        SELECT campaign_id, {key('r')}, txid_current(), count(*) FROM new_rows r GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (campaign_id, key, slot) DO UPDATE SET n = campaign_counts.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO campaign_counts (campaign_id, key, slot, n)
        SELECT campaign_id, {key('r')}, txid_current(), -count(*) FROM old_rows r GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (campaign_id, key, slot) DO UPDATE SET n = campaign_counts.n + EXCLUDED.n;
    ELSE
        INSERT INTO campaign_counts (campaign_id, key, slot, n)
        SELECT campaign_id, k, txid_current(), sum(d) FROM (
            SELECT campaign_id, {key('o')} AS k, -1 AS d FROM old_rows o
            UNION ALL SELECT campaign_id, {key('r')}, 1 FROM new_rows r
        ) changes GROUP BY 1, 2 HAVING sum(d) <> 0 ORDER BY 1, 2
        ON CONFLICT (campaign_id, key, slot) DO UPDATE SET n = campaign_counts.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
# events: a row trigger (events come one by one, and every writer of events already takes the feed's
# advisory lock before its insert (0009), so "no other event of this kind for this message" cannot race)
PG_EVENTS = f"""
CREATE OR REPLACE FUNCTION outreach_counts_events() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') AND {_no_other('OLD', False)} THEN
        INSERT INTO campaign_counts (campaign_id, key, slot, n) VALUES (OLD.campaign_id, 'ev:' || OLD.kind, txid_current(), -1)
        ON CONFLICT (campaign_id, key, slot) DO UPDATE SET n = campaign_counts.n + EXCLUDED.n;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND {_no_other('NEW', True)} THEN
        INSERT INTO campaign_counts (campaign_id, key, slot, n) VALUES (NEW.campaign_id, 'ev:' || NEW.kind, txid_current(), 1)
        ON CONFLICT (campaign_id, key, slot) DO UPDATE SET n = campaign_counts.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql
"""
PG = [
    PG_OUTBOX,
    "CREATE TRIGGER outreach_counts_outbox_insert AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION outreach_counts_outbox()",
    "CREATE TRIGGER outreach_counts_outbox_update AFTER UPDATE ON outbox REFERENCING OLD TABLE AS old_rows "
    "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outreach_counts_outbox()",
    "CREATE TRIGGER outreach_counts_outbox_delete AFTER DELETE ON outbox REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION outreach_counts_outbox()",
    PG_EVENTS,
    f"CREATE TRIGGER outreach_counts_events_insert AFTER INSERT ON events FOR EACH ROW "
    f"WHEN (NEW.kind IN ({KINDS})) EXECUTE FUNCTION outreach_counts_events()",
    f"CREATE TRIGGER outreach_counts_events_delete AFTER DELETE ON events FOR EACH ROW "
    f"WHEN (OLD.kind IN ({KINDS})) EXECUTE FUNCTION outreach_counts_events()",
    "CREATE TRIGGER outreach_counts_events_update AFTER UPDATE OF kind, outbox_id, campaign_id ON events FOR EACH ROW "
    "WHEN (OLD.kind IS DISTINCT FROM NEW.kind OR OLD.outbox_id IS DISTINCT FROM NEW.outbox_id "
    "OR OLD.campaign_id IS DISTINCT FROM NEW.campaign_id) EXECUTE FUNCTION outreach_counts_events()",
]
PG_DROP = ["DROP TRIGGER IF EXISTS outreach_counts_outbox_insert ON outbox",
           "DROP TRIGGER IF EXISTS outreach_counts_outbox_update ON outbox",
           "DROP TRIGGER IF EXISTS outreach_counts_outbox_delete ON outbox",
           "DROP TRIGGER IF EXISTS outreach_counts_events_insert ON events",
           "DROP TRIGGER IF EXISTS outreach_counts_events_delete ON events",
           "DROP TRIGGER IF EXISTS outreach_counts_events_update ON events",
           "DROP FUNCTION IF EXISTS outreach_counts_outbox()", "DROP FUNCTION IF EXISTS outreach_counts_events()"]

FILL = [
    f"INSERT INTO campaign_counts (campaign_id, key, slot, n) SELECT campaign_id, {key('o')}, 0, count(*) "
    f"FROM outbox o GROUP BY campaign_id, {key('o')}",
    f"INSERT INTO campaign_counts (campaign_id, key, slot, n) SELECT campaign_id, 'ev:' || kind, 0, "
    f"count(DISTINCT outbox_id) FROM events WHERE kind IN ({KINDS}) AND outbox_id IS NOT NULL "
    "AND campaign_id IS NOT NULL GROUP BY campaign_id, kind",
]


def create_triggers(bind: sa.engine.Connection) -> None:
    for statement in PG if bind.dialect.name == "postgresql" else SQLITE:
        bind.exec_driver_sql(statement)


def drop_triggers(bind: sa.engine.Connection) -> None:
    if bind.dialect.name == "postgresql":
        for statement in PG_DROP:
            bind.exec_driver_sql(statement)
    else:
        for name in SQLITE_DROP:
            bind.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('who', sa.String(length=120), nullable=False),
    sa.Column('via', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=400), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index('ix_audit_log_subject_at', ['subject', 'at'], unique=False)
    op.create_table('campaign_counts',
    sa.Column('campaign_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('key', sa.String(length=24), nullable=False),
    sa.Column('slot', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('n', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('campaign_id', 'key', 'slot')
    )
    bind = op.get_bind()
    create_triggers(bind)  # first: on PostgreSQL they lock the tables until the fill below is committed
    for statement in FILL:
        bind.exec_driver_sql(statement)


def downgrade() -> None:
    drop_triggers(op.get_bind())
    op.drop_table('campaign_counts')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_subject_at')
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
    op.drop_table('audit_log')
