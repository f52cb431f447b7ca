"""Send a ticket of a booking to a friend: /bookings/<reference>/send. (The friend's link,
accepting it and taking an offer back are /transfers/* in the transfers blueprint.)"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ...extensions import limiter
from ...htmx import is_partial_request
from ...models import Booking, utcnow
from ...ratelimits import user_or_address
from ...refusals import default_response, renders_refusals
from ...services.booking import transfers
from ...services.errors import DomainError, NotFound
from ...wording import format_category
from .forms import SendTicketForm
from .routes import booking_url, bp


def _send_form(reference: str, form: SendTicketForm) -> tuple[Booking, SendTicketForm]:
    """The booking and the form offering its tickets that can be sent now; NotFound for
    another user's booking."""
    booking, tickets = transfers.transferable_tickets(current_user.id, reference, utcnow())
    form.ticket_id.choices = [
        (t.id, f"Row {t.seat.row_label}, seat {t.seat.number} ({category})")
        for t in tickets
        for category in [format_category(t.category, capital=False)]
    ]
    return booking, form


def _send_page(
    booking: Booking, form: SendTicketForm, message: str | None = None, status: int = 200
) -> ResponseReturnValue:
    """The send page (htmx: the form fragment), with the outcome's sentence if any."""
    template = "bookings/_send_form.html" if is_partial_request() else "bookings/send.html"
    body = render_template(template, form=form, booking=booking, message=message, ok=status == 200)
    return body, status


def _send_refused(error: DomainError) -> ResponseReturnValue:
    """A refused offer: the form again, as sent, with the service's sentence."""
    if isinstance(error, NotFound):
        return default_response(error)
    reference = str((request.view_args or {})["reference"])
    booking, form = _send_form(reference, SendTicketForm())
    return _send_page(booking, form, error.message, error.status)


@bp.route("/bookings/<reference>/send", methods=["GET", "POST"])
@renders_refusals(_send_refused)
@login_required
@limiter.limit(
    lambda: current_app.config["RATELIMIT_TRANSFER"],
    methods=["POST"],
    key_func=user_or_address,
    scope="transfer",
)
def send_ticket(reference: str) -> ResponseReturnValue:
    """Pick a ticket of the booking and send it to a friend's address. htmx: the form
    fragment (with the outcome); without: 303 to the booking page on success. Another
    user's booking is a 404."""
    booking, form = _send_form(reference, SendTicketForm())
    if request.method == "GET":
        return _send_page(booking, form)
    if not form.validate_on_submit():
        return _send_page(booking, form, status=422)
    transfers.offer_transfer(
        current_user.id, booking.reference, form.ticket_id.data, form.email.data or "", utcnow()
    )
    sent = (
        f"We emailed {form.email.data} a link to accept the ticket. "
        "You can take it back until they accept it."
    )
    if not is_partial_request():
        flash(sent, "success")
        return redirect(booking_url(booking.reference), 303)
    booking, form = _send_form(reference, SendTicketForm(formdata=None))
    return _send_page(booking, form, sent)
