"""Customers change their email address and close their account.

email_changes holds a new address until its owner follows the link sent to it (only the
link token's HMAC is stored); users.closed_at marks an account its owner closed (personal
data anonymised, bookings and ledger kept).

Plain CREATE TABLE and ADD COLUMN on both databases: a nullable column needs no table
rebuild on SQLite.

Revision ID: p16a_account_changes
Revises: j17_api_tokens
Create Date: 2026-12-06 00:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'p16a_account_changes'
down_revision = 'j17_api_tokens'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'email_changes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('new_email', sa.String(length=254), nullable=False),
        sa.Column('secret_hash', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'],
            name=op.f('fk_email_changes_user_id_users'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_email_changes')),
        sa.UniqueConstraint('secret_hash', name=op.f('uq_email_changes_secret_hash')),
    )
    op.create_index('ix_email_changes_user_id', 'email_changes', ['user_id'], unique=False)
    op.add_column('users', sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE users DROP COLUMN closed_at')
    else:
        op.drop_column('users', 'closed_at')
    op.drop_index('ix_email_changes_user_id', table_name='email_changes')
    op.drop_table('email_changes')
