"""email_link_uses: the one-click Acknowledge / Resolve links of email pages that were used
(single use: a second click changes nothing and says when the first one was)

Revision ID: 0015_email_link_uses
Revises: 0014_layer_version_detach
Create Date: 2026-12-03 07:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oncall.models

revision: str = '0015_email_link_uses'
down_revision: str | None = '0014_layer_version_detach'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'email_link_uses',
        sa.Column('nonce_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('incident_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('used_at', oncall.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['incident_id'], ['incidents.id'], name=op.f('fk_email_link_uses_incident_id_incidents'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_email_link_uses_user_id_users'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('nonce_hash', name=op.f('pk_email_link_uses')),
    )
    with op.batch_alter_table('email_link_uses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_email_link_uses_incident_id'), ['incident_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('email_link_uses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_email_link_uses_incident_id'))
    op.drop_table('email_link_uses')
