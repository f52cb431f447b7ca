"""Calendar files (RFC 5545, written with `icalendar`) for bookings: one event per booking,
with a reminder, revised or cancelled under the same UID when the booking changes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

from flask import current_app
from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from ...models import Booking, BookingStatus, Ticket, TicketStatus
from ...wording import format_category, plural

ALARM_BEFORE = timedelta(hours=2)  # time to get to the cinema


def revision(tickets: Iterable[Ticket]) -> int:
    """The event's SEQUENCE: how many of the booking's tickets are cancelled. Every change
    after payment cancels at least one ticket, so each revision sent is higher than the
    one before it, as calendars require to apply it."""
    return sum(1 for t in tickets if t.status == TicketStatus.CANCELLED)


def booking_calendar(
    booking: Booking,
    seats: Iterable[Ticket],
    *,
    sequence: int,
    cancelled: bool,
    stamp: datetime,
    attendee: str | None = None,
) -> bytes:
    """The .ics for a booking: the film's run as the event (without the cleaning time
    after it), the screen as LOCATION, `seats` in the description and a reminder
    ALARM_BEFORE the start. The UID is the booking's, so a later file with a higher
    `sequence` replaces the event. `cancelled` gives METHOD:CANCEL and STATUS:CANCELLED
    (with `attendee`, the customer, as iTIP asks), which makes calendars drop it."""
    show = booking.show
    movie = show.movie
    base_url = current_app.config.get("BASE_URL", "")
    host = urlsplit(base_url).hostname or "filmsphere.local"
    sender_name, sender_address = parseaddr(str(current_app.config["MAIL_DEFAULT_SENDER"]))
    listed = ", ".join(
        f"{t.seat.label} ({format_category(t.category, capital=False)})" for t in seats
    )
    description = f"Booking {booking.reference}."
    if listed:
        description += f" Seats: {listed}."
    if not cancelled:
        description += " Show the QR codes from your booking page or email at the door."

    event = Event()
    event.add("uid", f"booking-{booking.reference}@{host}")
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", show.starts_at.astimezone(UTC))
    event.add("dtend", (show.starts_at + timedelta(minutes=movie.duration_minutes)).astimezone(UTC))
    event.add("summary", movie.title)
    event.add("location", f"FilmSphere, {show.screen.name}")
    event.add("description", description)
    event.add("url", f"{base_url}/bookings/{booking.reference}")
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("sequence", sequence)
    organizer = vCalAddress(f"mailto:{sender_address or 'tickets@' + host}")
    organizer.params["cn"] = vText(sender_name or "FilmSphere")
    event.add("organizer", organizer)
    if cancelled:
        if attendee:
            event.add("attendee", vCalAddress(f"mailto:{attendee}"))
    else:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("trigger", -ALARM_BEFORE)
        alarm.add("description", f"{movie.title} starts in {_span(ALARM_BEFORE)}")
        event.add_component(alarm)

    calendar = Calendar()
    calendar.add("prodid", "-//FilmSphere//Tickets//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", calendar_method(cancelled))
    calendar.add_component(event)
    return calendar.to_ical()


def calendar_method(cancelled: bool) -> str:
    """METHOD of a booking's calendar file, also named in its MIME type (method=…)."""
    return "CANCEL" if cancelled else "PUBLISH"


def booking_ics(booking: Booking, now: datetime) -> str:
    """The booking page's download: the booking as it stands at `now` (its active seats,
    cancelled once every ticket is)."""
    active = [t for t in booking.tickets if t.status == TicketStatus.ACTIVE]
    return booking_calendar(
        booking,
        active,
        sequence=revision(booking.tickets),
        cancelled=booking.status == BookingStatus.CANCELLED,
        stamp=now,
    ).decode("utf-8")


def ics_filename(booking: Booking) -> str:
    return f"filmsphere-{booking.reference}.ics"


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} {plural(hours, 'hour')}"
    return f"{minutes} {plural(minutes, 'minute')}"
