"""Show reminders: a claim row per booking and kind, and an opt-out per account.

booking_reminders holds one row per (booking, kind), written in the transaction that
queues the reminder email; its unique key is what makes two cron runs (or machines)
send one email. users.reminders_enabled (default true) is the opt-out on /account.

Plain CREATE TABLE and ADD COLUMN on both databases: no table is rebuilt on SQLite.

Revision ID: k18a_reminders
Revises: g13_outbox_payload
Create Date: 2026-12-06 00:05:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'k18a_reminders'
down_revision = 'g13_outbox_payload'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'booking_reminders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('day_before', 'soon')", name=op.f('ck_booking_reminders_kind_known')
        ),
        sa.ForeignKeyConstraint(
            ['booking_id'], ['bookings.id'], name=op.f('fk_booking_reminders_booking_id_bookings')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_reminders')),
        sa.UniqueConstraint('booking_id', 'kind', name='uq_booking_reminders_booking_kind'),
    )
    op.add_column(
        'users',
        sa.Column('reminders_enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    )


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE users DROP COLUMN reminders_enabled')
    else:
        op.drop_column('users', 'reminders_enabled')
    op.drop_table('booking_reminders')
