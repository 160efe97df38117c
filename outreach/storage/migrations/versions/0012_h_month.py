"""contact_aliases: the address (and old id) of a contact merged into another, so its mail still matches

Revision ID: 0012_h_month
Revises: 0011_exec
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012_h_month'
down_revision = '0011_exec'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contact_aliases',
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('merged_id', sa.Integer(), nullable=False),
    sa.Column('who', sa.String(length=120), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ),
    sa.PrimaryKeyConstraint('email')
    )
    with op.batch_alter_table('contact_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_aliases_contact_id'), ['contact_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_contact_aliases_merged_id'), ['merged_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contact_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_aliases_merged_id'))
        batch_op.drop_index(batch_op.f('ix_contact_aliases_contact_id'))
    op.drop_table('contact_aliases')
