"""due index: (status, next_action_at) over incidents with a next action only

Revision ID: 0009_due_index
Revises: 0008_twilio
Create Date: 2026-11-28 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0009_due_index'
down_revision: str | None = '0008_twilio'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = sa.text("next_action_at IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_due')
        batch_op.create_index('ix_incidents_due', ['status', 'next_action_at'], unique=False,
                              postgresql_where=_WHERE, sqlite_where=_WHERE)


def downgrade() -> None:
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_due', postgresql_where=_WHERE, sqlite_where=_WHERE)
        batch_op.create_index('ix_incidents_due', ['next_action_at'], unique=False)
