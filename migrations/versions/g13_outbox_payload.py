"""The outbox holds each message's facts; the sender renders them.

outbox_messages gains payload (JSON): the ids and values a message will say, rendered
into subject, text, HTML, QR images and the calendar file by the sender after the change
committed, instead of inside the change's transaction. The rendered columns (subject,
body_text, body_html, attachments) go: every row already written is moved into payload
as {"rendered": {"subject", "text", "html", "attachments"}}, which the sender sends as
written, so messages queued before the upgrade still leave and sent ones keep their text.

One UPDATE builds the JSON in SQL (json_build_object on PostgreSQL, json_object on
SQLite). On SQLite the column changes rebuild outbox_messages (batch mode); no table
refers to it, so nothing cascades.

A partial index on the pending rows (id, next_attempt_at) serves the sender's claim,
which takes the next due pending ids in id order: it holds only what waits to be sent.

Downgrade puts the columns back and fills them from {"rendered": …} payloads; a message
queued as facts has no rendered text to go back to: it keeps its kind as the subject and
an empty body (an older sender would send that empty message).

Revision ID: g13_outbox_payload
Revises: k18b_exchange_waitlist
Create Date: 2026-12-08 10:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'g13_outbox_payload'
down_revision = 'k18b_exchange_waitlist'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('outbox_messages', sa.Column('payload', sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "UPDATE outbox_messages SET payload = json_build_object('rendered', "
            "json_build_object('subject', subject, 'text', body_text, 'html', body_html, "
            "'attachments', attachments))"
        )
    else:
        op.execute(
            "UPDATE outbox_messages SET payload = json_object('rendered', "
            "json_object('subject', subject, 'text', body_text, 'html', body_html, "
            "'attachments', json(attachments)))"
        )
    with op.batch_alter_table('outbox_messages') as batch_op:
        batch_op.alter_column('payload', existing_type=sa.JSON(), nullable=False)
        for column in ('subject', 'body_text', 'body_html', 'attachments'):
            batch_op.drop_column(column)
    pending = sa.text("status = 'pending'")
    op.create_index(
        'ix_outbox_messages_pending', 'outbox_messages', ['id', 'next_attempt_at'],
        postgresql_where=pending, sqlite_where=pending,
    )


def downgrade():
    op.drop_index('ix_outbox_messages_pending', table_name='outbox_messages')
    with op.batch_alter_table('outbox_messages') as batch_op:
        batch_op.add_column(sa.Column('subject', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('body_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('body_html', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('attachments', sa.JSON(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "UPDATE outbox_messages SET subject = coalesce(payload->'rendered'->>'subject', "
            "kind), body_text = coalesce(payload->'rendered'->>'text', ''), "
            "body_html = payload->'rendered'->>'html', "
            "attachments = coalesce(payload->'rendered'->'attachments', '[]'::json)"
        )
    else:
        op.execute(
            "UPDATE outbox_messages SET subject = coalesce(json_extract(payload, "
            "'$.rendered.subject'), kind), body_text = coalesce(json_extract(payload, "
            "'$.rendered.text'), ''), body_html = json_extract(payload, '$.rendered.html'), "
            "attachments = coalesce(json_extract(payload, '$.rendered.attachments'), '[]')"
        )
    with op.batch_alter_table('outbox_messages') as batch_op:
        batch_op.alter_column('subject', existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column('body_text', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('attachments', existing_type=sa.JSON(), nullable=False)
        batch_op.drop_column('payload')
