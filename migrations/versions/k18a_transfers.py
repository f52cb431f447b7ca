"""Send a ticket to a friend: the offer and the tickets it moves.

ticket_transfers holds the offer (source booking, sender, recipient address, the HMAC of
the link's secret, status, expiry, and once accepted who took it and their new booking);
transferred_tickets the tickets it moves, with the friend's new ticket once accepted.
Tickets themselves are unchanged: the sender's ticket is cancelled (no refund) and the
friend gets a new ticket row, hence a new code.

Plain CREATE TABLE on both databases.

Revision ID: k18a_transfers
Revises: k18a_reminders
Create Date: 2026-12-06 00:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'k18a_transfers'
down_revision = 'k18a_reminders'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'ticket_transfers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('booking_id', sa.Integer(), nullable=False),
        sa.Column('sender_id', sa.Integer(), nullable=False),
        sa.Column('recipient_email', sa.String(length=254), nullable=False),
        sa.Column('secret_hash', sa.String(length=128), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('accepted_by_id', sa.Integer(), nullable=True),
        sa.Column('new_booking_id', sa.Integer(), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'revoked')",
            name=op.f('ck_ticket_transfers_status_known'),
        ),
        sa.ForeignKeyConstraint(
            ['accepted_by_id'], ['users.id'], name=op.f('fk_ticket_transfers_accepted_by_id_users')
        ),
        sa.ForeignKeyConstraint(
            ['booking_id'], ['bookings.id'], name=op.f('fk_ticket_transfers_booking_id_bookings')
        ),
        sa.ForeignKeyConstraint(
            ['new_booking_id'], ['bookings.id'],
            name=op.f('fk_ticket_transfers_new_booking_id_bookings'),
        ),
        sa.ForeignKeyConstraint(
            ['sender_id'], ['users.id'], name=op.f('fk_ticket_transfers_sender_id_users')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_ticket_transfers')),
        sa.UniqueConstraint('secret_hash', name=op.f('uq_ticket_transfers_secret_hash')),
    )
    op.create_index('ix_ticket_transfers_booking_id', 'ticket_transfers', ['booking_id'])
    op.create_index('ix_ticket_transfers_new_booking_id', 'ticket_transfers', ['new_booking_id'])
    op.create_table(
        'transferred_tickets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('transfer_id', sa.Integer(), nullable=False),
        sa.Column('ticket_id', sa.Integer(), nullable=False),
        sa.Column('new_ticket_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ['new_ticket_id'], ['tickets.id'],
            name=op.f('fk_transferred_tickets_new_ticket_id_tickets'),
        ),
        sa.ForeignKeyConstraint(
            ['ticket_id'], ['tickets.id'], name=op.f('fk_transferred_tickets_ticket_id_tickets')
        ),
        sa.ForeignKeyConstraint(
            ['transfer_id'], ['ticket_transfers.id'],
            name=op.f('fk_transferred_tickets_transfer_id_ticket_transfers'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_transferred_tickets')),
    )
    op.create_index(
        op.f('ix_transferred_tickets_ticket_id'), 'transferred_tickets', ['ticket_id']
    )
    op.create_index(
        op.f('ix_transferred_tickets_transfer_id'), 'transferred_tickets', ['transfer_id']
    )


def downgrade():
    op.drop_table('transferred_tickets')
    op.drop_table('ticket_transfers')
