"""Send a ticket to a friend: the send page, take back, and the friend's accept page."""

from __future__ import annotations

import contextlib

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ...errors import render_error
from ...extensions import limiter
from ...htmx import is_partial_request
from ...models import Booking
from ...models.types import utcnow
from ...services import transfers
from ...services.errors import DomainError, NotFound
from ...templating import format_category
from .forms import SendTicketForm

bp = Blueprint("transfers", __name__)

# A visitor who opens a link and then logs in or registers comes back to it after log-in.
PENDING_LINK = "transfer_link"


def _user_key() -> str:
    if current_user.is_authenticated:
        return f"user:{current_user.id}"
    return get_remote_address()


def _vary(response: Response) -> Response:
    response.headers["Vary"] = "HX-Request"
    return response


def _send_form(
    reference: str, form: SendTicketForm | None = None
) -> tuple[Booking, SendTicketForm]:
    """The booking and the form offering its tickets that can be sent now."""
    booking, tickets = transfers.transferable_tickets(current_user.id, reference, utcnow())
    form = form or SendTicketForm()
    form.ticket_id.choices = [
        (t.id, f"Row {t.seat.row_label}, seat {t.seat.number} ({category})")
        for t in tickets
        for category in [format_category(t.category, capital=False)]
    ]
    return booking, form


@bp.route("/bookings/<reference>/send", methods=["GET", "POST"])
@login_required
@limiter.limit(
    lambda: current_app.config["RATELIMIT_TRANSFER"],
    methods=["POST"],
    key_func=_user_key,
    scope="transfer",
)
def send(reference: str) -> Response | str | tuple[str, int]:
    """Pick a ticket of the booking and send it to a friend's address. htmx: the form
    fragment (with the outcome); without: 303 to the booking page on success."""
    try:
        booking, form = _send_form(reference)
    except NotFound as exc:
        return render_error(404, exc.message)
    status, message = 200, None
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                transfers.offer_transfer(
                    current_user.id,
                    reference,
                    form.ticket_id.data,
                    form.email.data or "",
                    utcnow(),
                )
            except DomainError as exc:
                status, message = exc.status, exc.message
            else:
                sent = (
                    f"We emailed {form.email.data} a link to accept the ticket. "
                    "You can take it back until they accept it."
                )
                if not is_partial_request():
                    flash(sent, "success")
                    return redirect(url_for("tickets.booking_detail", reference=reference), 303)
                status, message = 200, sent
                booking, form = _send_form(reference, SendTicketForm(formdata=None))
    template = "transfers/_send_form.html" if is_partial_request() else "transfers/send.html"
    body = render_template(template, form=form, booking=booking, message=message, ok=status == 200)
    return _vary(make_response(body, status))


@bp.post("/transfers/<int:transfer_id>/take-back")
@login_required
def take_back(transfer_id: int) -> Response:
    """The sender withdraws an offer not yet accepted. htmx: the booking's transfer list;
    without: 303 to the booking page."""
    now = utcnow()
    status, message = 200, "You took the ticket back: the link no longer works."
    reference = None
    try:
        reference = transfers.take_back(current_user.id, transfer_id, now)
    except NotFound as exc:
        return _vary(make_response(render_error(404, exc.message)))
    except DomainError as exc:
        status, message = exc.status, exc.message
        reference = transfers.reference_of(current_user.id, transfer_id)
    if not is_partial_request():
        flash(message, "success" if status == 200 else "error")
        return redirect(url_for("tickets.booking_detail", reference=reference), 303)
    booking, _ = transfers.transferable_tickets(current_user.id, reference, now)
    body = render_template(
        "transfers/_transfers.html",
        transfers=transfers.booking_transfers(booking.id, now),
        booking=booking,
        message=message,
        ok=status == 200,
    )
    return _vary(make_response(body, status))


@bp.get("/transfers/<token>")
def offer(token: str) -> Response | str | tuple[str, int]:
    """The friend's page: what is offered and the Accept button, or how to log in or
    register first (the link is remembered through that detour)."""
    try:
        view = transfers.view_transfer(token, utcnow())
    except DomainError as exc:
        return render_template("transfers/offer.html", view=None, error=exc.message), exc.status
    if not current_user.is_authenticated:
        session[PENDING_LINK] = url_for("transfers.offer", token=token)
    return render_template("transfers/offer.html", view=view, token=token, error=None)


@bp.post("/transfers/<token>/accept")
@login_required
def accept(token: str) -> Response | tuple[str, int]:
    """Accept the ticket: it moves to this account with a new code. htmx: HX-Redirect to
    the new booking; without: 303 there. Refusals re-render the page with the reason."""
    try:
        reference = transfers.accept_transfer(current_user.id, token, utcnow())
    except DomainError as exc:
        view = None
        with contextlib.suppress(DomainError):
            view = transfers.view_transfer(token, utcnow())
        body = render_template("transfers/offer.html", view=view, token=token, error=exc.message)
        return _vary(make_response(body, exc.status))
    session.pop(PENDING_LINK, None)
    target = url_for("tickets.booking_detail", reference=reference)
    flash("The ticket is yours now: here is its QR code. We emailed it to you too.", "success")
    if is_partial_request():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = target
        return _vary(response)
    return _vary(redirect(target, 303))
