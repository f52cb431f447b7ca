"""Admin films: list with search, create, edit, retire/unretire, poster upload."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from ...models import Movie
from ...refusals import renders_refusals
from ...security import admin_required
from ...services.catalogue import admin_films
from ...services.errors import DomainError, NotFound
from .base import actor_id, bp, form_status, message_page, now, view_arg
from .forms import FilmForm, PosterForm

_film_message = message_page("Film")


@bp.get("/films")
@admin_required
def films() -> str:
    """All films (retired last) with show counts; `q` searches title and language."""
    q = request.args.get("q", "")
    return render_template("admin/films.html", rows=admin_films.list_films(q), q=q)


def _film_form(form: FilmForm) -> FilmForm:
    form.genres.choices = [SelectChoice(g, g) for g in admin_films.known_genres()]
    return form


def _film_data(form: FilmForm) -> admin_films.FilmData:
    names = list(form.genres.data or []) + admin_films.parse_genre_list(form.new_genres.data or "")
    return admin_films.FilmData(
        title=form.title.data or "",
        description=form.description.data or "",
        duration_minutes=int(form.duration_minutes.data or 0),
        age_rating=form.age_rating.data or "",
        language=form.language.data or "",
        release_date=form.release_date.data,
        genres=admin_films.parse_genre_list(",".join(names)),
        poster_hue=int(form.poster_hue.data if form.poster_hue.data is not None else 220),
    )


def _render_film_form(
    form: FilmForm,
    movie: Movie | None = None,
    error: str | None = None,
    status: int | None = None,
    poster_form: PosterForm | None = None,
) -> tuple[str, int]:
    return (
        render_template(
            "admin/film_form.html",
            form=form,
            movie=movie,
            languages=admin_films.known_languages(),
            poster_form=poster_form or PosterForm(formdata=None),
            error=error,
        ),
        status or form_status(form),
    )


def _film_new_refused(error: DomainError) -> tuple[str, int]:
    form = _film_form(FilmForm())
    return _render_film_form(form, error=error.message, status=error.status)


@bp.route("/films/new", methods=["GET", "POST"])
@renders_refusals(_film_new_refused)
@admin_required
def film_new() -> Response | tuple[str, int]:
    """Create a film; 303 to its edit page (where a poster can be uploaded)."""
    form = _film_form(FilmForm())
    if form.validate_on_submit():
        movie = admin_films.create_film(actor_id(), _film_data(form), now())
        flash(f"{movie.title} was added.", "success")
        return redirect(url_for("admin.film_edit", movie_id=movie.id), 303)
    return _render_film_form(form)


def _film_edit_refused(error: DomainError) -> tuple[str, int]:
    if isinstance(error, NotFound):
        return _film_message(error)
    movie = admin_films.get_film(view_arg("movie_id"))
    form = _film_form(FilmForm())
    return _render_film_form(form, movie, error=error.message, status=error.status)


@bp.route("/films/<int:movie_id>", methods=["GET", "POST"])
@renders_refusals(_film_edit_refused)
@admin_required
def film_edit(movie_id: int) -> Response | tuple[str, int]:
    """Edit a film's details and genres."""
    movie = admin_films.get_film(movie_id)
    if request.method == "GET":
        form = _film_form(FilmForm(obj=movie))
        form.genres.data = [g.name for g in movie.genres]
        return _render_film_form(form, movie)
    form = _film_form(FilmForm())
    if form.validate_on_submit():
        admin_films.update_film(actor_id(), movie_id, _film_data(form), now())
        flash("The film was saved.", "success")
        return redirect(url_for("admin.film_edit", movie_id=movie_id), 303)
    return _render_film_form(form, movie)


def _poster_refused(error: DomainError) -> tuple[str, int]:
    if isinstance(error, NotFound):
        return _film_message(error)
    poster_form = PosterForm()
    poster_form.poster.errors = [error.message]
    return _poster_page(admin_films.get_film(view_arg("movie_id")), poster_form)


def _poster_page(movie: Movie, poster_form: PosterForm) -> tuple[str, int]:
    form = _film_form(FilmForm(formdata=None, obj=movie))
    form.genres.data = [g.name for g in movie.genres]
    return _render_film_form(form, movie, status=422, poster_form=poster_form)


@bp.post("/films/<int:movie_id>/poster")
@renders_refusals(_poster_refused)
@admin_required
def film_poster(movie_id: int) -> Response | tuple[str, int]:
    """Upload a poster: checked by opening it with Pillow, re-encoded to PNG. Files over
    MAX_CONTENT_LENGTH are refused with 413 before this view runs."""
    movie = admin_films.get_film(movie_id)
    poster_form = PosterForm()
    if not poster_form.validate_on_submit():
        return _poster_page(movie, poster_form)
    admin_films.save_poster(actor_id(), movie_id, poster_form.poster.data.stream, now())
    flash("The poster was uploaded.", "success")
    return redirect(url_for("admin.film_edit", movie_id=movie_id), 303)


@bp.post("/films/<int:movie_id>/retire")
@renders_refusals(_film_message)
@admin_required
def film_retire(movie_id: int) -> Response | tuple[str, int]:
    """Retire a film: no new shows, hidden from the catalogue; it is never deleted."""
    return _set_retired(movie_id, True)


@bp.post("/films/<int:movie_id>/unretire")
@renders_refusals(_film_message)
@admin_required
def film_unretire(movie_id: int) -> Response | tuple[str, int]:
    """Bring a retired film back into the catalogue."""
    return _set_retired(movie_id, False)


def _set_retired(movie_id: int, retired: bool) -> Response | tuple[str, int]:
    movie = admin_films.set_film_retired(actor_id(), movie_id, retired, now())
    flash(
        f"{movie.title} was {'retired' if retired else 'brought back'}.",
        "success",
    )
    return redirect(url_for("admin.films"), 303)
