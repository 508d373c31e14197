"""users.phone_source/phone_verified_at (a self-entered phone is paged only once verified by
an SMS code); phone_verifications (the codes, hashed); test_pages ("send me a test page")

Revision ID: 0016_profile_phone_verification
Revises: 0015_email_link_uses
Create Date: 2026-12-03 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import oncall.models

revision: str = '0016_profile_phone_verification'
down_revision: str | None = '0015_email_link_uses'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_source', sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column('phone_verified_at',
                                      oncall.models.UTCDateTime(timezone=True), nullable=True))
    # Numbers already stored were set by an admin or a file: trusted as set.
    op.execute("UPDATE users SET phone_source = CASE WHEN managed_by IS NULL THEN 'admin' "
               "ELSE 'file' END WHERE phone IS NOT NULL")
    op.create_table(
        'phone_verifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('phone', sa.String(length=32), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', oncall.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', oncall.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('used_at', oncall.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('superseded_at', oncall.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_phone_verifications_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_phone_verifications')),
    )
    with op.batch_alter_table('phone_verifications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_verifications_user_id'), ['user_id'],
                              unique=False)
    op.create_table(
        'test_pages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=False),
        sa.Column('sent_at', oncall.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('provider_id', sa.String(length=200), nullable=True),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_test_pages_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_test_pages')),
    )
    with op.batch_alter_table('test_pages', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_test_pages_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('test_pages', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_test_pages_user_id'))
    op.drop_table('test_pages')
    with op.batch_alter_table('phone_verifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_verifications_user_id'))
    op.drop_table('phone_verifications')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('phone_verified_at')
        batch_op.drop_column('phone_source')
