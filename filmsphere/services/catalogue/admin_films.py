"""Admin film management: create, edit, retire, poster upload; every change audited."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from flask import current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, or_, select

from ...extensions import db
from ...models import Genre, Movie, Show, ShowStatus
from ..errors import DomainError, NotFound
from ..ops.audit import record_audit
from ..transaction import write_transaction

# Posters are stored at most this big; larger uploads are scaled down before saving.
POSTER_MAX_SIZE = (800, 1200)
ALLOWED_POSTER_FORMATS = {"PNG", "JPEG", "WEBP", "GIF"}


@dataclass
class FilmData:
    title: str
    description: str
    duration_minutes: int
    age_rating: str
    language: str
    release_date: date | None
    genres: list[str] = field(default_factory=list)
    poster_hue: int = 220


@dataclass(frozen=True)
class FilmRow:
    movie: Movie
    upcoming_shows: int
    total_shows: int


def list_films(q: str = "", include_retired: bool = True) -> list[FilmRow]:
    """Films matching `q` (title, case-insensitive) with their show counts, by title."""
    upcoming = (
        select(Show.movie_id, func.count().label("n"))
        .where(Show.status == ShowStatus.SCHEDULED)
        .group_by(Show.movie_id)
        .subquery()
    )
    total = select(Show.movie_id, func.count().label("n")).group_by(Show.movie_id).subquery()
    query = (
        select(Movie, func.coalesce(upcoming.c.n, 0), func.coalesce(total.c.n, 0))
        .outerjoin(upcoming, upcoming.c.movie_id == Movie.id)
        .outerjoin(total, total.c.movie_id == Movie.id)
        .order_by(Movie.is_retired, func.lower(Movie.title))
    )
    if q.strip():
        pattern = f"%{q.strip().lower()}%"
        query = query.where(
            or_(func.lower(Movie.title).like(pattern), func.lower(Movie.language).like(pattern))
        )
    if not include_retired:
        query = query.where(Movie.is_retired.is_(False))
    return [FilmRow(m, int(u), int(t)) for m, u, t in db.session.execute(query).all()]


def get_film(movie_id: int) -> Movie:
    movie = db.session.get(Movie, movie_id)
    if movie is None:
        raise NotFound("That film does not exist.")
    return movie


def known_genres() -> list[str]:
    return list(db.session.scalars(select(Genre.name).order_by(func.lower(Genre.name))))


def known_languages() -> list[str]:
    return list(db.session.scalars(select(Movie.language).distinct().order_by(Movie.language)))


def parse_genre_list(raw: str) -> list[str]:
    """ "Drama, sci-fi ,drama" -> ["Drama", "sci-fi"] (first spelling wins, case-insensitive)."""
    seen: dict[str, str] = {}
    for part in raw.split(","):
        name = " ".join(part.split())
        if name and name.lower() not in seen:
            seen[name.lower()] = name
    return list(seen.values())


def _genres(names: list[str]) -> list[Genre]:
    """Existing genres by case-insensitive name; unknown names become new genres."""
    rows: list[Genre] = []
    for name in names:
        if len(name) > 40:
            raise DomainError(f"Genre names are at most 40 characters ({name[:40]}…).")
        genre = db.session.scalar(select(Genre).where(func.lower(Genre.name) == name.lower()))
        if genre is None:
            genre = Genre(name=name)
            db.session.add(genre)
        if genre not in rows:
            rows.append(genre)
    return rows


def film_snapshot(movie: Movie) -> dict[str, Any]:
    return {
        "title": movie.title,
        "description": movie.description,
        "duration_minutes": movie.duration_minutes,
        "age_rating": movie.age_rating,
        "language": movie.language,
        "release_date": movie.release_date.isoformat() if movie.release_date else None,
        "genres": [g.name for g in movie.genres],
        "poster_hue": movie.poster_hue,
        "poster_filename": movie.poster_filename,
        "is_retired": movie.is_retired,
    }


def _apply(movie: Movie, data: FilmData) -> None:
    movie.title = data.title.strip()
    movie.description = data.description.strip()
    movie.duration_minutes = data.duration_minutes
    movie.age_rating = data.age_rating.strip()
    movie.language = data.language.strip()
    movie.release_date = data.release_date
    movie.poster_hue = data.poster_hue % 360
    movie.genres = _genres(data.genres)


def create_film(actor_id: int, data: FilmData, now: datetime) -> Movie:
    """Create a film with its genres (new genre names are created) and audit it; one
    transaction. Raises DomainError for an invalid duration."""
    if data.duration_minutes <= 0:
        raise DomainError("The duration must be at least 1 minute.")
    with write_transaction() as session:
        movie = Movie(created_at=now)
        _apply(movie, data)
        session.add(movie)
        session.flush()
        record_audit(
            actor_id=actor_id,
            action="film.create",
            target_type="film",
            target_id=movie.id,
            now=now,
            after=film_snapshot(movie),
        )
    return movie


def _lock_movie(movie_id: int) -> Movie:
    """SELECT … FOR UPDATE the film row; NotFound when there is none."""
    movie = db.session.scalars(
        select(Movie).where(Movie.id == movie_id).with_for_update()
    ).one_or_none()
    if movie is None:
        raise NotFound("That film does not exist.")
    return movie


def update_film(actor_id: int, movie_id: int, data: FilmData, now: datetime) -> Movie:
    """Change a film's details and genres, audited with before and after; one transaction.

    The duration of existing shows is not changed (their end times were fixed when they
    were scheduled). Raises NotFound, DomainError.
    """
    if data.duration_minutes <= 0:
        raise DomainError("The duration must be at least 1 minute.")
    with write_transaction() as session:
        movie = _lock_movie(movie_id)
        before = film_snapshot(movie)
        _apply(movie, data)
        session.flush()
        record_audit(
            actor_id=actor_id,
            action="film.update",
            target_type="film",
            target_id=movie.id,
            now=now,
            before=before,
            after=film_snapshot(movie),
        )
    return movie


def set_film_retired(actor_id: int, movie_id: int, retired: bool, now: datetime) -> Movie:
    """Retire a film (no new shows, hidden from the catalogue; existing shows stay) or bring
    it back. Films are never deleted, so bookings keep their film. Raises NotFound,
    AlreadyDone-like DomainError when nothing would change."""
    with write_transaction():
        movie = _lock_movie(movie_id)
        if movie.is_retired == retired:
            raise DomainError(
                f"{movie.title} is already {'retired' if retired else 'in the catalogue'}."
            )
        movie.is_retired = retired
        record_audit(
            actor_id=actor_id,
            action="film.retire" if retired else "film.unretire",
            target_type="film",
            target_id=movie.id,
            now=now,
            before={"is_retired": not retired},
            after={"is_retired": retired},
        )
    return movie


def poster_dir() -> Path:
    return Path(current_app.config["UPLOAD_DIR"]) / "posters"


def _encode_poster(stream: IO[bytes]) -> bytes:
    """Open the upload with Pillow (the only trustworthy type check), re-encode as PNG.

    Re-encoding drops metadata and anything hidden after the image data. Raises
    DomainError for anything that isn't a readable image.
    """
    try:
        raw = stream.read()
        with Image.open(io.BytesIO(raw)) as probe:
            probe.verify()  # structural check; the image must be reopened afterwards
        with Image.open(io.BytesIO(raw)) as image:
            if image.format not in ALLOWED_POSTER_FORMATS:
                raise DomainError("Upload a PNG, JPEG, WebP or GIF image.")
            if image.width * image.height > 40_000_000:
                raise DomainError("That image has too many pixels.")
            image.seek(0)
            picture = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            picture.thumbnail(POSTER_MAX_SIZE)
            out = io.BytesIO()
            picture.save(out, format="PNG", optimize=True)
            return out.getvalue()
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        raise DomainError(
            "That file is not an image we can read. Upload a PNG, JPEG or WebP."
        ) from exc


def save_poster(actor_id: int, movie_id: int, stream: IO[bytes], now: datetime) -> Movie:
    """Check and re-encode an uploaded poster, store it as UPLOAD_DIR/posters/<random>.png
    and point the film at it, audited; the old file is removed after the commit.

    The size limit is MAX_CONTENT_LENGTH (Flask answers 413 before this runs). Raises
    NotFound, DomainError (not an image).
    """
    if db.session.get(Movie, movie_id) is None:
        raise NotFound("That film does not exist.")
    data = _encode_poster(stream)
    folder = poster_dir()
    folder.mkdir(parents=True, exist_ok=True)
    filename = f"{secrets.token_hex(12)}.png"
    path = folder / filename
    path.write_bytes(data)
    old: str | None = None
    try:
        with write_transaction():
            movie = _lock_movie(movie_id)
            old = movie.poster_filename
            movie.poster_filename = filename
            record_audit(
                actor_id=actor_id,
                action="film.poster",
                target_type="film",
                target_id=movie.id,
                now=now,
                before={"poster_filename": old},
                after={"poster_filename": filename},
            )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if old and old != filename:
        (folder / Path(old).name).unlink(missing_ok=True)
    return movie
