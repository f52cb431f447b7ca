"""Scheduling shows: end = start + film duration + cleaning; no overlaps in one screen."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from ...clock import local_day_bounds
from ...extensions import db
from ...models import Movie, Screen, SeatHold, Show, ShowStatus
from ..errors import DomainError, NotFound, ShowOverlap
from ..ops.audit import record_audit
from ..transaction import race_point, write_transaction


def sold_count(show_id: int) -> int:
    """Active (paid, not cancelled) tickets of a show."""
    from ...models import Ticket, TicketStatus

    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.show_id == show_id, Ticket.status == TicketStatus.ACTIVE)
        )
        or 0
    )


def show_end(starts_at: datetime, duration_minutes: int) -> datetime:
    cleaning = int(current_app.config["CLEANING_MINUTES"])
    return starts_at + timedelta(minutes=duration_minutes + cleaning)


def overlapping_show(
    screen_id: int, starts_at: datetime, ends_at: datetime, exclude_show_id: int | None = None
) -> Show | None:
    """The first live show in the screen whose [start, end) meets [starts_at, ends_at)."""
    query = select(Show).where(
        Show.screen_id == screen_id,
        Show.status != ShowStatus.CANCELLED,
        Show.starts_at < ends_at,
        Show.ends_at > starts_at,
    )
    if exclude_show_id is not None:
        query = query.where(Show.id != exclude_show_id)
    return db.session.scalars(query.order_by(Show.starts_at).limit(1)).first()


def free_screens(starts_at: datetime, ends_at: datetime) -> list[str]:
    """Names of active screens with no live show overlapping [starts_at, ends_at)."""
    busy = select(Show.screen_id).where(
        Show.status != ShowStatus.CANCELLED,
        Show.starts_at < ends_at,
        Show.ends_at > starts_at,
    )
    return list(
        db.session.scalars(
            select(Screen.name)
            .where(Screen.is_active.is_(True), Screen.id.not_in(busy))
            .order_by(Screen.name)
        )
    )


def _overlap_error(
    screen: Screen, clash: Show, starts_at: datetime, ends_at: datetime
) -> ShowOverlap:
    from ...wording import format_datetime, format_time

    free = free_screens(starts_at, ends_at)
    message = (
        f"{screen.name} is busy then: {clash.movie.title} runs "
        f"{format_datetime(clash.starts_at)}–{format_time(clash.ends_at)} (cleaning included)."
    )
    message += (
        f" Free at that time: {', '.join(free)}." if free else " No screen is free at that time."
    )
    return ShowOverlap(message, free)


def _lock_screen_and_get_movie(screen_id: int, movie_id: int) -> tuple[Screen, Movie]:
    """Lock the screen row FOR UPDATE (scheduling in one screen is serialised) and load
    the film. Raises NotFound for an unknown or inactive screen, or an unknown film."""
    screen = db.session.scalars(
        select(Screen).where(Screen.id == screen_id).with_for_update()
    ).one_or_none()
    movie = db.session.get(Movie, movie_id)
    if screen is None or not screen.is_active:
        raise NotFound("That screen does not exist.")
    if movie is None:
        raise NotFound("That film does not exist.")
    return screen, movie


def schedule_show(
    *,
    movie_id: int,
    screen_id: int,
    starts_at: datetime,
    base_price_coins: int,
    now: datetime,
    actor_id: int | None = None,
) -> Show:
    """Create a show in one transaction and audit it when an admin acts.

    Checks under the write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: the screen row is
    locked FOR UPDATE) that the screen is free, and PostgreSQL's exclusion constraint is the
    last word. Raises DomainError (past start, bad price, retired film), NotFound, ShowOverlap.
    """
    if starts_at <= now:
        raise DomainError("A show can't start in the past.")
    if base_price_coins <= 0:
        raise DomainError("The base price must be at least 1 coin.")
    try:
        with write_transaction() as session:
            screen, movie = _lock_screen_and_get_movie(screen_id, movie_id)
            if movie.is_retired:
                raise DomainError(f"{movie.title} is retired and can't get new shows.")
            ends_at = show_end(starts_at, movie.duration_minutes)
            clash = overlapping_show(screen_id, starts_at, ends_at)
            if clash is not None:
                raise _overlap_error(screen, clash, starts_at, ends_at)
            race_point("schedule.after_check")
            show = Show(
                movie_id=movie_id,
                screen_id=screen_id,
                starts_at=starts_at,
                ends_at=ends_at,
                base_price_coins=base_price_coins,
                created_at=now,
            )
            session.add(show)
            session.flush()
            if actor_id is not None:
                record_audit(
                    actor_id=actor_id,
                    action="show.create",
                    target_type="show",
                    target_id=show.id,
                    now=now,
                    after={
                        "movie_id": movie_id,
                        "screen_id": screen_id,
                        "starts_at": starts_at.isoformat(),
                        "base_price_coins": base_price_coins,
                    },
                )
    except IntegrityError as exc:
        if "ex_shows_screen_no_overlap" not in str(exc.orig):
            raise
        lost_screen = db.session.get(Screen, screen_id)
        lost_movie = db.session.get(Movie, movie_id)
        assert lost_screen is not None and lost_movie is not None
        ends_at = show_end(starts_at, lost_movie.duration_minutes)
        free = free_screens(starts_at, ends_at)
        raise ShowOverlap(
            f"{lost_screen.name} was booked for that time a moment ago."
            + (f" Free at that time: {', '.join(free)}." if free else ""),
            free,
        ) from exc
    return show


# --- Admin: editing shows and the week view (issue 5) ---------------------------------


def show_snapshot(show: Show) -> dict[str, object]:
    return {
        "movie_id": show.movie_id,
        "screen_id": show.screen_id,
        "starts_at": show.starts_at.isoformat(),
        "ends_at": show.ends_at.isoformat(),
        "base_price_coins": show.base_price_coins,
        "status": show.status,
    }


def update_show(
    *,
    actor_id: int,
    show_id: int,
    movie_id: int,
    screen_id: int,
    starts_at: datetime,
    base_price_coins: int,
    now: datetime,
) -> Show:
    """Change a scheduled show that hasn't started, in one audited transaction.

    Film, screen and start can only change while no active ticket is sold (sold seats
    belong to that screen and time: cancel the show instead); the base price can always
    change and applies to new sales only (paid prices are frozen). Locks the show and the
    target screen; overlap is checked under the lock and PostgreSQL's exclusion constraint
    is the last word. Raises NotFound, DomainError, Conflict, ShowOverlap.
    """
    from ..errors import Conflict

    if base_price_coins <= 0:
        raise DomainError("The base price must be at least 1 coin.")
    try:
        with write_transaction() as session:
            current_screen_id = session.scalar(select(Show.screen_id).where(Show.id == show_id))
            if current_screen_id is not None and current_screen_id != screen_id:
                # Holds point at the old screen's seats: drop them (before the show row, the
                # lock order every writer follows); checkout refuses any that slip through.
                session.execute(delete(SeatHold).where(SeatHold.show_id == show_id))
            show = session.scalars(
                select(Show)
                .where(Show.id == show_id)
                .with_for_update(of=Show)
                .execution_options(populate_existing=True)
            ).one_or_none()
            if show is None:
                raise NotFound("That show does not exist.")
            if show.status != ShowStatus.SCHEDULED or show.starts_at <= now:
                raise Conflict("Only a scheduled show that hasn't started can be edited.")
            moved = (show.movie_id, show.screen_id, show.starts_at) != (
                movie_id,
                screen_id,
                starts_at,
            )
            if moved:
                if starts_at <= now:
                    raise DomainError("A show can't start in the past.")
                sold = sold_count(show.id)
                if sold:
                    raise Conflict(
                        f"{sold} ticket{'s are' if sold != 1 else ' is'} sold for this show, so "
                        "its film, screen and start can't change. Cancel the show instead "
                        "(customers are refunded in full)."
                    )
            screen, movie = _lock_screen_and_get_movie(screen_id, movie_id)
            if movie.is_retired and movie.id != show.movie_id:
                raise DomainError(f"{movie.title} is retired and can't get new shows.")
            before = show_snapshot(show)
            ends_at = show_end(starts_at, movie.duration_minutes) if moved else show.ends_at
            if moved:
                clash = overlapping_show(screen_id, starts_at, ends_at, exclude_show_id=show.id)
                if clash is not None:
                    raise _overlap_error(screen, clash, starts_at, ends_at)
                race_point("schedule.after_check")
            show.movie_id = movie_id
            show.screen_id = screen_id
            show.starts_at = starts_at
            show.ends_at = ends_at
            show.base_price_coins = base_price_coins
            session.flush()
            record_audit(
                actor_id=actor_id,
                action="show.update",
                target_type="show",
                target_id=show.id,
                now=now,
                before=before,
                after=show_snapshot(show),
            )
    except IntegrityError as exc:
        if "ex_shows_screen_no_overlap" not in str(exc.orig):
            raise
        raise ShowOverlap("That screen was booked for that time a moment ago.") from exc
    return show


def week_view(screen_id: int | None, week_start: date) -> list[tuple[date, list[Show]]]:
    """Seven cinema-local days from week_start, each with its shows (cancelled included),
    for one screen or all screens. One query."""
    first, _ = local_day_bounds(week_start)
    _, last = local_day_bounds(week_start + timedelta(days=6))
    query = select(Show).where(Show.starts_at >= first, Show.starts_at < last)
    if screen_id is not None:
        query = query.where(Show.screen_id == screen_id)
    shows = list(db.session.scalars(query.order_by(Show.starts_at, Show.screen_id)))
    days: list[tuple[date, list[Show]]] = []
    for offset in range(7):
        day = week_start + timedelta(days=offset)
        start, end = local_day_bounds(day)
        days.append((day, [s for s in shows if start <= s.starts_at < end]))
    return days
