"""Log-in sessions kept on the server; users.session_version goes.

A session or remember cookie used to carry "<user id>:<session_version>", valid until the
version was bumped: logging out could not end one session, only all of them. Each log-in
is now a user_sessions row (the cookie carries its id and a secret, the row a SHA-256 of
the secret); logout deletes it. Ending all of a user's sessions deletes all their rows,
so the version column has no use left. Existing log-ins end with the upgrade (their
cookies name no session): everyone logs in once more.

users.session_version is dropped in place on both databases (SQLite >= 3.35 has DROP
COLUMN), for the reason given in 0002.

Revision ID: a12_user_sessions
Revises: b12_mail_retry
Create Date: 2026-12-06 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'a12_user_sessions'
down_revision = 'b12_mail_retry'
branch_labels = None
depends_on = None


def _drop_column(table: str, column: str) -> None:
    if op.get_bind().dialect.name == 'sqlite':
        op.execute(f'ALTER TABLE {table} DROP COLUMN {column}')
    else:
        op.drop_column(table, column)


def upgrade():
    op.create_table(
        'user_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'],
            name=op.f('fk_user_sessions_user_id_users'), ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_sessions')),
    )
    op.create_index('ix_user_sessions_user_id', 'user_sessions', ['user_id'], unique=False)
    op.create_index('ix_user_sessions_expires_at', 'user_sessions', ['expires_at'], unique=False)
    _drop_column('users', 'session_version')


def downgrade():
    op.add_column(
        'users', sa.Column('session_version', sa.Integer(), server_default='1', nullable=False)
    )
    op.drop_index('ix_user_sessions_expires_at', table_name='user_sessions')
    op.drop_index('ix_user_sessions_user_id', table_name='user_sessions')
    op.drop_table('user_sessions')
