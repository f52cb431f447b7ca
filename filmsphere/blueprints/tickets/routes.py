"""The booking page with ticket cards and QR codes, and its calendar file."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, url_for
from flask_login import current_user, login_required

from ...errors import render_error
from ...models import utcnow
from ...services.bookings import get_booking
from ...services.calendar import booking_ics, ics_filename
from ...services.errors import NotFound
from ...services.tickets import booking_page

bp = Blueprint("tickets", __name__)


@bp.get("/bookings/<reference>")
@login_required
def booking_detail(reference: str) -> str | tuple[str, int]:
    """One of the customer's bookings: summary and a card per ticket with its QR code.

    The page needs no script to show the tickets, so a saved copy works offline.
    404 for an unknown reference and for another user's booking.
    """
    try:
        page = booking_page(current_user.id, reference, utcnow())
    except NotFound as exc:
        return render_error(404, exc.message)
    endpoints = current_app.view_functions
    my_bookings_url = url_for("booking.my_bookings") if "booking.my_bookings" in endpoints else None
    cancel_url = (
        url_for("booking.cancel", reference=page.booking.reference)
        if "booking.cancel" in endpoints
        else f"/bookings/{page.booking.reference}/cancel"
    )
    return render_template(
        "tickets/booking_detail.html",
        page=page,
        my_bookings_url=my_bookings_url,
        cancel_url=cancel_url,
    )


@bp.get("/bookings/<reference>/calendar.ics")
@login_required
def calendar(reference: str) -> Response | tuple[str, int]:
    """The booking as an iCalendar file (download). 404 like the booking page."""
    try:
        booking = get_booking(current_user.id, reference)
    except NotFound as exc:
        return render_error(404, exc.message)
    response = Response(booking_ics(booking, utcnow()), mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{ics_filename(booking)}"'
    return response
