"""Tickets sent to a friend: the offer (link, recipient, state) and the tickets it moves."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .types import UTCDateTime, utcnow


class TransferStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"


class TicketTransfer(Model):
    """An offer of tickets from one booking to an email address. Only the HMAC of the
    link's secret is stored. Accepting moves the tickets (new rows, new codes) into a new
    booking of the friend's; until then the sender can take the offer back."""

    __tablename__ = "ticket_transfers"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'accepted', 'revoked')", name="status_known"),
        Index("ix_ticket_transfers_booking_id", "booking_id"),
        Index("ix_ticket_transfers_new_booking_id", "new_booking_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recipient_email: Mapped[str] = mapped_column(String(254))
    secret_hash: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=TransferStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    new_booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    items: Mapped[list[TransferredTicket]] = relationship(
        back_populates="transfer", order_by="TransferredTicket.id", lazy="selectin"
    )


class TransferredTicket(Model):
    """One ticket of a transfer; `new_ticket_id` is the friend's ticket once accepted."""

    __tablename__ = "transferred_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_id: Mapped[int] = mapped_column(ForeignKey("ticket_transfers.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    new_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))

    transfer: Mapped[TicketTransfer] = relationship(back_populates="items")
