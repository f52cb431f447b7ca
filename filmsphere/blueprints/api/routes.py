"""/api/v1: catalogue, seat maps, holds, checkout, bookings, wallet and check-in as JSON.

Each view authorises (scope_required), lets the schema validate its input, calls one
service function and shapes the answer (present.py); refusals are the services' domain
exceptions, turned into problem+json in one place (problems.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Response, current_app, request, url_for
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from ...extensions import csrf, limiter
from ...models import utcnow
from ...services.booking.booking_page import booking_page
from ...services.booking.cancellation import QuoteChanged, cancel_tickets, quote_refund
from ...services.booking.checkout import checkout as pay
from ...services.booking.customer_bookings import past_bookings, upcoming_bookings
from ...services.booking.holds import toggle_hold
from ...services.booking.idempotency import checkout_token_for, request_digest
from ...services.booking.quick_hold import quick_hold
from ...services.booking.seatmap import build_seat_map, seat_map_from
from ...services.catalogue import catalogue
from ...services.door.checkin import check_in as check_in_ticket
from ...services.errors import DomainError, NoSeatsTogether
from ...services.wallet.wallet_page import customer_wallet_page
from . import present, schemas
from .auth import identity, rate_limit_key, scope_required
from .problems import PROBLEM_JSON, from_domain_error, from_http_exception, problem

bp = Blueprint(
    "api",
    __name__,
    url_prefix="/api/v1",
    description="FilmSphere's customer and door-scanner API. Send `Authorization: Bearer "
    "<token>` (create tokens on /account). Errors are application/problem+json.",
)
# Bearer tokens only: no cookie is read, so there is no cross-site request to forge.
csrf.exempt(bp)
limiter.limit(lambda: current_app.config["RATELIMIT_API"], key_func=rate_limit_key)(bp)

STATUS_TEXT = {
    400: "The request could not be read (e.g. a bad date or a missing header).",
    401: "No valid token (missing, unknown or revoked).",
    403: "The token lacks the scope, or the account may not do this.",
    404: "Not found, or not yours.",
    409: "Conflict with the current state (a seat taken, a changed quote, a show started).",
    412: "Not used: conditional writes are not offered.",
    422: "Invalid input, or a rule refused it; the detail says which.",
    429: "Too many requests for this token; see Retry-After.",
}


@bp.after_request
def _private(response: Response) -> Response:
    # Every answer belongs to the token's owner: no shared cache may keep it.
    response.headers.setdefault("Cache-Control", "private, no-store")
    return response


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> Response:
    short = error.shortfall if isinstance(error, NoSeatsTogether) else None
    if short is None:
        return from_domain_error(error)
    # A quick pick's refusal says what is left, so the client asks straight for what fits.
    response = from_domain_error(
        error,
        largest_block=short.largest_block,
        free_seats=short.free_seats,
        held_seats=short.held_seats,
        sold_out=short.sold_out,
    )
    if short.worth_waiting:
        response.headers["Retry-After"] = str(current_app.config["SEAT_POLL_SECONDS"])
    return response


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return from_http_exception(error)


def problems(*statuses: int) -> Callable[[Any], Any]:
    """Document the problem responses an endpoint can give (plus 400: a control character
    in the address, 401 and 429, always)."""

    def decorator(view: Any) -> Any:
        for status in sorted({400, 401, 429, *statuses}):
            view = bp.alt_response(
                status,
                schema=schemas.Problem,
                description=STATUS_TEXT[status],
                content_type=PROBLEM_JSON,
            )(view)
        return view

    return decorator


def _now_and_user() -> tuple[Any, int]:
    return utcnow(), identity().user_id


# ----------------------------------------------------------------- catalogue


@bp.get("/films")
@scope_required("read")
@bp.arguments(schemas.FilmQuery, location="query")
@bp.response(200, schemas.FilmPage)
@problems(400, 403, 404, 422)
def films(query: dict[str, Any]) -> dict[str, Any]:
    """Films now showing, with the search and filters of /movies, by title, 12 a page;
    `cursor` is the `next` or `previous` of a page you got (a forged one is a 400)."""
    now = utcnow()
    day = catalogue.parse_day(query["date"], catalogue.local_date(now)) if query["date"] else None
    filters = catalogue.MovieFilters(
        q=query["q"].strip(),
        genres=tuple(query["genre"]),
        language=query["language"],
        rating=query["rating"],
        day=day,
    )
    page = catalogue.search_movie_cards(filters, query["cursor"], now)
    return {
        "items": [present.film(c.movie, c.next_show_at) for c in page.rows],
        "next": page.next,
        "previous": page.previous,
    }


@bp.get("/films/<row_id:film_id>")
@scope_required("read")
@bp.response(200, schemas.FilmDetail)
@problems(403, 404)
def film(film_id: int) -> dict[str, Any]:
    """A film with its upcoming bookable shows."""
    movie = catalogue.get_public_movie(film_id)
    days = catalogue.upcoming_shows_by_day(movie.id, utcnow())
    shows = [present.show_slot(slot) for day in days for slot in day.slots]
    return present.film(movie, shows[0]["starts_at"] if shows else None) | {"shows": shows}


@bp.get("/shows")
@scope_required("read")
@bp.arguments(schemas.DayQuery, location="query")
@bp.response(200, schemas.DayShows)
@problems(400, 403, 422)
def shows(query: dict[str, Any]) -> dict[str, Any]:
    """Every show of a cinema-local day (default today), grouped by film."""
    now = utcnow()
    day = catalogue.parse_day(query["date"], catalogue.local_date(now))
    return {
        "date": day,
        "films": [
            {"film": present.film(f.movie), "shows": [present.show_slot(s) for s in f.slots]}
            for f in catalogue.shows_on(day, now)
        ],
    }


# ----------------------------------------------------------------- seats and holds


@bp.get("/shows/<row_id:show_id>/seats")
@scope_required("read")
@bp.response(200, schemas.SeatMapOut)
@bp.alt_response(304, description="Unchanged since the ETag you sent in If-None-Match")
@problems(403, 404)
def seat_map(show_id: int) -> Any:
    """The seat map as the caller sees it: layout, live states, the caller's basket.
    Send the ETag back in If-None-Match: an unchanged map answers 304."""
    now, user_id = _now_and_user()
    view = build_seat_map(show_id, user_id, now)
    tag = view.etag.removeprefix("W/").strip('"')
    response: Any = (
        Response(status=304)
        if request.if_none_match.contains_weak(tag)
        else current_app.json.response(present.seat_map(view))
    )
    response.set_etag(tag, weak=True)
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/shows/<row_id:show_id>/basket")
@scope_required("read")
@bp.response(200, schemas.Basket)
@problems(403, 404)
def basket(show_id: int) -> dict[str, Any]:
    """The caller's held seats for the show, their total and when the hold runs out."""
    now, user_id = _now_and_user()
    return present.basket(build_seat_map(show_id, user_id, now).basket)


