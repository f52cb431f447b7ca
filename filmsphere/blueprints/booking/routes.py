"""The seat map of a show: the page, the polled grid, seat clicks and checkout (quick
pick and the waitlist: routes_quick_pick.py, routes_waitlist.py)."""

from __future__ import annotations

import secrets
from typing import Any, cast

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response as BaseResponse

from ... import MAX_DB_INT
from ...errors import render_error
from ...extensions import limiter
from ...htmx import is_partial_request, redirect_as_hx_redirect, trigger
from ...models import utcnow
from ...ratelimits import user_or_address
from ...refusals import default_response, renders_refusals
from ...security import LOGIN_KEY, preload_user, remember_cookie_sent, verified_required
from ...services.booking.checkout import checkout as pay
from ...services.booking.holds import HoldResult, toggle_hold, toggle_hold_and_read
from ...services.booking.quick_pick import MAX_PARTY, Shortfall
from ...services.booking.seatmap import (
    SeatMap,
    SeatStates,
    ShowHeading,
    build_seat_map,
    read_seat_page,
    read_seat_page_of_session,
    read_seat_state,
    read_seat_state_of_session,
    seat_map_from,
)
from ...services.booking.waitlist import free_ordinary_seats, panel_shown, waitlist_view
from ...services.errors import AlreadyPaid, DomainError, NoSeatsTogether, NotFound, SeatTaken
from ...services.transaction import read_without_transaction
from ...wording import format_coins, plural
from ..bookings.routes import booking_url
from .forms import QUICK_PICK_KINDS, CheckoutForm
from .seat_buttons import seat_rows
from .seat_delta import delta_response

bp = Blueprint("booking", __name__)

bp.after_request(redirect_as_hx_redirect)


# Views whose htmx answer is the grid: a refusal is drawn in it too.
_GRID_ENDPOINTS = ("booking.toggle_seat", "booking.quick_pick")


@bp.errorhandler(TooManyRequests)
def _too_many(error: TooManyRequests) -> Any:
    message = "You're clicking seats very fast. Wait a few seconds, then try again."
    if request.endpoint in _GRID_ENDPOINTS and is_partial_request():
        show_id = (request.view_args or {}).get("show_id")
        if isinstance(show_id, int):
            try:
                seat_map_view = _build_seat_map(show_id)
            except NotFound:
                return render_error(429, message)
            return _grid_response(seat_map_view, 429, message=message, kind="error")
    return render_error(429, message)


def _hold_limit() -> str:
    return str(current_app.config["RATELIMIT_HOLD"])


def _user_id() -> int | None:
    return int(current_user.id) if current_user.is_authenticated else None


def _seat_map_url(show_id: int) -> str:
    return url_for("booking.seat_map", show_id=show_id)


def _build_seat_map(show_id: int, user_id: int | None = None) -> SeatMap:
    return build_seat_map(show_id, user_id if user_id is not None else _user_id(), utcnow())


def _grid_context(seat_map_view: SeatMap, **extra: Any) -> dict[str, Any]:
    # A basket exists exactly when a customer is looking (not current_user: after a hold's
    # commit, asking it would reload the user row).
    interactive = seat_map_view.basket is not None and seat_map_view.bookable
    context: dict[str, Any] = {
        "sm": seat_map_view,
        # With no seat to tab to, the scrolling box itself takes focus (keyboard scrolling).
        "focusable_seats": interactive
        and any(
            seat is not None and seat.state in ("free", "mine")
            for _, cells in seat_map_view.rows
            for seat in cells
        ),
        "interactive": interactive,
        "seat_rows": seat_rows,
        "poll_seconds": current_app.config["SEAT_POLL_SECONDS"],
        "checkout_token": secrets.token_urlsafe(24),
        "server_now": utcnow(),
        "grid_message": None,
        "grid_message_kind": "info",
        "grid_message_data": {},
        "grid_message_link": None,
        "announce": None,
        "basket_message": None,
        "grid_oob": False,
        "basket_oob": False,
    }
    context.update(extra)
    return context


