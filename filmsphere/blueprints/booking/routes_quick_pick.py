"""Quick pick: hold the best block of seats for a party in one request."""

from __future__ import annotations

from flask import abort, flash, redirect
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from ...extensions import limiter
from ...htmx import is_partial_request, trigger
from ...models import utcnow
from ...ratelimits import user_or_address
from ...security import verified_required
from ...services.errors import DomainError, NotFound
from ...services.quick_hold import quick_hold
from ...services.quick_pick import MAX_PARTY
from .forms import QuickPickForm
from .routes import _build_seat_map, _grid_response, _hold_limit, _seat_map_url, bp


@bp.post("/shows/<int:show_id>/quick-pick")
@limiter.limit(_hold_limit, key_func=user_or_address)  # keyed from the session: no query
@verified_required
def quick_pick(show_id: int) -> BaseResponse:
    """Hold the best block of `count` seats (optionally of one `category`) instead of the
    customer's current seats for the show. htmx: the grid with the seats held and a
    message, plus the basket out of band, or only the seats that changed when the grid's
    ETag came along (409 when no block fits, 422 for a bad form);
    without htmx: flash + 303 back to the map. Raises 404 for an unknown show."""
    user_id = int(current_user.id)  # read once: after the commit it would reload the user
    form = QuickPickForm()
    if not form.validate():
        message = (
            f"Choose 1 to {MAX_PARTY} seats."
            if form.count.errors
            else "Choose a kind of seat from the list."
        )
        return _answer(show_id, user_id, message, 422)
    try:
        held = quick_hold(user_id, show_id, form.count.data, form.chosen_category(), utcnow())
    except NotFound:
        abort(404)
    except DomainError as exc:
        return _answer(show_id, user_id, exc.message, exc.status)
    count = len(held.labels)
    message = f"{'Seats' if count != 1 else 'Seat'} {', '.join(held.labels)} held for you." + (
        f" {held.note}" if held.note else ""
    )
    if held.released_elsewhere:
        message += (
            " Your held seats for another show were released: you can hold seats for one "
            "show at a time."
        )
    return _answer(show_id, user_id, message, 200)


def _answer(show_id: int, user_id: int, message: str, status: int) -> BaseResponse:
    ok = status == 200
    if not is_partial_request():
        flash(message, "success" if ok else "error")
        return redirect(_seat_map_url(show_id) + "#seat-grid", 303)
    try:
        seat_map_view = _build_seat_map(show_id, user_id)
    except NotFound:
        abort(404)
    response = _grid_response(
        seat_map_view, status, message=message, kind="info" if ok else "error", delta=True
    )
    return trigger(response, "seats-changed") if ok else response
