"""contacts.language; indexes for the contact policy checked at build

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=8), nullable=False, server_default=''))
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_contact_state_sent', ['contact_id', 'state', 'sent_at'], unique=False)
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_contact_kind_at', ['contact_id', 'kind', 'at'], unique=False)
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.create_index('ix_followups_contact_state', ['contact_id', 'state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('followups', schema=None) as batch_op:
        batch_op.drop_index('ix_followups_contact_state')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_contact_kind_at')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_contact_state_sent')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_column('language')
