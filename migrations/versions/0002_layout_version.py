"""Seat-grid ETags from the seat state itself; a layout version per screen.

shows.seat_version was bumped by every hold, sale and refund: an UPDATE of the show row
that every seat click of a show queued behind until commit. The grid's ETag is now a
digest of the seats' state, so the column goes. screens.layout_version is bumped when a
screen's seats are regenerated and keys the in-process seat-layout cache.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 13:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('screens', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('layout_version', sa.Integer(), server_default='1', nullable=False)
        )
    with op.batch_alter_table('shows', schema=None) as batch_op:
        batch_op.drop_column('seat_version')


def downgrade():
    with op.batch_alter_table('shows', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('seat_version', sa.Integer(), server_default='1', nullable=False)
        )
    with op.batch_alter_table('screens', schema=None) as batch_op:
        batch_op.drop_column('layout_version')
