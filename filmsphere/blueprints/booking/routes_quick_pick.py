"""Quick pick: hold the best block of seats for a party in one request."""

from __future__ import annotations

from flask import flash, redirect
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from ...extensions import limiter
from ...htmx import is_partial_request
from ...models import utcnow
from ...ratelimits import user_or_address
from ...refusals import renders_refusals
from ...security import verified_required
from ...services.booking.quick_hold import QuickHold, quick_hold
from ...services.booking.quick_pick import MAX_PARTY
from ...services.booking.seatmap import seat_map_from
from ...services.errors import DomainError
from ...wording import plural
from .forms import QuickPickForm
from .routes import (
    _grid_refused,
    _grid_response,
    _hold_limit,
    _seat_map_url,
    bp,
)


@bp.post("/shows/<int:show_id>/quick-pick")
@renders_refusals(_grid_refused)
@limiter.limit(_hold_limit, key_func=user_or_address)  # keyed from the session: no query
@verified_required
def quick_pick(show_id: int) -> BaseResponse:
    """Hold the best block of `count` seats (optionally of one `category`) instead of the
    customer's current seats for the show. htmx: the grid with the seats held and a
    message, plus the basket out of band, or only the seats that changed when the grid's
    ETag came along; without htmx: flash + 303 back to the map. Refusals (409 when no
    block fits, 422 for a bad form, 404 for an unknown show) are drawn like a seat
    click's."""
    user_id = int(current_user.id)
    form = QuickPickForm()
    if not form.validate():
        raise DomainError(
            f"Choose 1 to {MAX_PARTY} seats."
            if form.count.errors
            else "Choose a kind of seat from the list."
        )
    held = quick_hold(user_id, show_id, form.count.data, form.chosen_category(), utcnow())
    message = _held_words(held)
    if not is_partial_request():
        flash(message, "success")
        return redirect(_seat_map_url(show_id) + "#seat-grid", 303)
    # No "seats-changed" event: the answer already carries every change, and the event
    # made the page fetch the whole grid again (with the ETag from before the pick).
    return _grid_response(seat_map_from(held.state), message=message, delta=True)


def _held_words(held: QuickHold) -> str:
    """What a quick pick held, its note (an aisle between the seats), and whether it let
    go of seats held for another show."""
    count = len(held.labels)
    words = f"{plural(count, 'Seat')} {', '.join(held.labels)} held for you."
    if held.note:
        words += f" {held.note}"
    if held.released_elsewhere:
        words += (
            " Your held seats for another show were released: you can hold seats for one "
            "show at a time."
        )
    return words
