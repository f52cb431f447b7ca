"""iCalendar (RFC 5545) files for bookings: one VEVENT per booking, times in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app

from ..models import Booking, BookingStatus, TicketStatus


def escape_text(value: str) -> str:
    """Escape a TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma, newlines."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\r", "\\n")
        .replace("\n", "\\n")
    )


def fold(line: str) -> str:
    """Fold a content line at 75 octets (RFC 5545 3.1) without splitting a UTF-8 character."""
    out: list[str] = []
    current = ""
    limit = 75
    for char in line:
        if len((current + char).encode("utf-8")) > limit:
            out.append(current)
            current = " " + char
            limit = 75  # continuation lines start with the space, which counts
        else:
            current += char
    out.append(current)
    return "\r\n".join(out)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def booking_ics(booking: Booking, now: datetime) -> str:
    """The .ics text for a booking: the film (without the cleaning time after it), the
    screen as LOCATION, the seats in the description. A cancelled booking gives a
    STATUS:CANCELLED event, so calendars that imported it can drop it."""
    show = booking.show
    movie = show.movie
    base_url = current_app.config.get("BASE_URL", "")
    host = urlsplit(base_url).hostname or "filmsphere.local"
    seats = ", ".join(
        f"{t.seat.label} ({t.category})" for t in booking.tickets if t.status == TicketStatus.ACTIVE
    )
    description = f"Booking {booking.reference}."
    if seats:
        description += f" Seats: {seats}."
    description += " Show the QR codes from your booking page or email at the door."
    ends_at = show.starts_at + timedelta(minutes=movie.duration_minutes)
    cancelled = booking.status == BookingStatus.CANCELLED
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//FilmSphere//Tickets//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:booking-{booking.reference}@{host}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(show.starts_at)}",
        f"DTEND:{_utc(ends_at)}",
        f"SUMMARY:{escape_text(movie.title)}",
        f"LOCATION:{escape_text('FilmSphere, ' + show.screen.name)}",
        f"DESCRIPTION:{escape_text(description)}",
        f"URL:{base_url}/bookings/{booking.reference}",
        f"STATUS:{'CANCELLED' if cancelled else 'CONFIRMED'}",
        # Each change of the booking's state is a new revision of the same event.
        f"SEQUENCE:{0 if booking.status == BookingStatus.PAID else 1 if not cancelled else 2}",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(fold(line) + "\r\n" for line in lines)


def ics_filename(booking: Booking) -> str:
    return f"filmsphere-{booking.reference}.ics"
