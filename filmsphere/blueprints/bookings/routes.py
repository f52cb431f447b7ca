"""A customer's bookings (/bookings/*): the list, one booking with its ticket cards,
the full-screen ticket view for the door, the calendar file, cancellation, exchange
(routes_exchange.py) and sending a ticket to a friend (routes_send.py)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ...htmx import is_partial_request, redirect_as_hx_redirect
from ...models import Booking, utcnow
from ...refusals import default_response, renders_refusals
from ...services.booking.booking_page import booking_page
from ...services.booking.cancellation import (
    QuoteChanged,
    SelectionChanged,
    cancellable_booking,
    confirm_cancellation,
    quote_selection,
)
from ...services.booking.customer_bookings import get_booking, past_bookings, upcoming_bookings
from ...services.booking.exchange import can_exchange, exchanged_for
from ...services.booking.transfers import booking_transfers
from ...services.door.door_tickets import door_tickets
from ...services.errors import AlreadyDone, DomainError, NotFound
from ...services.mail.calendar import booking_ics, ics_filename
from ...wording import format_category, format_coins, plural
from .forms import CancelForm

bp = Blueprint("bookings", __name__)
bp.after_request(redirect_as_hx_redirect)


def booking_url(reference: str) -> str:
    return url_for("bookings.booking_detail", reference=reference)


@bp.get("/bookings/<reference>")
@login_required
def booking_detail(reference: str) -> str | tuple[str, int]:
    """One of the customer's bookings: summary and a card per ticket with its QR code.

    The page needs no script to show the tickets, so a saved copy works offline.
    404 for an unknown reference and for another user's booking.
    """
    now = utcnow()
    page = booking_page(current_user.id, reference, now)
    booking = page.booking
    return render_template(
        "bookings/booking_detail.html",
        page=page,
        my_bookings_url=url_for("bookings.my_bookings"),
        cancel_url=url_for("bookings.cancel", reference=booking.reference),
        exchange_url=url_for("bookings.exchange_pick_show", reference=booking.reference)
        if can_exchange(booking, now)
        else None,
        exchanged_for=exchanged_for(booking.id),
        transfers=booking_transfers(booking.id, now),
    )


@bp.get("/bookings/<reference>/tickets")
@login_required
def ticket_view(reference: str) -> str:
    """The booking's tickets full screen, one at a time, QR code first: what to show at
    the door. Swipe, arrow keys or the buttons move between tickets; no script is needed
    to show a code, so the service worker's saved copy works offline. 404 like the
    booking page."""
    tickets = door_tickets(current_user.id, reference, utcnow())
    return render_template("bookings/ticket_view.html", door=tickets)


@bp.get("/bookings/<reference>/calendar.ics")
@login_required
def calendar(reference: str) -> Response | tuple[str, int]:
    """The booking as an iCalendar file (download). 404 like the booking page."""
    booking = get_booking(current_user.id, reference)
    response = Response(booking_ics(booking, utcnow()), mimetype="text/calendar")
    response.headers["Content-Disposition"] = f'attachment; filename="{ics_filename(booking)}"'
    return response


@bp.get("/bookings")
@login_required
def my_bookings() -> str:
    """The customer's bookings a page at a time: upcoming (soonest first), then past and
    cancelled ones (latest first). `upcoming` and `past` are the cursors of the page each
    list starts at (a forged one is a 400); htmx asking for "#upcoming-more" or
    "#past-more" gets that list's next page only."""
    now = utcnow()
    upcoming = upcoming_bookings(current_user.id, now, request.args.get("upcoming"))
    past = past_bookings(current_user.id, now, request.args.get("past"))
    target = request.headers.get("HX-Target") if is_partial_request() else None
    for key, page, noun in (
        ("upcoming", upcoming, "upcoming bookings"),
        ("past", past, "past bookings"),
    ):
        if target == f"{key}-more":
            return render_template(
                "bookings/_more_bookings.html", key=key, page=page, noun=noun, now=now
            )
    return render_template("bookings/my_bookings.html", upcoming=upcoming, past=past, now=now)


def _cancel_refused(error: DomainError) -> ResponseReturnValue:
    """Before the booking was found cancellable: the one reason, and no form (a repeated
    confirm goes to the booking instead). After: the form again, with the refusal."""
    reference = str((request.view_args or {})["reference"])
    booking = g.get("cancel_booking")
    if isinstance(error, NotFound):
        return default_response(error)
    if isinstance(error, AlreadyDone) and request.method == "POST":
        flash(error.message, "info")  # a repeated confirm: say so where the booking is
        return redirect(booking_url(booking.reference if booking else reference.upper()), 303)
    if booking is None:
        return _cannot_cancel(reference, error)
    if isinstance(error, SelectionChanged):  # a stale no-JS form: show the new quote
        return _cancel_page(booking, notice=error.message)
    if isinstance(error, QuoteChanged):
        return _cancel_page(booking, notice=error.message, status=409)
    return _cancel_page(booking, error=error.message)


