"""Show reminders: one row per booking and kind, the claim that makes each email go once."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class ReminderKind(StrEnum):
    DAY_BEFORE = "day_before"
    SOON = "soon"


class BookingReminder(Model):
    """Written in the transaction that queues the reminder email: the unique key lets a
    second run (another cron, another machine) find the reminder taken and send nothing."""

    __tablename__ = "booking_reminders"
    __table_args__ = (
        UniqueConstraint("booking_id", "kind", name="uq_booking_reminders_booking_kind"),
        CheckConstraint("kind IN ('day_before', 'soon')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
