"""Exchanges: a booking's tickets swapped for seats in another show, with the settlement."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class BookingExchange(Model):
    """One exchange: the old booking's tickets were cancelled and the new booking issued in
    the same transaction. The unique old booking means a booking is exchanged at most once
    (its successor can be exchanged again). Coins: `credit_coins` came back on the old
    booking (a refund entry), `charge_coins` was paid for the new one (a booking_charge)."""

    __tablename__ = "booking_exchanges"
    __table_args__ = (
        CheckConstraint("credit_coins >= 0", name="credit_not_negative"),
        CheckConstraint("charge_coins >= 0", name="charge_not_negative"),
        CheckConstraint("refund_percent BETWEEN 0 AND 100", name="percent_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    old_booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), unique=True)
    new_booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), unique=True)
    credit_coins: Mapped[int]
    charge_coins: Mapped[int]
    refund_percent: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
