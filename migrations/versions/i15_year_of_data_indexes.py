"""Indexes for a year of data: day buckets, cleanup, and the admin's searches.

- bookings.created_at, tickets.created_at and the cancelled_at of both (partial: only
  cancelled rows): the dashboard's per-day counts read the period's rows, not the tables.
- shows.ends_at where status = 'scheduled': cleanup finds the shows that just ended
  without reading every show of the past.
- PostgreSQL only: the pg_trgm extension and trigram GIN indexes on lower(email),
  lower(username) and lower(full_name), so the admin's "contains" searches
  (lower(column) LIKE '%text%') read the matching users, not all of them. SQLite keeps
  the plain LIKE scan; the models don't declare these (see models/user.py).

Plain CREATE INDEX: on a live PostgreSQL of a year's tickets this takes seconds and
blocks writes to those tables meanwhile; run it in a quiet minute.

Revision ID: i15_year_indexes
Revises: p16a_account_changes
Create Date: 2026-12-06 00:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "i15_year_indexes"
down_revision = "p16a_account_changes"
branch_labels = None
depends_on = None

CANCELLED = sa.text("cancelled_at IS NOT NULL")
SCHEDULED = sa.text("status = 'scheduled'")
TRIGRAM_COLUMNS = ("email", "username", "full_name")


def upgrade():
    op.create_index("ix_bookings_created_at", "bookings", ["created_at"])
    op.create_index(
        "ix_bookings_cancelled_at",
        "bookings",
        ["cancelled_at"],
        sqlite_where=CANCELLED,
        postgresql_where=CANCELLED,
    )
    op.create_index("ix_tickets_created_at", "tickets", ["created_at"])
    op.create_index(
        "ix_tickets_cancelled_at",
        "tickets",
        ["cancelled_at"],
        sqlite_where=CANCELLED,
        postgresql_where=CANCELLED,
    )
    op.create_index(
        "ix_shows_scheduled_ends_at",
        "shows",
        ["ends_at"],
        sqlite_where=SCHEDULED,
        postgresql_where=SCHEDULED,
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in TRIGRAM_COLUMNS:
            op.execute(
                f"CREATE INDEX ix_users_{column}_trgm ON users"
                f" USING gin (lower({column}) gin_trgm_ops)"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for column in TRIGRAM_COLUMNS:
            op.execute(f"DROP INDEX IF EXISTS ix_users_{column}_trgm")
        # The extension stays: other objects may use it, and it costs nothing idle.
    op.drop_index("ix_shows_scheduled_ends_at", table_name="shows")
    op.drop_index("ix_tickets_cancelled_at", table_name="tickets")
    op.drop_index("ix_tickets_created_at", table_name="tickets")
    op.drop_index("ix_bookings_cancelled_at", table_name="bookings")
    op.drop_index("ix_bookings_created_at", table_name="bookings")
