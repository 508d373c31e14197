"""slack: messages posted about incidents (for live updates)

Revision ID: 0005_slack
Revises: 0004_rules
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oncall.models

revision: str = '0005_slack'
down_revision: str | None = '0004_rules'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('slack_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=False),
    sa.Column('page_id', sa.Integer(), nullable=True),
    sa.Column('channel_id', sa.String(length=32), nullable=False),
    sa.Column('ts', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('created_at', oncall.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('rendered', sa.String(length=100), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_slack_messages_incident_id_incidents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['page_id'], ['pages.id'], name=op.f('fk_slack_messages_page_id_pages'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_slack_messages')),
    sa.UniqueConstraint('channel_id', 'ts', name='uq_slack_messages_key')
    )
    with op.batch_alter_table('slack_messages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slack_messages_incident_id'), ['incident_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('slack_messages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slack_messages_incident_id'))
    op.drop_table('slack_messages')
