"""The sales admin: accounts can be disabled, indexes for the contact list

Revision ID: 0013_admin
Revises: 0012_h_month
Create Date: 2026-12-14 09:00:00

``users.disabled``: a disabled account cannot log in (its sessions ended when it
was disabled) and its API tokens do nothing. (The audit log of who changed what,
outreach/audit.py, is 0011's.)
The contact list filters by city and owner: each gets an index (status has two values: none).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013_admin'
down_revision = '0012_h_month'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled', sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_city', ['city'], unique=False)
        batch_op.create_index('ix_contacts_owner', ['owner'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_owner')
        batch_op.drop_index('ix_contacts_city')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('disabled')
