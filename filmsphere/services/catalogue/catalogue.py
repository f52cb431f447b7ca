"""Read-only catalogue queries: now showing, film search, showtimes by cinema-local date.

Every function here only reads; none opens a write transaction. Lists are loaded with a
fixed number of queries whatever their length (genres via selectin, screens and films of
shows via joined loads), so pages never do N+1 queries.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, Select, String, and_, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from ...clock import local_day_bounds, to_local
from ...extensions import db
from ...models import Genre, Movie, Show, ShowStatus, movie_genres
from ..errors import DomainError, NotFound
from ..paging import Key, Page, keyset_page
from ..transaction import is_postgres

PER_PAGE = 12
STRIP_DAYS = 7
# Showtime pages answer for dates this many days either side of today.
DATE_RANGE_DAYS = 366
# Age ratings in the order a parent reads them; unknown ratings sort after these.
RATING_ORDER = ("U", "PG", "12A", "12", "15", "18")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadDate(DomainError):
    """A date parameter that is not a real YYYY-MM-DD date in the accepted range."""

    status = 400


def local_date(moment: datetime) -> date:
    return to_local(moment).date()


def parse_day(raw: str | None, today: date) -> date:
    """Parse a YYYY-MM-DD query value; None or "" means today.

    Raises BadDate (400) for anything else, for impossible dates such as 2026-02-30, and
    for dates more than a year away from today.
    """
    if raw is None or raw.strip() == "":
        return today
    raw = raw.strip()
    if not _ISO_DATE.match(raw):
        raise BadDate(f"“{raw[:40]}” is not a date. Use the form YYYY-MM-DD, e.g. {today}.")
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadDate(f"{raw} is not a real calendar date.") from None
    if abs((day - today).days) > DATE_RANGE_DAYS:
        raise BadDate("Pick a date within a year of today.")
    return day


def step_day(day: date, step: int, today: date) -> date | None:
    """The day `step` days from `day`, or None when that falls outside the listed range."""
    target = day + timedelta(days=step)
    return target if abs((target - today).days) <= DATE_RANGE_DAYS else None


def date_strip(today: date, days: int = STRIP_DAYS) -> list[date]:
    return [today + timedelta(days=n) for n in range(days)]


def _bookable(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """A show can be booked while it is scheduled and has not started."""
    return (Show.status == ShowStatus.SCHEDULED, Show.starts_at > now)


# ---------------------------------------------------------------- now showing / home


@dataclass(frozen=True)
class ShowSlot:
    show: Show
    bookable: bool  # False once the show started (or finished): listed, never linked

    @property
    def from_coins(self) -> int:
        return self.show.base_price_coins


@dataclass(frozen=True)
class NowShowing:
    movie: Movie
    next_show_at: datetime


def now_showing(now: datetime, limit: int | None = None) -> list[NowShowing]:
    """Public films with at least one bookable show, soonest next show first.
    Two queries (films, then their genres)."""
    next_show = (
        select(Show.movie_id, func.min(Show.starts_at).label("next_at"))
        .where(*_bookable(now))
        .group_by(Show.movie_id)
        .subquery()
    )
    query = (
        select(Movie, next_show.c.next_at)
        .join(next_show, next_show.c.movie_id == Movie.id)
        .where(Movie.is_retired.is_(False))
        .order_by(next_show.c.next_at, Movie.title, Movie.id)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = db.session.execute(query).all()
    return [NowShowing(movie, _aware(next_at)) for movie, next_at in rows]


def _aware(value: datetime) -> datetime:
    # Belt and braces: min() keeps the column type, but never hand out a naive time.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _day_shows_query(day: date) -> Select[tuple[Show]]:
    start, end = local_day_bounds(day)
    return (
        select(Show)
        .join(Movie, Movie.id == Show.movie_id)
        .where(
            Show.status != ShowStatus.CANCELLED,
            Movie.is_retired.is_(False),
            Show.starts_at >= start,
            Show.starts_at < end,
        )
        .order_by(Show.starts_at, Show.id)
    )


def remaining_shows_today(now: datetime) -> list[ShowSlot]:
    """Today's (cinema-local) bookable shows that have not started, in start order."""
    query = _day_shows_query(local_date(now)).where(*_bookable(now))
    return [ShowSlot(show, True) for show in db.session.scalars(query).unique()]


# ---------------------------------------------------------------- showtimes by date


@dataclass
class FilmDay:
    movie: Movie
    slots: list[ShowSlot] = field(default_factory=list)


def shows_on(day: date, now: datetime) -> list[FilmDay]:
    """Every live (not cancelled) show of the cinema-local `day`, grouped by film, films in
    order of their first show. Started shows are included but marked not bookable."""
    films: dict[int, FilmDay] = {}
    for show in db.session.scalars(_day_shows_query(day)).unique():
        slot = ShowSlot(show, show.status == ShowStatus.SCHEDULED and show.starts_at > now)
        films.setdefault(show.movie_id, FilmDay(show.movie)).slots.append(slot)
    return list(films.values())


# ---------------------------------------------------------------- film detail


@dataclass(frozen=True)
class ShowDay:
    day: date
    slots: list[ShowSlot]


def get_public_movie(movie_id: int) -> Movie:
    """A film visitors may see. Raises NotFound for unknown and retired films."""
    movie = db.session.get(Movie, movie_id)
    if movie is None or movie.is_retired:
        raise NotFound("We couldn't find that film. It may have left the programme.")
    return movie


