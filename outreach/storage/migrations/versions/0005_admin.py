"""The sales admin: accounts can be disabled, an audit log of who changed what, indexes for the contact list

Revision ID: 0005_admin
Revises: 0009
Create Date: 2026-12-14 09:00:00

``users.disabled``: a disabled account cannot log in (its sessions ended when it
was disabled) and its API tokens do nothing. ``audit_log``: one row per change a
person made to an account, an import or a suppression (outreach/audit.py).
The contact list filters by city and owner: each gets an index (status has two values: none).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005_admin'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('disabled', sa.Boolean(), server_default=sa.false(), nullable=False))
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
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_city', ['city'], unique=False)
        batch_op.create_index('ix_contacts_owner', ['owner'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('ix_contacts_owner')
        batch_op.drop_index('ix_contacts_city')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_log_subject_at')
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))
    op.drop_table('audit_log')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('disabled')