def _fragments(
    seat_map_view: SeatMap, status: int, *, basket_first: bool = False, **extra: Any
) -> Response:
    """The grid and the basket as one htmx response: the target first, the other one
    swapped out of band."""
    context = _grid_context(seat_map_view, **extra)
    grid = render_template("booking/_seat_grid.html", **(context | {"grid_oob": basket_first}))
    basket = ""
    if seat_map_view.basket is not None:
        basket = render_template(
            "booking/_basket.html", **(context | {"basket_oob": not basket_first})
        )
    body = basket + grid if basket_first else grid + basket
    response = make_response(body, status)
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["ETag"] = seat_map_view.etag
    return response


def _grid_response(
    seat_map_view: SeatMap,
    status: int = 200,
    *,
    message: str | None = None,
    kind: str = "info",
    announce: str | None = None,
    delta: bool = False,
    **extra: Any,
) -> Response:
    """The grid and the basket; with `delta`, only what changed since the grid the client
    shows, when it can tell (seat_delta.py). `extra` goes to the templates (e.g. the
    notice's data and link)."""
    if delta:
        context = _grid_context(
            seat_map_view,
            grid_message=message,
            grid_message_kind=kind,
            announce=announce or message,
            **extra,
        )
        answer = delta_response(seat_map_view, status, context)
        if answer is not None:
            return answer
    return _fragments(
        seat_map_view,
        status,
        grid_message=message,
        grid_message_kind=kind,
        announce=announce or message,
        **extra,
    )


def _etag_matches(etag: str) -> bool:
    raw = request.headers.get("If-None-Match", "")
    tags = {tag.strip() for tag in raw.split(",") if tag.strip()}
    plain = etag.removeprefix("W/")
    return bool(tags & {etag, plain, "*"}) or any(t.removeprefix("W/") == plain for t in tags)


@bp.get("/shows/<int:show_id>")
def seat_map(show_id: int) -> str:
    """The seat map page: read only for visitors, seats to hold for customers. The user,
    the map and its heading are one statement (_page_state); the waitlist panel is read
    only when it is shown.

    Raises 404 for an unknown show."""
    state = _page_state(show_id)
    user_id = state.user_id
    show = cast(ShowHeading, state.show)
    seat_map_view = seat_map_from(state)
    waitlist = None
    if user_id is not None and seat_map_view.bookable:
        free = free_ordinary_seats(seat_map_view)
        if panel_shown(bool(show.on_waitlist), free):
            read_without_transaction()
            waitlist = waitlist_view(user_id, show_id, utcnow(), free)
    return render_template(
        "booking/seat_map.html",
        show=show,
        movie_url=url_for("public.movie_detail", movie_id=show.movie_id),
        quick_pick_max=MAX_PARTY,
        quick_pick_kinds=QUICK_PICK_KINDS,
        waitlist=waitlist,
        **_grid_context(seat_map_view),
    )


def _page_state(show_id: int) -> SeatStates:
    """The seat map page's one statement: the map, its heading and the viewer, checked
    against the log-in session the signed cookie names (as a poll is), and flask-login
    handed that user (no user query of its own). A log-in kept only in the remember
    cookie, or a session cookie that fails the check next to a remember cookie, takes
    flask-login's way: the user is loaded first, then the map."""
    key = session.get(LOGIN_KEY)
    if key is not None:
        state, user = read_seat_page_of_session(show_id, key, utcnow())
        if user is not None or not remember_cookie_sent():
            preload_user(key, user)
            return state
    read_without_transaction()  # the user, then the map
    return read_seat_page(show_id, _user_id(), utcnow())