def _hold(show_id: int, seat_id: int, want: Any) -> dict[str, Any]:
    now, user_id = _now_and_user()
    result = toggle_hold(user_id, show_id, seat_id, now, want)
    return {
        "action": result.action,
        "seat_label": result.seat_label,
        "released_elsewhere": result.released_elsewhere,
        "basket": present.basket(build_seat_map(show_id, user_id, now).basket),
    }


@bp.put("/shows/<row_id:show_id>/holds/<row_id:seat_id>")
@limiter.limit(lambda: current_app.config["RATELIMIT_HOLD"], key_func=rate_limit_key)
@scope_required("book")
@bp.response(200, schemas.HoldOut)
@problems(403, 404, 409, 422)
def hold_seat(show_id: int, seat_id: int) -> dict[str, Any]:
    """Hold a seat (a repeat changes nothing). Holding in another show releases the holds
    there, as on the seat map. 409: taken or the show can't be booked; 422: a seat rule."""
    return _hold(show_id, seat_id, "hold")


@bp.delete("/shows/<row_id:show_id>/holds/<row_id:seat_id>")
@limiter.limit(lambda: current_app.config["RATELIMIT_HOLD"], key_func=rate_limit_key)
@scope_required("book")
@bp.response(200, schemas.HoldOut)
@problems(403, 404, 409)
def release_seat(show_id: int, seat_id: int) -> dict[str, Any]:
    """Release one of the caller's held seats (a seat not held changes nothing)."""
    return _hold(show_id, seat_id, "release")


@bp.post("/shows/<row_id:show_id>/quick-pick")
@limiter.limit(lambda: current_app.config["RATELIMIT_HOLD"], key_func=rate_limit_key)
@scope_required("book")
@bp.arguments(schemas.QuickPickBody, location="json")
@bp.response(200, schemas.QuickPickOut)
@problems(403, 404, 409, 422)
def quick_pick(body: dict[str, Any], show_id: int) -> dict[str, Any]:
    """Hold the best block of `count` seats together (the seat map's quick pick),
    replacing the caller's holds in this show. 409 when no block fits (the reason in
    words) or the show can't be booked; 422 a seat rule (the per-show limit)."""
    now, user_id = _now_and_user()
    held = quick_hold(user_id, show_id, body["count"], body["category"], now)
    return {
        "seat_ids": list(held.seat_ids),
        "seat_labels": list(held.labels),
        "note": held.note,
        "released_elsewhere": held.released_elsewhere,
        "basket": present.basket(seat_map_from(held.state).basket),
    }


