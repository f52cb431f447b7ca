"""A seat click's htmx answer as a delta: only the seats whose state changed since the
grid the client shows (told by the ETag it sends), the grid's notice and the basket."""

from __future__ import annotations

from flask import Response, make_response, render_template, request

from ...services.booking.seatmap import SeatMap, changed_seats
from .seat_buttons import seat_button


def delta_response(
    seat_map_view: SeatMap, status: int, context: dict[str, object]
) -> Response | None:
    """The changed seat buttons, the notice and the basket, all out of band (the click's
    own target is left alone: HX-Reswap none); None when the client needs the whole grid
    (no ETag sent, a new layout or price, the show no longer for sale, no seat left to
    tab to)."""
    client_etag = request.headers.get("If-None-Match", "")
    basket = seat_map_view.basket
    if not client_etag or basket is None or not seat_map_view.bookable:
        return None
    if not basket.seats and not any(
        seat is not None and seat.state == "free" for _, row in seat_map_view.rows for seat in row
    ):
        return None  # the grid's keyboard stop moves to the scrolling box: redraw it
    changed = changed_seats(seat_map_view, client_etag)
    if changed is None:
        return None
    context = context | {"notice_oob": True, "basket_oob": True}
    parts = [render_template("booking/_grid_notice.html", **context)]
    parts += [seat_button(seat, True, oob=True) for seat in changed]
    parts.append(render_template("booking/_basket.html", **context))
    response = make_response("".join(parts), status)
    response.headers["HX-Reswap"] = "none"
    response.headers["Cache-Control"] = "private, no-cache"
    response.headers["ETag"] = seat_map_view.etag
    return response