@bp.get("/shows/<int:show_id>/seats")
def seat_grid(show_id: int) -> BaseResponse:
    """The seat-grid fragment for polling (304 when the ETag still matches: decided from
    the seat states alone, no seat view built, nothing rendered). Without htmx it sends
    the browser to the seat map page."""
    if not is_partial_request():
        return redirect(_seat_map_url(show_id), 303)
    state = _poll_state(show_id)
    if _etag_matches(state.etag):
        response = Response(status=304)
        response.headers["ETag"] = state.etag
        response.headers["Cache-Control"] = "private, no-cache"
        return response
    return _grid_response(seat_map_from(state))


def _poll_state(show_id: int) -> SeatStates:
    """The seat states for a poll in one statement that also checks the log-in session
    the signed cookie names (the user is not loaded: a poll needs only their id). The
    ETag is worked out for the viewer that check confirms, so a cookie of an ended
    session polls as a visitor and never matches its customer's ETag. A log-in kept only
    in the remember cookie takes flask-login's way, which restores the session."""
    key = session.get(LOGIN_KEY)
    if key is None and remember_cookie_sent():
        read_without_transaction()  # the user, then the map
        return read_seat_state(show_id, _user_id(), utcnow())
    return read_seat_state_of_session(show_id, key, utcnow())


def _grid_refused(error: DomainError) -> ResponseReturnValue:
    """A seat click's or quick pick's refusal. htmx: the grid redrawn with it (409 someone
    else took it, 422 a seat rule), only the changed seats when the grid's ETag came
    along; a plain form: the message and 303 back to the grid."""
    if isinstance(error, NotFound):
        return default_response(error)
    show_id = int((request.view_args or {})["show_id"])
    message = error.message
    if isinstance(error, SeatTaken) and request.endpoint == "booking.toggle_seat":
        # In a rush, clicking seat by seat mostly loses: one request is the better way.
        message += " “Best seats together” holds free seats side by side in one go."
    short = error.shortfall if isinstance(error, NoSeatsTogether) else None
    # Nothing to pick now (sold out, or every seat in a basket): the waitlist may help.
    waitlist = short is not None and (short.sold_out or short.worth_waiting)
    if not is_partial_request():
        flash(message + (" You can join the waitlist below." if waitlist else ""), "error")
        return redirect(_seat_map_url(show_id) + ("#waitlist" if waitlist else "#seat-grid"), 303)
    extra = _what_is_left(short, show_id, waitlist) if short is not None else {}
    # The refused unit of work has rolled back; the user is loaded: the map is one read.
    seat_map_view = _build_seat_map(show_id)
    response = _grid_response(
        seat_map_view, error.status, message=message, kind="error", delta=True, **extra
    )
    if short is not None and short.worth_waiting:
        # Seats come back when a basket is let go: ask again after the page's next poll.
        response.headers["Retry-After"] = str(current_app.config["SEAT_POLL_SECONDS"])
    return response


def _what_is_left(short: Shortfall, show_id: int, waitlist: bool) -> dict[str, Any]:
    """A quick pick refusal's numbers on the grid's message (for a script, or the page's
    own code, to ask its next question with) and the waitlist link."""
    data = {
        "largest-block": short.largest_block,
        "free-seats": short.free_seats,
        "held-seats": short.held_seats,
    }
    link = (_seat_map_url(show_id) + "#waitlist", "Join the waitlist") if waitlist else None
    return {"grid_message_data": data, "grid_message_link": link}


# The seat map's form posts the seat clicked as `seat` (one action for the whole grid);
# scripts and the API's twin name it in the path.
@bp.post("/shows/<int:show_id>/seats")
@bp.post("/shows/<int:show_id>/seats/<int:seat_id>")
@renders_refusals(_grid_refused)
@limiter.limit(_hold_limit, key_func=user_or_address)  # keyed from the session: no query
@verified_required
def toggle_seat(show_id: int, seat_id: int | None = None) -> ResponseReturnValue:
    """Hold a free seat or release one of mine. htmx: the seats that changed plus the
    basket out of band; otherwise 303 back."""
    if seat_id is None:
        seat_id = _seat_from_form()
        if seat_id is None:
            return render_error(400, "Choose a seat on the seat map.")
    user_id = int(current_user.id)
    if not is_partial_request():
        message, note = _click_words(toggle_hold(user_id, show_id, seat_id, utcnow()))
        flash(message + (f" {note}" if note else ""), "warning" if note else "success")
        return redirect(_seat_map_url(show_id) + "#seat-grid", 303)
    result, state = toggle_hold_and_read(user_id, show_id, seat_id, utcnow())
    message, note = _click_words(result)
    seat_map_view = seat_map_from(state)
    announce = " ".join(filter(None, (message, _basket_words(seat_map_view.basket), note)))
    response = _grid_response(
        seat_map_view, message=note, kind="warning", announce=announce, delta=True
    )
    return trigger(response, "seats-changed")