@bp.post("/shows/<row_id:show_id>/checkout")
@scope_required("book")
@bp.arguments(schemas.CheckoutHeaders, location="headers", error_status_code=400)
@bp.arguments(schemas.CheckoutBody, location="json")
@bp.response(201, schemas.BookingOut)
@problems(400, 403, 404, 409, 422)
def checkout(headers: dict[str, Any], body: dict[str, Any], show_id: int) -> Any:
    """Pay every seat the caller holds for the show. The same Idempotency-Key answers
    with the same booking, charged once; that key with another request is a 422."""
    now, user_id = _now_and_user()
    seat_ids = sorted(set(body["seat_ids"]))
    token = checkout_token_for(
        user_id, headers["idempotency_key"], request_digest("checkout", show_id, seat_ids), now
    )
    paid = pay(user_id, show_id, now, token, seat_ids)
    location = url_for("api.booking", reference=paid.reference)
    return present.booking(booking_page(user_id, paid.reference, now)), 201, {"Location": location}


# ----------------------------------------------------------------- bookings


@bp.get("/bookings")
@scope_required("read")
@bp.arguments(schemas.BookingsQuery, location="query")
@bp.response(200, schemas.BookingPage)
@problems(400, 403, 422)
def bookings(query: dict[str, Any]) -> dict[str, Any]:
    """The caller's bookings, 10 a page, as My bookings lists them: `list=upcoming`
    (soonest first) or `list=past` (past and cancelled, latest first); `cursor` is the
    `next` or `previous` of a page you got (a forged one is a 400)."""
    pages = upcoming_bookings if query["list"] == "upcoming" else past_bookings
    page = pages(identity().user_id, utcnow(), query["cursor"])
    return {
        "items": [present.booking_summary(b) for b in page.rows],
        "next": page.next,
        "previous": page.previous,
    }


@bp.get("/bookings/<reference>")
@scope_required("read")
@bp.response(200, schemas.BookingOut)
@problems(403, 404)
def booking(reference: str) -> dict[str, Any]:
    """One of the caller's bookings with its tickets and their signed codes."""
    now, user_id = _now_and_user()
    return present.booking(booking_page(user_id, reference, now))


@bp.get("/bookings/<reference>/refund-quote")
@scope_required("read")
@bp.arguments(schemas.QuoteQuery, location="query")
@bp.response(200, schemas.QuoteOut)
@problems(403, 404, 409, 422)
def refund_quote(query: dict[str, Any], reference: str) -> dict[str, Any]:
    """What cancelling these tickets (none given: all) would refund now."""
    now, user_id = _now_and_user()
    return present.quote(quote_refund(user_id, reference, query["ticket_id"], now))


@bp.post("/bookings/<reference>/cancel")
@scope_required("book")
@bp.arguments(schemas.CancelBody, location="json")
@bp.response(200, schemas.QuoteOut)
@problems(403, 404, 409, 422)
def cancel(body: dict[str, Any], reference: str) -> Any:
    """Cancel tickets (none given: the whole booking) for the refund the caller was
    quoted. A quote that changed meanwhile is a 409 carrying the new quote."""
    now, user_id = _now_and_user()
    ids, expected = body["ticket_ids"], body["expected_refund_coins"]
    try:
        done = cancel_tickets(user_id, reference, ids, now, expected_refund=expected)
    except QuoteChanged as exc:
        fresh = quote_refund(user_id, reference, ids, now)
        return from_domain_error(exc, quote=present.quote(fresh))
    return present.quote(done)


# ----------------------------------------------------------------- wallet, door


@bp.get("/wallet")
@scope_required("read")
@bp.arguments(schemas.CursorQuery, location="query")
@bp.response(200, schemas.WalletOut)
@problems(400, 403, 404, 422)
def wallet(query: dict[str, Any]) -> dict[str, Any]:
    """Balance and the ledger, newest first, 20 entries a page; `cursor` is the `next`
    (older) or `previous` (newer) of a page you got (a forged one is a 400)."""
    return present.wallet(customer_wallet_page(identity().user_id, query["cursor"], utcnow()))


@bp.post("/check-in")
@scope_required("check-in")
@bp.arguments(schemas.CheckInBody, location="json")
@bp.response(200, schemas.CheckInOut)
@bp.alt_response(409, schema=schemas.CheckInOut, description="A genuine ticket refused")
@problems(403, 422)
def check_in(body: dict[str, Any]) -> Any:
    """Check a ticket in at the door (staff): the same outcomes and statuses as the
    check-in page (200 valid, 409 used / cancelled / another show, 422 unreadable), and
    no customer data."""
    now, staff_id = _now_and_user()
    result = check_in_ticket(body["code"], staff_id, now, show_id=body["show_id"])
    if result.outcome == "invalid":
        return problem(422, result.detail)
    return present.check_in(result), result.status
