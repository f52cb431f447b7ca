"""Mail is retried until a horizon, leases are short and owned, failures are dated.

outbox_messages gains claimed_by (the sender run holding a row's lease, so renewals and
releases touch only rows it still holds), resent_at (an admin's resend starts a new
round of tries; the retry horizon counts from it) and failed_at (when a message was
given up, for `flask mail-health`). Messages that failed before this migration get
failed_at = next_attempt_at, the time of their last try.

Plain ADD COLUMN on both databases: nullable columns need no table rebuild on SQLite.

Revision ID: b12_mail_retry
Revises: 0002
Create Date: 2026-12-06 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'b12_mail_retry'
down_revision = '0002'
branch_labels = None
depends_on = None


def _drop_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
    else:
        op.drop_column(table, column)


def upgrade():
    op.add_column('outbox_messages', sa.Column('claimed_by', sa.String(length=32), nullable=True))
    op.add_column(
        'outbox_messages', sa.Column('resent_at', sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        'outbox_messages', sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True)
    )
    op.execute(
        "UPDATE outbox_messages SET failed_at = next_attempt_at WHERE status = 'failed'"
    )


def downgrade():
    for column in ('failed_at', 'resent_at', 'claimed_by'):
        _drop_column('outbox_messages', column)
