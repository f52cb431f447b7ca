"""The dashboard's figures of closed days, rolled up once: report_days (money and
activity per local day), report_day_revenue (per day, film and screen) and
report_show_sales (tickets sold of a show that has ended).

Plain CREATE TABLE on both databases; `flask roll-up-reports` (cron) fills them.

Revision ID: i15b_report_days
Revises: k18a_transfers
Create Date: 2026-12-06 03:20:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'i15b_report_days'
down_revision = 'k18a_transfers'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'report_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('charged_coins', sa.Integer(), nullable=False),
        sa.Column('refunded_coins', sa.Integer(), nullable=False),
        sa.Column('bookings', sa.Integer(), nullable=False),
        sa.Column('tickets_sold', sa.Integer(), nullable=False),
        sa.Column('tickets_cancelled', sa.Integer(), nullable=False),
        sa.Column('bookings_cancelled', sa.Integer(), nullable=False),
        sa.Column('rolled_up_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('day', name=op.f('pk_report_days')),
    )
    op.create_table(
        'report_day_revenue',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('movie_id', sa.Integer(), nullable=False),
        sa.Column('screen_id', sa.Integer(), nullable=False),
        sa.Column('charged_coins', sa.Integer(), nullable=False),
        sa.Column('refunded_coins', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['day'], ['report_days.day'],
            name=op.f('fk_report_day_revenue_day_report_days'), ondelete='CASCADE',
        ),
        sa.ForeignKeyConstraint(
            ['movie_id'], ['movies.id'], name=op.f('fk_report_day_revenue_movie_id_movies')
        ),
        sa.ForeignKeyConstraint(
            ['screen_id'], ['screens.id'], name=op.f('fk_report_day_revenue_screen_id_screens')
        ),
        sa.PrimaryKeyConstraint('day', 'movie_id', 'screen_id', name=op.f('pk_report_day_revenue')),
    )
    op.create_table(
        'report_show_sales',
        sa.Column('show_id', sa.Integer(), nullable=False),
        sa.Column('sold', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['show_id'], ['shows.id'],
            name=op.f('fk_report_show_sales_show_id_shows'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('show_id', name=op.f('pk_report_show_sales')),
    )


def downgrade():
    op.drop_table('report_show_sales')
    op.drop_table('report_day_revenue')
    op.drop_table('report_days')
