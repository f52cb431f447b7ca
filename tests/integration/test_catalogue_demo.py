"""`flask seed-demo`: a believable cinema, never overlapping, idempotent, working logins."""

from __future__ import annotations

from collections import defaultdict
from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from filmsphere.extensions import db
from filmsphere.models import Movie, Screen, Seat, Show, User, Wallet, utcnow
from filmsphere.services.catalogue.screens import sellable_seat_count
from filmsphere.services.ops.demo import ACCOUNTS, FILMS, seed_demo
from tests.conftest import get_csrf


def counts() -> dict[str, int]:
    return {
        model.__name__: int(db.session.scalar(select(func.count()).select_from(model)) or 0)
        for model in (Movie, Screen, Seat, Show, User, Wallet)
    }


def test_seed_demo_cli_builds_the_cinema_and_prints_the_logins(
    backend: str,
    app: Flask,
    runner,
    client: FlaskClient,  # type: ignore[no-untyped-def]
) -> None:
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    for account in ACCOUNTS:
        assert f"login: {account.username}" in result.output
        assert f"password: {account.password}" in result.output
    assert "Open http://" in result.output

    tz = ZoneInfo(app.config["TIMEZONE"])
    with app.app_context():
        first = counts()
        assert first["Movie"] == len(FILMS) == 12 and first["Screen"] == 3 and first["User"] == 3
        movies = list(db.session.scalars(select(Movie)))
        assert len({m.language for m in movies}) >= 6
        assert {m.age_rating for m in movies} == {"U", "PG", "12A", "15", "18"}
        assert all(m.description and m.genres for m in movies)

        screens = list(db.session.scalars(select(Screen)))
        sizes = sorted(sellable_seat_count(s.id) for s in screens)
        assert any(100 <= n <= 140 for n in sizes) and len(set(sizes)) == 3
        seats = list(db.session.scalars(select(Seat)))
        categories = {s.category for s in seats}
        assert categories == {"standard", "premium", "vip", "wheelchair", "companion", "broken"}
        assert sum(s.category == "broken" for s in seats) == 1
        cells = {(s.screen_id, s.grid_row, s.grid_col): s.category for s in seats}
        for seat in seats:
            if seat.category == "wheelchair":
                neighbours = {
                    cells.get((seat.screen_id, seat.grid_row, seat.grid_col + d)) for d in (-1, 1)
                }
                assert "companion" in neighbours, seat.label

        shows = list(db.session.scalars(select(Show).order_by(Show.screen_id, Show.starts_at)))
        per_screen: dict[int, list[Show]] = defaultdict(list)
        for show in shows:
            per_screen[show.screen_id].append(show)
            local = show.starts_at.astimezone(tz)
            assert time(12, 0) <= local.time() <= time(22, 30)
            assert local.minute % 15 == 0
            assert show.starts_at > utcnow() - timedelta(minutes=5)
            assert local.date() <= (utcnow().astimezone(tz) + timedelta(days=6)).date()
            if show.movie.age_rating == "18":
                assert local.time() >= time(18, 0)
        assert len(per_screen) == 3
        for screen_shows in per_screen.values():
            for before, after in zip(screen_shows, screen_shows[1:], strict=False):
                assert before.ends_at <= after.starts_at, (before.id, after.id)
        # Every film gets shows over the week (unless the week is nearly over today).
        assert len({s.movie_id for s in shows}) == len(FILMS)

        users = {u.username: u for u in db.session.scalars(select(User))}
        for account in ACCOUNTS:
            user = users[account.username]
            assert user.role == account.role and user.is_verified
            assert user.password_hash.startswith("scrypt:")  # werkzeug's default
            wallet = db.session.scalar(select(Wallet).where(Wallet.user_id == user.id))
            assert wallet is not None and wallet.balance_coins == app.config["SIGNUP_GRANT_COINS"]

    again = runner.invoke(args=["seed-demo"])
    assert again.exit_code == 0, again.output
    assert "(0 added)" in again.output and "password: popcorn-admin" in again.output
    with app.app_context():
        assert counts() == first

    # The printed logins work through the real log-in form.
    for account in ACCOUNTS:
        fresh = app.test_client()
        response = fresh.post(
            "/auth/login",
            data={
                "login": account.username,
                "password": account.password,
                "csrf_token": get_csrf(fresh, "/auth/login"),
            },
        )
        assert response.status_code == 303, account.username
    wrong = app.test_client()
    response = wrong.post(
        "/auth/login",
        data={"login": "admin", "password": "nope", "csrf_token": get_csrf(wrong, "/auth/login")},
    )
    assert response.status_code == 422


def test_seed_demo_tops_up_the_week_as_days_pass(backend: str, ctx: Flask) -> None:
    now = utcnow()
    seed_demo(now)
    tz = ZoneInfo(ctx.config["TIMEZONE"])
    before = counts()
    later = now + timedelta(days=2)
    lines = seed_demo(later)
    after = counts()
    assert after["Movie"] == before["Movie"] and after["User"] == before["User"]
    assert after["Show"] > before["Show"]
    last_day = max(s.starts_at.astimezone(tz).date() for s in db.session.scalars(select(Show)))
    assert last_day == (later.astimezone(tz) + timedelta(days=6)).date()
    assert any("password: popcorn-customer" in line for line in lines)
    assert seed_demo(later) and counts() == after


@pytest.mark.sqlite_only
def test_seed_demo_refuses_production_without_force(backend: str, app: Flask) -> None:
    app.config["ENV_NAME"] = "production"
    runner = app.test_cli_runner()
    refused = runner.invoke(args=["seed-demo"])
    assert refused.exit_code != 0
    assert "refuses to run in production" in refused.output
    with app.app_context():
        assert counts()["User"] == 0
    forced = runner.invoke(args=["seed-demo", "--force"])
    assert forced.exit_code == 0, forced.output
