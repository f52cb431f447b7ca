"""The booking page's view objects: ticket cards with their codes and QR images."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from markupsafe import Markup

from ...models import Booking, Movie, Screen, Show, TicketStatus
from ..door.qr import qr_svg
from ..door.ticket_codes import ticket_code
from .customer_bookings import get_booking
from .ticket_lines import TicketLine

CardStatus = Literal["active", "used", "cancelled"]


@dataclass(frozen=True)
class TicketCard(TicketLine):
    status: CardStatus
    cancelled_at: datetime | None
    checked_in_at: datetime | None
    code: str | None  # active tickets only
    qr: Markup | None  # inline SVG, active tickets only


@dataclass(frozen=True)
class BookingPage:
    booking: Booking
    show: Show
    movie: Movie
    screen: Screen
    cards: list[TicketCard]
    refunded_coins: int
    cancellable: bool
    show_started: bool

    @property
    def active_count(self) -> int:
        return sum(1 for c in self.cards if c.status == "active")


def booking_page(user_id: int, reference: str, now: datetime) -> BookingPage:
    """The user's booking with one card per ticket; QR codes for tickets that can still
    be used. Raises NotFound for an unknown or another user's booking. Reads only."""
    booking = get_booking(user_id, reference)
    show = booking.show
    cards = []
    for ticket in booking.tickets:
        status: CardStatus
        if ticket.status == TicketStatus.CANCELLED:
            status = "cancelled"
        elif ticket.checked_in_at is not None:
            status = "used"
        else:
            status = "active"
        code = ticket_code(ticket) if status == "active" else None
        label = f"Row {ticket.seat.row_label}, seat {ticket.seat.number}"
        cards.append(
            TicketCard.of(
                ticket,
                status=status,
                cancelled_at=ticket.cancelled_at,
                checked_in_at=ticket.checked_in_at,
                code=code,
                qr=qr_svg(code, title=f"QR code for {label}, {show.movie.title}") if code else None,
            )
        )
    show_started = now >= show.starts_at
    cancellable = booking.can_cancel(now)
    return BookingPage(
        booking=booking,
        show=show,
        movie=show.movie,
        screen=show.screen,
        cards=cards,
        refunded_coins=sum(t.refund_coins or 0 for t in booking.tickets),
        cancellable=cancellable,
        show_started=show_started,
    )
