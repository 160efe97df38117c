"""hook_tokens: the tokens of email services' signed posts, so a replayed post is refused

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hook_tokens',
    sa.Column('key', sa.String(length=160), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('hook_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_hook_tokens_seen_at'), ['seen_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('hook_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_hook_tokens_seen_at'))
    op.drop_table('hook_tokens')
