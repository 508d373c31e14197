"""layer history: schedule_layers.effective_from, .turn_offset and schedule_layer_versions

Existing layers become in force since forever (effective_from NULL) with no history, so no
shift moves on upgrade. Downgrading drops the history: every layer's current definition is
then in force at every time again, as before this revision.

Revision ID: 0011_layer_history
Revises: 0009_due_index
Create Date: 2026-12-03 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oncall.models

revision: str = '0011_layer_history'
down_revision: str | None = '0009_due_index'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'schedule_layer_versions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('schedule_id', sa.Integer(), nullable=False),
        sa.Column('layer_id', sa.Integer(), nullable=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('spec', sa.JSON(), nullable=False),
        sa.Column('members', sa.JSON(), nullable=False),
        sa.Column('restrictions', sa.JSON(), nullable=False),
        sa.Column('turn_offset', sa.Integer(), nullable=False),
        sa.Column('effective_from', oncall.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('effective_until', oncall.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['schedule_id'], ['schedules.id'],
                                name=op.f('fk_schedule_layer_versions_schedule_id_schedules'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_schedule_layer_versions')),
    )
    op.create_index('ix_layer_versions_window', 'schedule_layer_versions',
                    ['schedule_id', 'effective_until'], unique=False)
    with op.batch_alter_table('schedule_layers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('effective_from', oncall.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('turn_offset', sa.Integer(), nullable=False,
                                      server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('schedule_layers', schema=None) as batch_op:
        batch_op.drop_column('turn_offset')
        batch_op.drop_column('effective_from')
    op.drop_index('ix_layer_versions_window', table_name='schedule_layer_versions')
    op.drop_table('schedule_layer_versions')
