"""The public catalogue: home, films, showtimes by date, posters, health check."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from werkzeug.security import safe_join
from werkzeug.wrappers import Response as BaseResponse

from ...errors import discard_session, render_error
from ...extensions import db
from ...htmx import is_partial_request
from ...models import Movie, utcnow
from ...services.catalogue import catalogue
from ...services.catalogue.posters import poster_etag, poster_svg
from .forms import MovieFilterForm

bp = Blueprint("public", __name__)


MAX_PAGE = 10_000
_DIGITS = re.compile(r"^\d{1,6}$")
POSTER_MAX_AGE = 365 * 24 * 3600  # versioned poster URLs never change content


@bp.app_template_global()
def poster_url(movie: Movie) -> str:
    """The poster's URL, versioned so a new upload or a new title is fetched at once."""
    return url_for("public.poster", movie_id=movie.id, v=_poster_version(movie))


@bp.app_template_global()
def show_url(show_id: int) -> str:
    """Where a showtime links: the seat map (booking.seat_map) at /shows/<id>."""
    return url_for("booking.seat_map", show_id=show_id)


def _poster_version(movie: Movie) -> str:
    if movie.poster_filename:
        return poster_etag(movie.poster_filename, 0, "file")[:12]
    return poster_etag(movie.title, movie.poster_hue, movie.age_rating)[:12]


@bp.get("/")
def index() -> str:
    """Now showing, a strip of the next 7 days, and today's remaining shows."""
    now = utcnow()
    today = catalogue.local_date(now)
    return render_template(
        "public/index.html",
        now_showing=catalogue.now_showing(now),
        today_shows=catalogue.remaining_shows_today(now),
        days=catalogue.date_strip(today),
        today=today,
    )


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not _DIGITS.match(raw) or not 1 <= int(raw) <= MAX_PAGE:
        abort(400, description="The page number must be a whole number from 1.")
    return int(raw)


def _filter_args(filters: catalogue.MovieFilters) -> dict[str, Any]:
    """The active filters as query arguments, so pager links keep them."""
    args: dict[str, Any] = {
        "q": filters.q,
        "genre": list(filters.genres),
        "language": filters.language,
        "rating": filters.rating,
        "date": filters.day.isoformat() if filters.day else "",
    }
    return {k: v for k, v in args.items() if v}


@bp.get("/movies")
def movies() -> Any:
    """Film list with search and filters; htmx gets only the results fragment.

    400 for filters that can't be read (bad date, unknown genre, bad page number), 404 for
    a page past the last one.
    """
    now = utcnow()
    today = catalogue.local_date(now)
    form = MovieFilterForm(formdata=request.args, options=catalogue.filter_options())
    if not form.validate():
        return render_error(400, form.first_error())
    page = _page_number()
    filters = form.filters(today)
    template = "public/_movie_results.html" if is_partial_request() else "public/movies.html"
    return render_template(
        template,
        form=form,
        filters=filters,
        results=catalogue.search_movies(filters, page, now),
        filter_args=_filter_args(filters),
        today=today,
    )


@bp.get("/movies/<int:movie_id>")
def movie_detail(movie_id: int) -> Any:
    """One film with its upcoming shows grouped by local date; 404 for retired films."""
    now = utcnow()
    movie = catalogue.get_public_movie(movie_id)
    return render_template(
        "public/movie_detail.html",
        movie=movie,
        show_days=catalogue.upcoming_shows_by_day(movie.id, now),
        today=catalogue.local_date(now),
    )


@bp.get("/shows")
def shows() -> Any:
    """Every show of one cinema-local day (default today), grouped by film; 400 for a bad
    date. Started shows are listed as started, never linked."""
    now = utcnow()
    today = catalogue.local_date(now)
    day = catalogue.parse_day(request.args.get("date"), today)
    return render_template(
        "public/shows.html",
        day=day,
        today=today,
        films=catalogue.shows_on(day, now),
        days=catalogue.date_strip(today),
        prev_day=catalogue.step_day(day, -1, today),
        next_day=catalogue.step_day(day, 1, today),
    )


def _uploaded_poster(movie: Movie, max_age: int) -> BaseResponse | None:
    """The uploaded file from UPLOAD_DIR/posters/, or None (logged) when there is none on
    disk."""
    if not movie.poster_filename:
        return None
    folder = Path(current_app.config["UPLOAD_DIR"]) / "posters"
    path = safe_join(str(folder), movie.poster_filename)
    if path is None or not Path(path).is_file():
        current_app.logger.warning("poster file missing for movie %s", movie.id)
        return None
    return send_from_directory(folder, movie.poster_filename, max_age=max_age)


def _generated_poster(movie: Movie, max_age: int) -> BaseResponse:
    """The generated SVG, public and ETag-conditional."""
    response = Response(
        poster_svg(movie.title, movie.poster_hue, movie.age_rating), mimetype="image/svg+xml"
    )
    response.set_etag(poster_etag(movie.title, movie.poster_hue, movie.age_rating))
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    # The image needs nothing external; forbid everything else if it is opened directly.
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response.make_conditional(request)


@bp.get("/movies/<int:movie_id>/poster")
def poster(movie_id: int) -> ResponseReturnValue:
    """The uploaded poster or a generated SVG; ETag-conditional, cached for a year when
    asked for by its versioned URL, revalidated every time otherwise."""
    movie = db.session.get(Movie, movie_id)
    if movie is None:
        abort(404)
    versioned = request.args.get("v") == _poster_version(movie)
    max_age = POSTER_MAX_AGE if versioned else 0
    response = _uploaded_poster(movie, max_age)
    if response is None:
        response = _generated_poster(movie, max_age)
    if not versioned:
        response.cache_control.no_cache = True
    return response


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int, dict[str, str]]:
    """Liveness with a database round trip; 503 (with Retry-After) when the database does
    not answer."""
    try:
        db.session.execute(text("SELECT 1")).scalar_one()
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        discard_session()
        retry = str(current_app.config["DATABASE_RETRY_AFTER_SECONDS"])
        return {"status": "error", "database": "unreachable"}, 503, {"Retry-After": retry}
    return {"status": "ok", "database": "ok"}, 200, {}