def _seat_from_form() -> int | None:
    """The seat the grid's form names (a database id), or None."""
    seat_id = request.form.get("seat", type=int)
    return seat_id if seat_id is not None and 0 < seat_id <= MAX_DB_INT else None


def _click_words(result: HoldResult) -> tuple[str, str | None]:
    """What a click did, and a note when it let go of seats held for another show."""
    verb = "held for you" if result.action == "held" else "released"
    message = f"Seat {result.seat_label} {verb}."
    count = result.released_elsewhere
    if not count:
        return message, None
    seats, were = plural(count, "seat"), plural(count, "was", "were")
    return message, (
        f"Your {count} held {seats} for another show {were} released: you can hold seats "
        "for one show at a time."
    )


def _basket_words(basket: Any) -> str:
    """The basket as a screen reader hears it after a click ("" when empty)."""
    if basket is None or not basket.seats:
        return ""
    count = len(basket.seats)
    return f"{count} {plural(count, 'seat')} in your basket, {format_coins(basket.total_coins)}."


def _checkout_refusal(error: DomainError) -> ResponseReturnValue:
    if isinstance(error, NotFound):
        return default_response(error)
    if isinstance(error, AlreadyPaid):  # a second tab: show the booking the first one made
        flash(error.message, "info")
        return _to_booking(error.reference)
    return _checkout_refused(int((request.view_args or {})["show_id"]), error.status, error.message)


@bp.post("/shows/<int:show_id>/checkout")
@renders_refusals(_checkout_refusal)
@verified_required
def checkout(show_id: int) -> BaseResponse:
    """Pay every held seat of the show with coins (one transaction, charged once per
    checkout token), then go to the booking. Refusals: inline (htmx) or flash + 303."""
    form = CheckoutForm()
    if not form.validate():
        return _checkout_refused(
            show_id, 422, "The payment form was incomplete. Reload the page and try again."
        )
    booking = pay(
        current_user.id, show_id, utcnow(), form.checkout_token.data, form.seen_seat_ids()
    )
    flash(f"Paid {format_coins(booking.total_coins)} — enjoy the film!", "success")
    return _to_booking(booking.reference)


def _to_booking(reference: str) -> BaseResponse:
    target = booking_url(reference)
    if is_partial_request():
        response = Response(status=204)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target, 303)


def _checkout_refused(show_id: int, status: int, message: str) -> BaseResponse:
    if not is_partial_request():
        flash(message, "error")
        return redirect(_seat_map_url(show_id) + "#basket", 303)
    seat_map_view = _build_seat_map(show_id)
    response = _fragments(
        seat_map_view, status, basket_first=True, basket_message=message, announce=message
    )
    return trigger(response, "seats-changed")


@bp.get("/shows/<int:show_id>/seats/<int:seat_id>")
@bp.get("/shows/<int:show_id>/checkout")
def back_to_seat_map(show_id: int, seat_id: int | None = None) -> BaseResponse:
    """Log-in and verification send people back to the URL they posted to; a GET there
    lands on the seat map instead of a 405."""
    return redirect(_seat_map_url(show_id), 303)


# The quick-pick and waitlist views register on `bp` when imported.
from . import routes_quick_pick, routes_waitlist  # noqa: E402, F401
