"""A ticket sent to a friend: the friend's link page, accepting it, and the sender taking
the offer back. (Sending is /bookings/<reference>/send, in the bookings blueprint.)"""

from __future__ import annotations

import contextlib

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ...htmx import is_partial_request, redirect_as_hx_redirect
from ...models import utcnow
from ...refusals import default_response, renders_refusals
from ...services.booking import transfers
from ...services.booking.customer_bookings import get_booking
from ...services.errors import DomainError, NotFound

bp = Blueprint("transfers", __name__)
bp.after_request(redirect_as_hx_redirect)

# A visitor who opens a link and then logs in or registers comes back to it after log-in.
PENDING_LINK = "transfer_link"


def _booking_url(reference: str) -> str:
    return url_for("bookings.booking_detail", reference=reference)


def _transfers_answer(reference: str, message: str, status: int = 200) -> ResponseReturnValue:
    """htmx: the booking's list of sent and received tickets with the outcome; without:
    the outcome flashed on the booking page (303)."""
    if not is_partial_request():
        flash(message, "success" if status == 200 else "error")
        return redirect(_booking_url(reference), 303)
    booking = get_booking(current_user.id, reference)
    body = render_template(
        "transfers/_transfers.html",
        transfers=transfers.booking_transfers(booking.id, utcnow()),
        booking=booking,
        message=message,
        ok=status == 200,
    )
    return body, status


def _take_back_refused(error: DomainError) -> ResponseReturnValue:
    """Not the user's offer: 404. Already accepted or taken back: the list says so."""
    if isinstance(error, NotFound):
        return default_response(error)
    transfer_id = int((request.view_args or {})["transfer_id"])
    reference = transfers.reference_of(current_user.id, transfer_id)
    return _transfers_answer(reference, error.message, error.status)


@bp.post("/transfers/<int:transfer_id>/take-back")
@renders_refusals(_take_back_refused)
@login_required
def take_back(transfer_id: int) -> ResponseReturnValue:
    """The sender withdraws an offer not yet accepted. htmx: the booking's transfer list;
    without: 303 to the booking page."""
    reference = transfers.take_back(current_user.id, transfer_id, utcnow())
    return _transfers_answer(reference, "You took the ticket back: the link no longer works.")


def _offer_refused(error: DomainError) -> ResponseReturnValue:
    """The link's page with the reason (and, after a refused accept, the offer if it is
    still open: e.g. a log-in with the wrong address)."""
    token = str((request.view_args or {})["token"])
    view = None
    if request.method == "POST":
        with contextlib.suppress(DomainError):
            view = transfers.view_transfer(token, utcnow())
    body = render_template("transfers/offer.html", view=view, token=token, error=error.message)
    return body, error.status


@bp.get("/transfers/<token>")
@renders_refusals(_offer_refused)
def offer(token: str) -> ResponseReturnValue:
    """The friend's page: what is offered and the Accept button, or how to log in or
    register first (the link is remembered through that detour)."""
    view = transfers.view_transfer(token, utcnow())
    if not current_user.is_authenticated:
        session[PENDING_LINK] = url_for("transfers.offer", token=token)
    return render_template("transfers/offer.html", view=view, token=token, error=None)


@bp.post("/transfers/<token>/accept")
@renders_refusals(_offer_refused)
@login_required
def accept(token: str) -> ResponseReturnValue:
    """Accept the ticket: it moves to this account with a new code. 303 to the new booking
    (htmx: HX-Redirect); refusals re-render the page with the reason."""
    reference = transfers.accept_transfer(current_user.id, token, utcnow())
    session.pop(PENDING_LINK, None)
    flash("The ticket is yours now: here is its QR code. We emailed it to you too.", "success")
    return redirect(_booking_url(reference), 303)