def upcoming_shows_by_day(movie_id: int, now: datetime) -> list[ShowDay]:
    """The film's bookable shows from now on, grouped by cinema-local date. One query."""
    shows = db.session.scalars(
        select(Show)
        .where(Show.movie_id == movie_id, *_bookable(now))
        .order_by(Show.starts_at, Show.id)
    ).unique()
    days: dict[date, list[ShowSlot]] = {}
    for show in shows:
        days.setdefault(local_date(show.starts_at), []).append(ShowSlot(show, True))
    return [ShowDay(day, slots) for day, slots in days.items()]


# ---------------------------------------------------------------- search


@dataclass(frozen=True)
class MovieFilters:
    q: str = ""
    genres: tuple[str, ...] = ()
    language: str = ""
    rating: str = ""
    day: date | None = None

    @property
    def active(self) -> bool:
        return bool(self.q or self.genres or self.language or self.rating or self.day)


@dataclass(frozen=True)
class MovieCard:
    movie: Movie
    next_show_at: datetime | None


@dataclass(frozen=True)
class MoviePage:
    cards: list[MovieCard]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _lower(column: ColumnElement[str] | InstrumentedAttribute[str]) -> ColumnElement[str]:
    # SQLite's own lower() only folds ASCII ("último" would miss "El Último Tren"):
    # services/transaction.configure_sqlite registers a Unicode-aware fs_lower().
    if is_postgres():
        return func.lower(column)
    return func.fs_lower(column, type_=String)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search_query(filters: MovieFilters, now: datetime) -> Select[tuple[Movie]]:
    query = select(Movie).where(Movie.is_retired.is_(False))
    q = " ".join(filters.q.split())
    if q:
        # lower() LIKE behaves the same on PostgreSQL and SQLite (ILIKE is PostgreSQL-only,
        # and SQLite's LIKE folds ASCII only); each word must appear in title or description.
        for word in q.lower().split(" "):
            pattern = f"%{_escape_like(word)}%"
            query = query.where(
                or_(
                    _lower(Movie.title).like(pattern, escape="\\"),
                    _lower(Movie.description).like(pattern, escape="\\"),
                )
            )
    if filters.genres:
        query = query.where(
            exists()
            .where(movie_genres.c.movie_id == Movie.id)
            .where(movie_genres.c.genre_id == Genre.id)
            .where(Genre.name.in_(filters.genres))
        )
    if filters.language:
        query = query.where(Movie.language == filters.language)
    if filters.rating:
        query = query.where(Movie.age_rating == filters.rating)
    if filters.day is not None:
        start, end = local_day_bounds(filters.day)
        query = query.where(
            exists().where(
                and_(
                    Show.movie_id == Movie.id,
                    *_bookable(now),
                    Show.starts_at >= start,
                    Show.starts_at < end,
                )
            )
        )
    return query


def search_movies(
    filters: MovieFilters, page: int, now: datetime, per_page: int = PER_PAGE
) -> MoviePage:
    """Public films matching every given filter, by title; `page` counts from 1.

    Genres match any of the chosen ones; `day` keeps films with a bookable show that
    cinema-local date. Raises NotFound when `page` is past the last page. Four queries:
    count, page of films, their genres, their next shows.
    """
    base = _search_query(filters, now)
    total = int(db.session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    result = MoviePage([], total, page, per_page)
    if page > result.pages:
        raise NotFound(f"There is no page {page}; the results have {result.pages}.")
    movies = list(
        db.session.scalars(
            base.order_by(func.lower(Movie.title), Movie.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    nexts = _next_shows([m.id for m in movies], now)
    cards = [MovieCard(m, nexts.get(m.id)) for m in movies]
    return MoviePage(cards, total, page, per_page)


def search_movie_cards(
    filters: MovieFilters, cursor: str | None, now: datetime, per_page: int = PER_PAGE
) -> Page[MovieCard]:
    """The page `cursor` names of search_movies' results (same filters, same order by
    title), paged by keyset for the JSON API. Reads only; raises BadCursor."""
    sort_title = func.lower(Movie.title)
    page = keyset_page(
        _search_query(filters, now).add_columns(sort_title),
        [Key(sort_title, str), Key(Movie.id, int)],
        lambda row: [row[1], row[0].id],
        cursor,
        per_page,
        descending=False,
    )
    nexts = _next_shows([row[0].id for row in page.rows], now)
    return page.with_rows([MovieCard(row[0], nexts.get(row[0].id)) for row in page.rows])


def _next_shows(movie_ids: Sequence[int], now: datetime) -> dict[int, datetime]:
    if not movie_ids:
        return {}
    rows = db.session.execute(
        select(Show.movie_id, func.min(Show.starts_at))
        .where(Show.movie_id.in_(movie_ids), *_bookable(now))
        .group_by(Show.movie_id)
    ).all()
    return {movie_id: _aware(at) for movie_id, at in rows if at is not None}


@dataclass(frozen=True)
class FilterOptions:
    genres: list[str]
    languages: list[str]
    ratings: list[str]


def _rating_key(rating: str) -> tuple[int, str]:
    return (RATING_ORDER.index(rating) if rating in RATING_ORDER else len(RATING_ORDER), rating)


def filter_options() -> FilterOptions:
    """The genres, languages and age ratings of public films (what the filters offer)."""
    public = select(Movie.id).where(Movie.is_retired.is_(False))
    genres = db.session.scalars(
        select(Genre.name)
        .join(movie_genres, movie_genres.c.genre_id == Genre.id)
        .where(movie_genres.c.movie_id.in_(public))
        .distinct()
        .order_by(Genre.name)
    ).all()
    pairs = db.session.execute(
        select(Movie.language, Movie.age_rating).where(Movie.is_retired.is_(False)).distinct()
    ).all()
    languages = sorted({language for language, _ in pairs}, key=str.lower)
    ratings = sorted({rating for _, rating in pairs}, key=_rating_key)
    return FilterOptions(list(genres), languages, ratings)
