"""Test data builders. Each commits, so the data is visible to other connections."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from werkzeug.security import generate_password_hash

from filmsphere.extensions import db
from filmsphere.models import (
    Booking,
    Genre,
    LedgerKind,
    Movie,
    Role,
    Screen,
    Seat,
    Show,
    Ticket,
    User,
)
from filmsphere.models.screen import LAYOUT_CODES
from filmsphere.services.wallet.wallet import open_wallet

_seq = itertools.count(1)
PASSWORD = "Correct-Horse-42"
# A fast hash for tests; the app itself uses the default (scrypt).
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def now() -> datetime:
    return datetime.now(UTC)


def make_user(
    role: Role = Role.CUSTOMER,
    *,
    coins: int = 1500,
    verified: bool = True,
    username: str | None = None,
    email: str | None = None,
    active: bool = True,
) -> User:
    n = next(_seq)
    user = User(
        email=email or f"user{n}@example.test",
        username=username or f"user{n}",
        full_name=f"Test User {n}",
        password_hash=_HASH,
        role=role,
        is_active_account=active,
        email_verified_at=now() if verified else None,
    )
    db.session.add(user)
    db.session.flush()
    open_wallet(user.id, coins, now())
    db.session.commit()
    return user


def make_movie(
    title: str | None = None,
    *,
    duration: int = 100,
    genres: tuple[str, ...] = ("Drama",),
    language: str = "English",
    rating: str = "12A",
    description: str = "A film.",
) -> Movie:
    n = next(_seq)
    genre_rows = []
    for name in genres:
        genre = db.session.scalar(db.select(Genre).where(Genre.name == name))
        if genre is None:
            genre = Genre(name=name)
            db.session.add(genre)
        genre_rows.append(genre)
    movie = Movie(
        title=title or f"Film {n}",
        description=description,
        duration_minutes=duration,
        age_rating=rating,
        language=language,
        release_date=date(2026, 1, 1),
        genres=genre_rows,
    )
    db.session.add(movie)
    db.session.commit()
    return movie


SMALL_LAYOUT = "SSSSSS\nPP..PP\nWCSSCW"


def make_screen(layout: str = SMALL_LAYOUT, name: str | None = None) -> Screen:
    """A screen with seats generated from the layout text (one row per line)."""
    screen = Screen(name=name or f"Screen {next(_seq)}", layout=layout)
    db.session.add(screen)
    db.session.flush()
    for r, line in enumerate(layout.splitlines()):
        number = 0
        for c, code in enumerate(line):
            category = LAYOUT_CODES[code]
            if category is None:
                continue
            number += 1
            db.session.add(
                Seat(
                    screen_id=screen.id,
                    row_label=chr(ord("A") + r),
                    number=number,
                    grid_row=r,
                    grid_col=c,
                    category=category,
                )
            )
    db.session.commit()
    return screen


def make_show(
    movie: Movie | None = None,
    screen: Screen | None = None,
    *,
    starts_in: timedelta = timedelta(days=1),
    starts_at: datetime | None = None,
    price: int = 10,
    cleaning_minutes: int = 15,
) -> Show:
    movie = movie or make_movie()
    screen = screen or make_screen()
    start = starts_at or (now() + starts_in).replace(second=0, microsecond=0)
    show = Show(
        movie_id=movie.id,
        screen_id=screen.id,
        starts_at=start,
        ends_at=start + timedelta(minutes=movie.duration_minutes + cleaning_minutes),
        base_price_coins=price,
    )
    db.session.add(show)
    db.session.commit()
    return show


def make_booking(
    user: User,
    show: Show,
    seat_labels: tuple[str, ...] = ("A1",),
    *,
    price: int | None = None,
) -> Booking:
    """A paid booking made directly (not through checkout): tickets, charge, ledger entry."""
    import secrets

    from filmsphere.services.locks import lock_wallet
    from filmsphere.services.wallet.wallet import post_entry

    seats = [
        s
        for s in db.session.scalars(db.select(Seat).where(Seat.screen_id == show.screen_id))
        if s.label in seat_labels
    ]
    assert len(seats) == len(seat_labels), f"unknown seats in {seat_labels}"
    each = price if price is not None else show.base_price_coins
    booking = Booking(
        reference=secrets.token_hex(4).upper(),
        user_id=user.id,
        show_id=show.id,
        total_coins=each * len(seats),
    )
    db.session.add(booking)
    db.session.flush()
    for seat in seats:
        db.session.add(
            Ticket(
                booking_id=booking.id,
                show_id=show.id,
                seat_id=seat.id,
                category=seat.category,
                price_coins=each,
            )
        )
    wallet = lock_wallet(user.id)
    post_entry(
        wallet, LedgerKind.BOOKING_CHARGE, -booking.total_coins, now(), booking_id=booking.id
    )
    db.session.commit()
    return booking
