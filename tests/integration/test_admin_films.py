"""Admin films: create, validate, edit, retire, poster upload (real PNG, fake PNG, too big)."""

from __future__ import annotations

import io
from pathlib import Path

import PIL.Image
import pytest
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import AuditEntry, Genre, Movie
from tests import factories

from .test_admin_support import admin_client, post

FILM = {
    "title": "The Long Night",
    "description": "A long night.",
    "duration_minutes": "121",
    "age_rating": "15",
    "language": "Swedish",
    "release_date": "2026-02-01",
    "new_genres": "Thriller, mystery, thriller",
    "poster_hue": "30",
}


def test_create_film_with_new_genres_is_audited(backend, app, client):
    admin_id = admin_client(client, app)
    with app.app_context():
        factories.make_movie(genres=("Drama",))
    response = post(client, "/admin/films/new", FILM | {"genres": ["Drama"]})
    assert response.status_code == 303
    with app.app_context():
        movie = db.session.scalar(select(Movie).where(Movie.title == "The Long Night"))
        assert movie is not None
        assert sorted(g.name for g in movie.genres) == ["Drama", "Thriller", "mystery"]
        assert response.headers["Location"].endswith(f"/admin/films/{movie.id}")
        audit = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "film.create")
        ).one()
        assert audit.actor_id == admin_id and audit.after["title"] == "The Long Night"
        assert db.session.scalar(select(Genre).where(Genre.name == "Thriller")) is not None
    page = client.get("/admin/films?q=long").get_data(as_text=True)
    assert "The Long Night" in page


def test_bad_film_input_is_422_with_inline_errors(backend, app, client):
    admin_client(client, app)
    response = post(client, "/admin/films/new", FILM | {"title": "", "duration_minutes": "0"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html and "field-error" in html
    with app.app_context():
        assert db.session.scalar(select(Movie)) is None


def test_edit_retire_and_bring_back(backend, app, client):
    admin_client(client, app)
    with app.app_context():
        movie_id = factories.make_movie(title="Old").id
        factories.make_show(db.session.get(Movie, movie_id))
    response = post(client, f"/admin/films/{movie_id}", FILM | {"title": "Renamed"})
    assert response.status_code == 303
    assert post(client, f"/admin/films/{movie_id}/retire").status_code == 303
    again = post(client, f"/admin/films/{movie_id}/retire")
    assert again.status_code == 422 and "already retired" in again.get_data(as_text=True)
    with app.app_context():
        movie = db.session.get(Movie, movie_id)
        assert movie.title == "Renamed" and movie.is_retired
        actions = list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
        assert actions == ["film.update", "film.retire"]
    assert post(client, f"/admin/films/{movie_id}/unretire").status_code == 303
    with app.app_context():
        assert db.session.get(Movie, movie_id).is_retired is False


def _png(size: tuple[int, int] = (40, 60)) -> bytes:
    out = io.BytesIO()
    PIL.Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def _upload(client, movie_id: int, data: bytes, name: str = "poster.png"):  # type: ignore[no-untyped-def]
    return post(
        client,
        f"/admin/films/{movie_id}/poster",
        {"poster": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_poster_upload_accepts_real_png_and_reencodes(backend, app, client, tmp_path):
    admin_client(client, app)
    with app.app_context():
        movie_id = factories.make_movie().id
    # A JPEG with trailing junk: stored as a clean PNG.
    jpeg = io.BytesIO()
    PIL.Image.new("RGB", (30, 45), (0, 90, 200)).save(jpeg, format="JPEG")
    response = _upload(client, movie_id, jpeg.getvalue() + b"<script>", "p.jpg")
    assert response.status_code == 303
    with app.app_context():
        movie = db.session.get(Movie, movie_id)
        assert movie.poster_filename and movie.poster_filename.endswith(".png")
        stored = Path(app.config["UPLOAD_DIR"]) / "posters" / movie.poster_filename
        first = movie.poster_filename
    data = stored.read_bytes()
    assert data.startswith(b"\x89PNG") and b"<script>" not in data
    with PIL.Image.open(stored) as image:
        assert image.size == (30, 45)
    # Replacing the poster removes the old file.
    assert _upload(client, movie_id, _png()).status_code == 303
    assert not stored.exists()
    with app.app_context():
        assert db.session.get(Movie, movie_id).poster_filename != first
        assert (
            db.session.scalar(
                select(AuditEntry.action).where(AuditEntry.action == "film.poster").limit(1)
            )
            == "film.poster"
        )
    poster = client.get(f"/movies/{movie_id}/poster")
    assert poster.status_code == 200 and poster.data.startswith(b"\x89PNG")


def test_poster_upload_refuses_text_renamed_png(backend, app, client):
    admin_client(client, app)
    with app.app_context():
        movie_id = factories.make_movie().id
    response = _upload(client, movie_id, b"just some text, honestly\n" * 10, "poster.png")
    assert response.status_code == 422
    assert "not an image" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Movie, movie_id).poster_filename is None
    folder = Path(app.config["UPLOAD_DIR"]) / "posters"
    assert not folder.exists() or not any(folder.iterdir())


@pytest.fixture
def app_overrides():
    return {"MAX_CONTENT_LENGTH": 20_000}


def test_poster_upload_refuses_oversized_file(backend, app, client):
    admin_client(client, app)
    with app.app_context():
        movie_id = factories.make_movie().id
    big = _png((1200, 1200)) + b"\0" * 30_000
    response = _upload(client, movie_id, big)
    assert response.status_code == 413
    with app.app_context():
        assert db.session.get(Movie, movie_id).poster_filename is None
