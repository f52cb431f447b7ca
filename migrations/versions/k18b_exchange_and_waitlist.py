"""Exchanges to another showtime, and waitlists for sold-out shows.

booking_exchanges records each exchange (old booking → new booking, the coins credited
and charged, the refund percent applied to money back); the unique old booking stops a
second exchange of the same booking at the database. waitlist_entries is the queue of a
sold-out show; a partial unique index keeps one live entry (waiting or offered) per
customer per show.

New tables only: nothing existing is rebuilt on SQLite.

Revision ID: k18b_exchange_waitlist
Revises: i15_year_indexes
Create Date: 2026-12-06 00:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'k18b_exchange_waitlist'
down_revision = 'i15_year_indexes'
branch_labels = None
depends_on = None

LIVE = sa.text("status IN ('waiting', 'offered')")


def upgrade():
    op.create_table(
        'waitlist_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('show_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('party_size', sa.Integer(), nullable=False),
        sa.Column('adjacent', sa.Boolean(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('offered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('offer_expires_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('offered_seats', sa.String(length=200), nullable=True),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'offered', 'claimed', 'lapsed', 'left', 'closed')",
            name=op.f('ck_waitlist_entries_status_known'),
        ),
        sa.CheckConstraint(
            'party_size BETWEEN 1 AND 10', name=op.f('ck_waitlist_entries_party_size_range')
        ),
        sa.ForeignKeyConstraint(
            ['show_id'], ['shows.id'],
            name=op.f('fk_waitlist_entries_show_id_shows'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'],
            name=op.f('fk_waitlist_entries_user_id_users'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entries')),
    )
    op.create_index(
        'ix_waitlist_entries_show_status', 'waitlist_entries', ['show_id', 'status']
    )
    op.create_index('ix_waitlist_entries_user_id', 'waitlist_entries', ['user_id'])
    op.create_index(
        'uq_waitlist_entries_live_show_user', 'waitlist_entries', ['show_id', 'user_id'],
        unique=True, sqlite_where=LIVE, postgresql_where=LIVE,
    )
    op.create_table(
        'booking_exchanges',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('old_booking_id', sa.Integer(), nullable=False),
        sa.Column('new_booking_id', sa.Integer(), nullable=False),
        sa.Column('credit_coins', sa.Integer(), nullable=False),
        sa.Column('charge_coins', sa.Integer(), nullable=False),
        sa.Column('refund_percent', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            'charge_coins >= 0', name=op.f('ck_booking_exchanges_charge_not_negative')
        ),
        sa.CheckConstraint(
            'credit_coins >= 0', name=op.f('ck_booking_exchanges_credit_not_negative')
        ),
        sa.CheckConstraint(
            'refund_percent BETWEEN 0 AND 100', name=op.f('ck_booking_exchanges_percent_in_range')
        ),
        sa.ForeignKeyConstraint(
            ['new_booking_id'], ['bookings.id'],
            name=op.f('fk_booking_exchanges_new_booking_id_bookings'),
        ),
        sa.ForeignKeyConstraint(
            ['old_booking_id'], ['bookings.id'],
            name=op.f('fk_booking_exchanges_old_booking_id_bookings'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_exchanges')),
        sa.UniqueConstraint('new_booking_id', name=op.f('uq_booking_exchanges_new_booking_id')),
        sa.UniqueConstraint('old_booking_id', name=op.f('uq_booking_exchanges_old_booking_id')),
    )


def downgrade():
    op.drop_table('booking_exchanges')
    op.drop_index('uq_waitlist_entries_live_show_user', table_name='waitlist_entries')
    op.drop_index('ix_waitlist_entries_user_id', table_name='waitlist_entries')
    op.drop_index('ix_waitlist_entries_show_status', table_name='waitlist_entries')
    op.drop_table('waitlist_entries')
