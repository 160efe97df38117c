"""API tokens, webhook receivers and deliveries; on PostgreSQL, event ids visible in their order

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 09:00:00

The API's event feed and the webhooks read ``events`` after a cursor (an id). On
PostgreSQL two transactions can take ids 5 and 6 and commit 6 first: a reader
would move its cursor past 5 before 5 is visible, and never see it. The trigger
makes every transaction that inserts an event take one transaction-scoped
advisory lock first and only then draw the row's id, so ids become visible in
their order (SQLite has one writer at a time: there, they always do).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

# 0x6f757472 = "outr": the key of the one advisory lock event writers take, also used by tests
FEED_LOCK = 0x6F757472
_FUNCTION = f"""
CREATE OR REPLACE FUNCTION outreach_event_order() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({FEED_LOCK});
    NEW.id := nextval(pg_get_serial_sequence('events', 'id'));
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""
_TRIGGER = ("CREATE TRIGGER outreach_event_order BEFORE INSERT ON events "
            "FOR EACH ROW EXECUTE FUNCTION outreach_event_order()")


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('hint', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)
    op.create_table('webhook_receivers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('cursor', sa.Integer(), nullable=False),
    sa.Column('lease_owner', sa.String(length=120), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', sa.DateTime(), nullable=True),
    sa.Column('last_delivered_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key')
    )
    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('receiver_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('first_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('last_status', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], ),
    sa.ForeignKeyConstraint(['receiver_id'], ['webhook_receivers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('receiver_id', 'event_id', name='uq_webhook_delivery')
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_contact', ['receiver_id', 'contact_id', 'state', 'event_id'], unique=False)
        batch_op.create_index('ix_webhook_due', ['receiver_id', 'state', 'next_attempt_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_FUNCTION)
        op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS outreach_event_order ON events')
        op.execute('DROP FUNCTION IF EXISTS outreach_event_order()')
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_due')
        batch_op.drop_index('ix_webhook_contact')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhook_receivers')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
    op.drop_table('api_tokens')
