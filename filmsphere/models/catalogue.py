"""Films and genres."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Column, Date, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model, db
from .types import UTCDateTime, utcnow

movie_genres = Table(
    "movie_genres",
    db.metadata,
    Column("movie_id", ForeignKey("movies.id", ondelete="CASCADE"), primary_key=True),
    Column("genre_id", ForeignKey("genres.id", ondelete="CASCADE"), primary_key=True),
)


class Genre(Model):
    __tablename__ = "genres"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


class Movie(Model):
    __tablename__ = "movies"
    __table_args__ = (CheckConstraint("duration_minutes > 0", name="duration_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int]
    age_rating: Mapped[str] = mapped_column(String(8))
    language: Mapped[str] = mapped_column(String(40))
    release_date: Mapped[date | None] = mapped_column(Date)
    # An uploaded poster's file name inside UPLOAD_DIR; without one the app draws an SVG.
    poster_filename: Mapped[str | None] = mapped_column(String(120))
    poster_hue: Mapped[int] = mapped_column(default=220)
    is_retired: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    genres: Mapped[list[Genre]] = relationship(
        secondary=movie_genres, order_by=Genre.name, lazy="selectin"
    )
