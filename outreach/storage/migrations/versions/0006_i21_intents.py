"""reply intents: one row per read reply, contact proposals, the intent on follow-up items

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reply_intents',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=True),
        sa.Column('campaign_id', sa.Integer(), nullable=True),
        sa.Column('intent', sa.String(length=20), nullable=False),
        sa.Column('unsure', sa.Boolean(), nullable=False),
        sa.Column('confidence', sa.Float(), nullable=False),
        sa.Column('question', sa.Text(), nullable=True),
        sa.Column('referral_name', sa.String(length=200), nullable=True),
        sa.Column('referral_email', sa.String(length=320), nullable=True),
        sa.Column('decided_by', sa.String(length=64), nullable=False),
        sa.Column('reviewed_at', sa.DateTime(), nullable=True),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['event_id'], ['events.id']),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id']),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id'),
    )
    op.create_index('ix_reply_intents_contact_intent_at', 'reply_intents', ['contact_id', 'intent', 'at'])
    op.create_table(
        'contact_proposals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('reply_id', sa.Integer(), nullable=True),
        sa.Column('old_contact_id', sa.Integer(), nullable=True),
        sa.Column('new_contact_id', sa.Integer(), nullable=True),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('decided_at', sa.DateTime(), nullable=True),
        sa.Column('decided_by', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['reply_id'], ['reply_intents.id']),
        sa.ForeignKeyConstraint(['old_contact_id'], ['contacts.id']),
        sa.ForeignKeyConstraint(['new_contact_id'], ['contacts.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('intent', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('question', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_column('question')
        batch_op.drop_column('intent')
    op.drop_table('contact_proposals')
    op.drop_index('ix_reply_intents_contact_intent_at', table_name='reply_intents')
    op.drop_table('reply_intents')
