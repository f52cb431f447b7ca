"""Exchange a booking (/bookings/<ref>/exchange…): pick another show, hold seats on its
ordinary seat map, review, confirm. Registers on the bookings blueprint."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from ... import MAX_DB_INT
from ...models import utcnow
from ...refusals import default_response, renders_refusals
from ...security import verified_required
from ...services.booking.cancellation import policy_text
from ...services.booking.exchange import (
    AlreadyExchanged,
    ExchangeQuoteChanged,
    check_exchange_target,
    exchange_booking,
    exchange_targets,
    exchangeable_booking,
    quote_exchange,
)
from ...services.errors import AlreadyDone, DomainError, NotFound
from ...wording import format_coins
from .forms import ConfirmExchangeForm, PickShowForm
from .routes import booking_url, bp

SESSION_KEY = "exchange"


@bp.app_context_processor
def _exchange_mode() -> dict[str, Any]:
    """`exchange_for(show_id)`: the booking reference being exchanged into that show, if
    the customer is in the middle of an exchange there (the basket then offers "Review
    the exchange" instead of "Pay")."""

    def exchange_for(show_id: int) -> str | None:
        state = session.get(SESSION_KEY)
        if isinstance(state, dict) and state.get("show_id") == show_id:
            reference = state.get("reference")
            return reference if isinstance(reference, str) else None
        return None

    return {"exchange_for": exchange_for}


def _reference() -> str:
    return str((request.view_args or {})["reference"]).strip().upper()


def _exchange_refused(error: DomainError) -> ResponseReturnValue:
    """Where the customer can act on a refusal: 404 for an unknown or another user's
    booking; the new booking after a repeated exchange; the review page again (409) for a
    changed quote; the booking when it can't be exchanged (any more) or no show was picked
    yet; else the new show's basket (holds to fix). The message is flashed."""
    if isinstance(error, NotFound):
        return default_response(error)
    if isinstance(error, AlreadyExchanged):
        session.pop(SESSION_KEY, None)
        flash(error.message, "info")
        return redirect(booking_url(error.reference), 303)
    show_id: int | None = g.get("exchange_show_id")
    if isinstance(error, ExchangeQuoteChanged) and show_id is not None:
        try:
            return _review_page(_reference(), show_id, notice=error.message)
        except DomainError as again:  # the booking or the holds changed meanwhile
            return _exchange_refused(again)
    flash(error.message, "error")
    if show_id is None or isinstance(error, AlreadyDone):
        session.pop(SESSION_KEY, None)
        return redirect(booking_url(_reference()), 303)
    return redirect(url_for("booking.seat_map", show_id=show_id) + "#basket", 303)


@bp.get("/bookings/<reference>/exchange")
@renders_refusals(_exchange_refused)
@verified_required
def exchange_pick_show(reference: str) -> ResponseReturnValue:
    """The shows this booking can move to, with the rules. 404 for an unknown or another
    user's booking; a booking that can't be exchanged goes back to its page with why."""
    now = utcnow()
    booking = exchangeable_booking(current_user.id, reference, now)
    return render_template(
        "bookings/exchange_pick_show.html",
        booking=booking,
        shows=exchange_targets(current_user.id, reference, now),
        form=PickShowForm(),
        policy=policy_text(),
    )


@bp.post("/bookings/<reference>/exchange/show")
@renders_refusals(_exchange_refused)
@verified_required
def exchange_start(reference: str) -> BaseResponse:
    """Remember the exchange in the session and open the new show's seat map."""
    form = PickShowForm()
    if not form.validate():
        flash("Pick one of the shows listed.", "error")
        return redirect(url_for("bookings.exchange_pick_show", reference=reference), 303)
    show_id = int(form.show_id.data)
    booking = check_exchange_target(current_user.id, reference, show_id, utcnow())
    session[SESSION_KEY] = {"reference": booking.reference, "show_id": show_id}
    flash(
        f"Exchanging booking {booking.reference}: pick your new seats, then review the exchange.",
        "info",
    )
    return redirect(url_for("booking.seat_map", show_id=show_id) + "#seat-grid", 303)


@bp.post("/bookings/<reference>/exchange/stop")
@verified_required
def exchange_stop(reference: str) -> BaseResponse:
    """Leave exchange mode (the held seats stay held until they expire or are released)."""
    session.pop(SESSION_KEY, None)
    flash("Exchange stopped: your booking is unchanged.", "info")
    return redirect(booking_url(_reference()), 303)


@bp.get("/bookings/<reference>/exchange/review")
@renders_refusals(_exchange_refused)
@verified_required
def exchange_review(reference: str) -> ResponseReturnValue:
    """The quote: old tickets, new seats, and the coins either way, with the confirm
    button. Read only."""
    show_id = request.args.get("show", type=int)
    if show_id is None or not 0 < show_id <= MAX_DB_INT:
        abort(404)
    g.exchange_show_id = show_id
    return _review_page(reference, show_id)


def _review_page(reference: str, show_id: int, notice: str | None = None) -> ResponseReturnValue:
    now = utcnow()
    booking = exchangeable_booking(current_user.id, reference, now)
    quote = quote_exchange(current_user.id, reference, show_id, now)
    return render_template(
        "bookings/exchange_review.html",
        booking=booking,
        quote=quote,
        form=ConfirmExchangeForm(),
        notice=notice,
        policy=policy_text(),
    ), (409 if notice else 200)


@bp.post("/bookings/<reference>/exchange")
@renders_refusals(_exchange_refused)
@verified_required
def exchange_confirm(reference: str) -> BaseResponse:
    """Exchange the booking for the held seats, at the quoted coins. Success: 303 to the
    new booking; a changed quote: the review page again (409); other refusals: flash and
    303 to where the customer can act."""
    form = ConfirmExchangeForm()
    if not form.validate():
        flash("The exchange form was incomplete. Review the exchange again.", "error")
        return redirect(booking_url(_reference()), 303)
    show_id = g.exchange_show_id = int(form.show_id.data)
    result = exchange_booking(
        current_user.id, reference, show_id, utcnow(), expected_net=form.expected_net.data
    )
    session.pop(SESSION_KEY, None)
    flash(
        f"Exchanged: booking {result.quote.reference} is replaced by this one; "
        f"{_settled(result.quote.net_coins)}. Your old ticket codes no longer work.",
        "success",
    )
    return redirect(booking_url(result.new_reference), 303)


def _settled(net: int) -> str:
    """How an exchange settled the coins, from the customer's side (net: coins back)."""
    if net < 0:
        return f"you paid {format_coins(-net)} more"
    if net > 0:
        return f"{format_coins(net)} went back to your wallet"
    return "no coins changed hands"
