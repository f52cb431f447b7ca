"""The customer's bookings, read only: one booking (theirs, else a 404) and my bookings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ..extensions import db
from ..models import Booking, BookingStatus, Show
from .errors import NotFound


def get_booking(user_id: int, reference: str) -> Booking:
    """The user's booking with this reference (tickets, show, film and screen loaded).

    Raises NotFound for an unknown reference and for another user's booking alike, so a
    reference can't be probed. Reads only; never locks or commits.
    """
    booking = db.session.scalars(
        select(Booking).where(Booking.reference == reference.strip().upper())
    ).one_or_none()
    if booking is None or booking.user_id != user_id:
        raise NotFound("There is no booking with that reference on your account.")
    return booking


@dataclass(frozen=True)
class BookingLists:
    """A customer's bookings split for the "My bookings" page."""

    upcoming: list[Booking]  # soonest first
    past: list[Booking]  # most recent first
    cancelled: list[Booking]  # most recently cancelled first

    @property
    def empty(self) -> bool:
        return not (self.upcoming or self.past or self.cancelled)


def list_bookings(user_id: int, now: datetime) -> BookingLists:
    """All of the user's bookings: upcoming (the show has not ended), past, and fully
    cancelled ones (kept with their history). Reads only."""
    bookings = db.session.scalars(
        select(Booking).join(Show, Show.id == Booking.show_id).where(Booking.user_id == user_id)
    ).all()
    upcoming: list[Booking] = []
    past: list[Booking] = []
    cancelled: list[Booking] = []
    for booking in bookings:
        if booking.status == BookingStatus.CANCELLED:
            cancelled.append(booking)
        elif booking.show.ends_at > now:
            upcoming.append(booking)
        else:
            past.append(booking)
    upcoming.sort(key=lambda b: (b.show.starts_at, b.id))
    past.sort(key=lambda b: (b.show.starts_at, b.id), reverse=True)
    cancelled.sort(key=lambda b: (b.cancelled_at or b.created_at, b.id), reverse=True)
    return BookingLists(upcoming=upcoming, past=past, cancelled=cancelled)
