"""users: deactivated_at (an admin ends someone's access and keeps their history)

Revision ID: 0013_user_deactivated
Revises: 0012_console_auth
Create Date: 2026-12-03 04:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oncall.models

revision: str = '0013_user_deactivated'
down_revision: str | None = '0012_console_auth'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deactivated_at', oncall.models.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deactivated_at')
