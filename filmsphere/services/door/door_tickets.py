"""The ticket view for the cinema door: a booking's usable tickets, each QR first, with the
time the screen's doors open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from ...models import ShowStatus
from ..booking.booking_page import TicketCard, booking_page


def doors_open_at(starts_at: datetime) -> datetime:
    """When the screen opens to the audience: DOORS_OPEN_MINUTES before the start (the
    config keeps it within check-in's window, so a ticket shown then is accepted)."""
    return starts_at - timedelta(minutes=int(current_app.config["DOORS_OPEN_MINUTES"]))


@dataclass(frozen=True)
class DoorTickets:
    reference: str
    movie_title: str
    starts_at: datetime
    doors_open_at: datetime
    screen_name: str
    tickets: list[TicketCard]  # active ones only, in the booking page's order
    used_count: int
    cancelled_count: int
    show_cancelled: bool
    show_ended: bool


def door_tickets(user_id: int, reference: str, now: datetime) -> DoorTickets:
    """The user's booking as the door sees it: every ticket that can still be scanned, with
    its code and QR, in the booking page's order. Raises NotFound for an unknown or another user's
    booking (the same answer for both). Reads only."""
    page = booking_page(user_id, reference, now)
    active = [card for card in page.cards if card.status == "active"]
    return DoorTickets(
        reference=page.booking.reference,
        movie_title=page.movie.title,
        starts_at=page.show.starts_at,
        doors_open_at=doors_open_at(page.show.starts_at),
        screen_name=page.screen.name,
        tickets=active,
        used_count=sum(1 for card in page.cards if card.status == "used"),
        cancelled_count=sum(1 for card in page.cards if card.status == "cancelled"),
        show_cancelled=page.show.status == ShowStatus.CANCELLED,
        show_ended=now >= page.show.ends_at,
    )