@bp.get("/bookings/<reference>/cancel")
@renders_refusals(_cancel_refused)
@login_required
def cancel(reference: str) -> ResponseReturnValue:
    """Pick tickets and see the refund quote (htmx: only the quote). Another user's
    booking is a 404."""
    g.cancel_booking = cancellable_booking(current_user.id, reference, utcnow())
    return _cancel_page(g.cancel_booking)


@bp.post("/bookings/<reference>/cancel")
@renders_refusals(_cancel_refused)
@login_required
def cancel_confirm(reference: str) -> ResponseReturnValue:
    """Confirm the quoted cancellation ("Update the quote" only re-quotes); a second
    confirm refunds nothing more."""
    booking = g.cancel_booking = cancellable_booking(current_user.id, reference, utcnow())
    form = _cancel_form(booking)
    ids = form.selected_ids(_active_ids(booking))
    if ids == [] or form.confirm.data != "yes":
        return _cancel_page(booking, form)
    done = confirm_cancellation(
        current_user.id, booking.reference, ids, utcnow(), form.quoted.data or ""
    )
    count = len(done.lines)
    flash(
        f"Refunded {format_coins(done.refund_total)} for {count} {plural(count, 'ticket')}.",
        "success",
    )
    return redirect(booking_url(booking.reference), 303)


def _active_ids(booking: Booking) -> list[int]:
    return [t.id for t in booking.tickets if t.is_cancellable]


def _cancel_form(booking: Booking) -> CancelForm:
    """The form as sent (POST), as asked by the quote's htmx GET, or a first look."""
    if request.method == "POST":
        form = CancelForm()
    elif request.args:
        form = CancelForm(request.args)
    else:
        form = CancelForm(data={"whole": True, "tickets": []})
    form.tickets.choices = [
        (
            t.id,
            f"Row {t.seat.row_label}, seat {t.seat.number} ({format_category(t.category, False)})",
        )
        for t in booking.tickets
        if t.is_cancellable
    ]
    form.tickets.validate_choice = False  # a stale form's ticket goes to the service
    return form


def _cancel_page(
    booking: Booking,
    form: CancelForm | None = None,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    """The cancel page (htmx: the quote for a GET, the form for a POST) with the quote for
    the ticked tickets, or the one problem with the choice (422)."""
    form = form or _cancel_form(booking)
    active_ids = _active_ids(booking)
    ids = form.selected_ids(active_ids)
    if error is None and ids == []:
        error = "Tick the tickets to cancel, or the whole booking."
    chosen = sorted(set(form.tickets.data or []))
    if error is None and ids is not None and any(i not in active_ids for i in chosen):
        error = "Some of those tickets are no longer active; pick from the list."
    quoted = (
        quote_selection(current_user.id, booking.reference, ids, utcnow()) if not error else None
    )
    context = {
        "booking": booking,
        "form": form,
        "quote": quoted.quote if quoted else None,
        "quote_error": error or (quoted.problem if quoted else None),
        "quoted_key": quoted.key if quoted else "",
        "detail_url": booking_url(booking.reference),
        "notice": notice,
    }
    status = 422 if error else status
    if is_partial_request():
        partial = "_refund_quote" if request.method == "GET" else "_cancel_form"
        return render_template(f"bookings/{partial}.html", **context), status
    return render_template("bookings/cancel.html", **context), status


def _cannot_cancel(reference: str, refusal: DomainError) -> ResponseReturnValue:
    """The cancel page with the one reason nothing can be cancelled, and no form. A GET
    only looked, so it is a 200; a POST answers the refusal's status (409)."""
    booking = get_booking(current_user.id, reference)
    status = 200 if request.method == "GET" else refusal.status
    context = {
        "booking": booking,
        "refusal": refusal.message,
        "detail_url": booking_url(booking.reference),
    }
    if is_partial_request():
        # Whether the quote or the form asked, the refusal takes the form's place.
        html = render_template("bookings/_cancel_refused.html", **context)
        return html, status, {"HX-Retarget": "#cancel-form", "HX-Reswap": "outerHTML"}
    return render_template("bookings/cancel.html", **context), status


# Route modules register on `bp` when imported.
from . import routes_exchange, routes_send  # noqa: E402, F401
