"""Seat-grid ETags from the seat state itself; a layout version per screen.

shows.seat_version was bumped by every hold, sale and refund: an UPDATE of the show row
that every seat click of a show queued behind until commit. The grid's ETag is now a
digest of the seats' state, so the column goes. screens.layout_version is bumped when a
screen's layout is saved and keys the in-process seat-layout cache.

Columns are added and dropped in place on both databases (SQLite >= 3.35 has DROP
COLUMN). Alembic's batch mode would rebuild the tables on SQLite, and with foreign keys
on, dropping the old shows table deletes its rows first: holds cascade away and existing
bookings make the upgrade fail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 13:30:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def _drop_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
    else:
        op.drop_column(table, column)


def upgrade():
    op.add_column(
        'screens', sa.Column('layout_version', sa.Integer(), server_default='1', nullable=False)
    )
    _drop_column('shows', 'seat_version')


def downgrade():
    op.add_column(
        'shows', sa.Column('seat_version', sa.Integer(), server_default='1', nullable=False)
    )
    _drop_column('screens', 'layout_version')
