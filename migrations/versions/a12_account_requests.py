"""Account requests: reset, new-code and sign-up requests wait here for the mail sender.

The forms that name an address answered faster for addresses without an account (less
work was done); now each request stores one row, the same whoever asks, and the mail
sender does the rest.

Revision ID: a12_account_requests
Revises: a12_user_sessions
Create Date: 2026-12-06 14:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a12_account_requests'
down_revision = 'a12_user_sessions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'account_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('email', sa.String(length=254), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('reset', 'verify', 'register')",
            name=op.f('ck_account_requests_kind_known'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_account_requests')),
    )


def downgrade():
    op.drop_table('account_requests')
