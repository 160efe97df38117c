"""contact_changes: each field of a contact changed, old -> new, by whom and through what

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'contact_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contact_id', sa.Integer(), nullable=False),
        sa.Column('field', sa.String(length=120), nullable=False),
        sa.Column('old', sa.Text(), nullable=False),
        sa.Column('new', sa.Text(), nullable=False),
        sa.Column('who', sa.String(length=120), nullable=False),
        sa.Column('via', sa.String(length=32), nullable=False),
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['contact_id'], ['contacts.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('contact_changes', schema=None) as batch_op:
        batch_op.create_index('ix_contact_changes_contact_id', ['contact_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contact_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_contact_changes_contact_id')
    op.drop_table('contact_changes')
