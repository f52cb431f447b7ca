"""Admin showtimes: week view per screen, create, edit, cancel (100 % refunds)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from ...clock import local_today, to_local
from ...extensions import db
from ...models import Movie, Screen, Show
from ...refusals import renders_refusals
from ...security import admin_required
from ...services.catalogue import scheduling
from ...services.errors import DomainError
from .base import actor_id, arg_date, arg_int, bp, form_status, message_page, now
from .forms import ReasonForm, ShowForm


def _choices(form: ShowForm, keep_movie_id: int | None = None) -> ShowForm:
    movies = db.session.scalars(
        select(Movie)
        .where((Movie.is_retired.is_(False)) | (Movie.id == (keep_movie_id or 0)))
        .order_by(func.lower(Movie.title))
    )
    form.movie_id.choices = [
        SelectChoice(str(m.id), f"{m.title} ({m.duration_minutes} min)") for m in movies
    ]
    screens = db.session.scalars(
        select(Screen).where(Screen.is_active.is_(True)).order_by(func.lower(Screen.name))
    )
    form.screen_id.choices = [SelectChoice(str(s.id), s.name) for s in screens]
    return form


@bp.get("/shows")
@admin_required
def shows() -> str:
    """Seven days of shows from `week` (default today), for one `screen` or all screens."""
    start = arg_date("week") or local_today()
    screen_id = arg_int("screen")
    screens = list(db.session.scalars(select(Screen).order_by(func.lower(Screen.name))))
    return render_template(
        "admin/shows.html",
        days=scheduling.week_view(screen_id, start),
        screens=screens,
        screen_id=screen_id,
        week=start,
        prev_week=start - timedelta(days=7),
        next_week=start + timedelta(days=7),
    )


def _render_show_form(form: ShowForm, show: Show | None, **extra: Any) -> tuple[str, int]:
    status = extra.pop("status", None) or form_status(form)
    sold = scheduling.sold_count(show.id) if show is not None else 0
    context: dict[str, Any] = {
        "form": form,
        "show": show,
        "sold": sold,
        "reason_form": ReasonForm(formdata=None),
        "error": None,
    }
    context.update(extra)
    return render_template("admin/show_form.html", **context), status


def _show_form_refused(error: DomainError) -> tuple[str, int]:
    """The form again, as submitted, with the refusal (e.g. the overlap and free screens)."""
    show_id = (request.view_args or {}).get("show_id")
    show = db.session.get(Show, show_id) if show_id is not None else None
    form = _choices(ShowForm(), keep_movie_id=show.movie_id if show is not None else None)
    return _render_show_form(form, show, error=error.message, status=error.status)


def _show_fields(form: ShowForm) -> dict[str, Any]:
    """A validated form's answers as the scheduling service's keyword arguments."""
    return {
        "movie_id": form.movie_id.data,
        "screen_id": form.screen_id.data,
        "starts_at": form.starts_at(),
        "base_price_coins": int(form.base_price_coins.data or 0),
    }


def _fill_from_show(form: ShowForm, show: Show) -> None:
    """Show the saved values on a first GET of the edit page, start in cinema time."""
    local = to_local(show.starts_at)
    form.movie_id.data = show.movie_id
    form.screen_id.data = show.screen_id
    form.start_date.data = local.date()
    form.start_time.data = local.time().replace(second=0, microsecond=0)
    form.base_price_coins.data = show.base_price_coins


def _scheduled(show: Show) -> Response:
    """Confirm a new show and go to its screen's week, where it now appears."""
    starts = to_local(show.starts_at)
    flash(
        f"{show.movie.title} is scheduled in {show.screen.name} on {starts:%a %d %b at %H:%M}.",
        "success",
    )
    return redirect(
        url_for("admin.shows", screen=show.screen_id, week=starts.date().isoformat()), 303
    )


@bp.route("/shows/new", methods=["GET", "POST"])
@renders_refusals(_show_form_refused)
@admin_required
def show_new() -> Response | tuple[str, int]:
    """Schedule a show. The end is film duration + cleaning; an overlap in the screen is
    refused (409) naming the screens free at that time."""
    form = _choices(ShowForm())
    if request.method == "GET":
        form.screen_id.data = arg_int("screen") or None
        form.start_date.data = arg_date("date") or local_today() + timedelta(days=1)
    if not form.validate_on_submit():
        return _render_show_form(form, None)
    show = scheduling.schedule_show(**_show_fields(form), now=now(), actor_id=actor_id())
    return _scheduled(show)


@bp.route("/shows/<int:show_id>", methods=["GET", "POST"])
@renders_refusals(_show_form_refused)
@admin_required
def show_edit(show_id: int) -> Response | tuple[str, int]:
    """Edit a scheduled show; film, screen and start only while no ticket is sold."""
    show = db.session.get(Show, show_id)
    if show is None:
        return render_template(
            "admin/message.html", title="Show", error="That show does not exist."
        ), 404
    form = _choices(ShowForm(), keep_movie_id=show.movie_id)
    if request.method == "GET":
        _fill_from_show(form, show)
    if not form.validate_on_submit():
        return _render_show_form(form, show)
    scheduling.update_show(actor_id=actor_id(), show_id=show_id, **_show_fields(form), now=now())
    flash("The show was saved.", "success")
    return redirect(url_for("admin.show_edit", show_id=show_id), 303)


@bp.post("/shows/<int:show_id>/cancel")
@renders_refusals(message_page("Cancel show"))
@admin_required
def show_cancel(show_id: int) -> Response | tuple[str, int]:
    """Cancel a show: every ticket refunded 100 %, every customer emailed, audited, in one
    transaction (services.cancellation.cancel_show)."""
    from ...services.booking.cancellation import cancel_show

    reason_form = ReasonForm()
    if not reason_form.validate():
        return render_template(
            "admin/message.html", title="Cancel show", error=reason_form.first_error()
        ), 422
    result = cancel_show(actor_id(), show_id, now(), reason_form.reason.data or "")
    message = (
        f"The show was cancelled: {result.bookings} booking(s), {result.tickets} ticket(s), "
        f"{result.refunded_coins} coins refunded in full."
    )
    if result.used_tickets:
        message += (
            f" {result.used_tickets} ticket(s) already used at the door were kept and not "
            "refunded (each booking's page shows which)."
        )
    flash(message, "success")
    return redirect(url_for("admin.show_edit", show_id=show_id), 303)
