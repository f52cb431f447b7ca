"""Waitlist of a show (/shows/<id>/waitlist…): join with a party size, leave. htmx gets
the panel back; without JavaScript the forms post and redirect (303) to the seat map.
Registers on the booking blueprint."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from ...extensions import limiter
from ...htmx import is_partial_request, trigger
from ...models import utcnow
from ...ratelimits import user_or_address
from ...refusals import default_response, renders_refusals
from ...security import verified_required
from ...services.booking.waitlist import join_waitlist, leave_waitlist, waitlist_view
from ...services.errors import DomainError, NotFound
from ...wording import plural
from .forms import JoinWaitlistForm
from .routes import bp


def _waitlist_limit() -> str:
    return str(current_app.config["RATELIMIT_WAITLIST"])


def _waitlist_answer(show_id: int, status: int, message: str, kind: str) -> Any:
    """The panel (htmx) with the message, or flash + 303 to the seat map's panel."""
    if not is_partial_request():
        flash(message, kind)
        return redirect(url_for("booking.seat_map", show_id=show_id) + "#waitlist", 303)
    user_id = int(current_user.id)
    html = render_template(
        "booking/_waitlist.html",
        show_id=show_id,
        waitlist=waitlist_view(user_id, show_id, utcnow()),
        waitlist_message=message,
        waitlist_message_kind=kind,
    )
    return trigger(current_app.make_response((html, status)), "waitlist-changed")


def _waitlist_refused(error: DomainError) -> Any:
    """The panel (or the seat map) with the refusal; an unknown show is a 404."""
    if isinstance(error, NotFound):
        return default_response(error)
    show_id = int((request.view_args or {})["show_id"])
    return _waitlist_answer(show_id, error.status, error.message, "error")


@bp.post("/shows/<int:show_id>/waitlist")
@renders_refusals(_waitlist_refused)
@verified_required
@limiter.limit(_waitlist_limit, key_func=user_or_address)  # after the log-in check: per customer
def waitlist_join(show_id: int) -> BaseResponse:
    """Join the show's waitlist with a party size (1–10), seats together or not. 409 when
    seats are free now or the customer is already on it, 422 for a bad party size."""
    form = JoinWaitlistForm()
    if not form.validate():
        errors = [e for field in form.errors.values() for e in field]
        return _waitlist_answer(show_id, 422, str(errors[0]), "error")
    party, together = int(form.party_size.data), bool(form.adjacent.data)
    entry = join_waitlist(int(current_user.id), show_id, party, together, utcnow())
    seats = f"{entry.party_size} {plural(entry.party_size, 'seat')}"
    message = (
        f"You're on the waitlist for {seats}{' together' if entry.adjacent else ''}. "
        "We'll email you and hold the seats when they come back."
    )
    return _waitlist_answer(show_id, 200, message, "success")


@bp.post("/shows/<int:show_id>/waitlist/leave")
@renders_refusals(_waitlist_refused)
@verified_required
def waitlist_leave(show_id: int) -> BaseResponse:
    """Leave the show's waitlist (a live offer's seats pass on). 409 when not on it."""
    leave_waitlist(int(current_user.id), show_id, utcnow())
    return _waitlist_answer(show_id, 200, "You left the waitlist.", "success")
