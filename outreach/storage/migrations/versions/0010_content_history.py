"""content_versions: every save of the writer's files (who, when, size, the text), for the history and restore

Revision ID: 0010_content_history
Revises: 0009
Create Date: 2026-12-15 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010_content_history'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('content_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('path', sa.String(length=400), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('who', sa.String(length=120), nullable=False),
    sa.Column('via', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('content_versions', schema=None) as batch_op:
        batch_op.create_index('ix_content_versions_path', ['path', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('content_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_content_versions_path')
    op.drop_table('content_versions')
