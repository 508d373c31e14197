"""schedule_layers.version (two managers editing one layer: the second save is refused, not
lost); schedules.detached_from/detached_at (a file-managed schedule handed to the console)

Revision ID: 0014_layer_version_detach
Revises: 0013_user_deactivated
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oncall.models

revision: str = '0014_layer_version_detach'
down_revision: str | None = '0013_user_deactivated'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('schedule_layers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False,
                                      server_default='1'))
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('detached_from', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('detached_at', oncall.models.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.drop_column('detached_at')
        batch_op.drop_column('detached_from')
    with op.batch_alter_table('schedule_layers', schema=None) as batch_op:
        batch_op.drop_column('version')
