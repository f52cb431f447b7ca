"""Seat holds, bookings and tickets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .screen import Seat
from .show import Show
from .types import UTCDateTime, utcnow


class SeatHold(Model):
    """A customer's temporary claim on a seat. A row whose expires_at has passed counts as
    free at once; cleanup deletes it later. At most one row per (show, seat)."""

    __tablename__ = "seat_holds"
    __table_args__ = (
        UniqueConstraint("show_id", "seat_id", name="uq_seat_holds_show_seat"),
        Index("ix_seat_holds_user_show", "user_id", "show_id"),
        Index("ix_seat_holds_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    show_id: Mapped[int] = mapped_column(ForeignKey("shows.id", ondelete="CASCADE"))
    seat_id: Mapped[int] = mapped_column(ForeignKey("seats.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())

    seat: Mapped[Seat] = relationship(lazy="joined")


class BookingStatus(StrEnum):
    PAID = "paid"
    PARTIALLY_CANCELLED = "partially_cancelled"
    CANCELLED = "cancelled"


class TicketStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class Booking(Model):
    __tablename__ = "bookings"
    __table_args__ = (
        CheckConstraint(
            "status IN ('paid', 'partially_cancelled', 'cancelled')", name="status_known"
        ),
        CheckConstraint("total_coins >= 0", name="total_not_negative"),
        Index("ix_bookings_user_created", "user_id", "created_at"),
        # The dashboard's bookings and cancellations per day.
        Index("ix_bookings_created_at", "created_at"),
        Index(
            "ix_bookings_cancelled_at",
            "cancelled_at",
            sqlite_where=text("cancelled_at IS NOT NULL"),
            postgresql_where=text("cancelled_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    show_id: Mapped[int] = mapped_column(ForeignKey("shows.id"), index=True)
    status: Mapped[str] = mapped_column(String(24), default=BookingStatus.PAID)
    total_coins: Mapped[int]
    # The checkout form's one-time token: a second submit finds this booking instead of
    # charging again.
    checkout_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    show: Mapped[Show] = relationship(lazy="joined")
    tickets: Mapped[list[Ticket]] = relationship(
        back_populates="booking", order_by="Ticket.id", lazy="selectin"
    )

    def can_cancel(self, now: datetime) -> bool:
        """Whether the customer may still cancel something: the show is scheduled and has
        not started, and a ticket is still active and unused (the service re-checks)."""
        return (
            self.show.status == "scheduled"
            and now < self.show.starts_at
            and any(t.is_cancellable for t in self.tickets)
        )


class Ticket(Model):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'cancelled')", name="status_known"),
        CheckConstraint("price_coins >= 0", name="price_not_negative"),
        # No double sale: one live ticket per seat of a show, enforced by the database.
        Index(
            "uq_tickets_live_show_seat",
            "show_id",
            "seat_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        # The dashboard's tickets sold and cancelled per day.
        Index("ix_tickets_created_at", "created_at"),
        Index(
            "ix_tickets_cancelled_at",
            "cancelled_at",
            sqlite_where=text("cancelled_at IS NOT NULL"),
            postgresql_where=text("cancelled_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), index=True)
    show_id: Mapped[int] = mapped_column(ForeignKey("shows.id"))
    seat_id: Mapped[int] = mapped_column(ForeignKey("seats.id"))
    category: Mapped[str] = mapped_column(String(16))
    price_coins: Mapped[int]  # frozen at payment
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.ACTIVE)
    refund_coins: Mapped[int | None]
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    booking: Mapped[Booking] = relationship(back_populates="tickets")
    seat: Mapped[Seat] = relationship(lazy="joined")

    @property
    def is_cancellable(self) -> bool:
        """Active and not yet used at the door: a used ticket is never refunded."""
        return self.status == TicketStatus.ACTIVE and self.checked_in_at is None

    @property
    def is_used(self) -> bool:
        """Active and used at the door: every cancellation keeps it, unrefunded."""
        return self.status == TicketStatus.ACTIVE and self.checked_in_at is not None
