"""The email outbox: messages queued in the transaction of the change they report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class OutboxMessage(Model):
    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
        Index("ix_outbox_messages_due", "status", "next_attempt_at"),
        # The sender's claim (pending, due, next ids in id order) walks only the pending
        # rows, a handful among a year of sent ones, and checks the due time in the index.
        Index(
            "ix_outbox_messages_pending",
            "id",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    to_address: Mapped[str] = mapped_column(String(254))
    # The facts the message will say (ids and the values true at the change: what a
    # cancellation cancelled and refunded, a verification code), rendered by the sender
    # (services/mail/emails.py); rows queued before that hold {"rendered": {"subject", "text",
    # "html", "attachments"}} and are sent as written.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    # Due time; while a sender holds the row it is the end of that sender's lease.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The sender run that last claimed the row; its renewals and releases touch only
    # rows it still holds, so a sender that lost its lease never takes a row back.
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # An admin's resend starts a new round of tries: the retry horizon counts from here.
    resent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def retrying_since(self) -> datetime:
        """When the current round of tries began: queued, or resent by an admin."""
        return self.resent_at or self.created_at
