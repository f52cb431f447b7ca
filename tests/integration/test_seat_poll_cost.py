"""The rush's hot path stays cheap and safe: an unchanged seat map polls in one statement
(no user load, no transaction on PostgreSQL), a changed one in one too, a click in one
transaction; and the ETag, checked before any user is loaded, never lets a log-in that
ended, another customer or a forged session key see a customer's map."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from filmsphere.extensions import db
from filmsphere.models import User
from filmsphere.services.accounts.sessions import log_out_everywhere, start_session
from filmsphere.services.booking.holds import toggle_hold, toggle_hold_and_read
from filmsphere.services.booking.seatmap import read_seat_state, read_seat_state_of_session
from tests import factories
from tests.conftest import csrf_from, get_csrf

from .test_booking_routes import HX, World, hold, log_in, seat_button, seed
from .test_holds import seat_id


@dataclass
class Seen:
    statements: list[str] = field(default_factory=list)
    begins: int = 0
    autocommit: list[bool] = field(default_factory=list)

    @property
    def sql(self) -> list[str]:
        """The statements but the transaction's own (SQLite's BEGIN is sent as one)."""
        return [s for s in self.statements if s.split()[0] not in ("BEGIN", "COMMIT")]


@contextmanager
def watching(app: Flask) -> Iterator[Seen]:
    """The statements the app sends meanwhile, the transactions it begins, and whether
    each statement ran on an autocommit (PostgreSQL) connection."""
    seen = Seen()

    def statement(conn: Any, _cursor: Any, text: str, *_args: Any) -> None:
        seen.statements.append(text)
        raw = conn.connection.dbapi_connection
        seen.autocommit.append(bool(getattr(raw, "autocommit", False)))

    def begin(conn: Any) -> None:
        if not getattr(conn.connection.dbapi_connection, "autocommit", False):
            seen.begins += 1  # autocommit: SQLAlchemy's begin sends nothing

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "begin", begin)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "begin", begin)


def grid_url(show_id: int) -> str:
    return f"/shows/{show_id}/seats"


def test_an_unchanged_map_polls_in_one_statement_without_a_transaction(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    hold(app, world.customer_id, world.show_id, world.seats["A1"])
    hold(app, world.other_id, world.show_id, world.seats["A2"])
    url = grid_url(world.show_id)
    etag = client.get(url, headers=HX).headers["ETag"]  # also caches the layout

    with watching(app) as seen:
        same = client.get(url, headers=HX | {"If-None-Match": etag})
    assert same.status_code == 304
    # The session check, the show, the balance and every seat's claim: one statement,
    # and not a query for the user.
    assert len(seen.sql) == 1, seen.statements
    assert "users" in seen.sql[0] and "seat_holds" in seen.sql[0] and "tickets" in seen.sql[0]
    if backend == "postgresql":
        assert seen.autocommit == [True] and seen.begins == 0

    hold(app, world.other_id, world.show_id, world.seats["A3"])
    with watching(app) as seen:
        changed = client.get(url, headers=HX | {"If-None-Match": etag})
    assert changed.status_code == 200
    assert len(seen.sql) == 1, seen.statements  # the grid is drawn without a user load
    assert 'aria-pressed="true"' in seat_button(changed.get_data(as_text=True), world.seats["A1"])

    visitor = app.test_client()
    visitor_etag = visitor.get(url, headers=HX).headers["ETag"]
    with watching(app) as seen:
        assert visitor.get(url, headers=HX | {"If-None-Match": visitor_etag}).status_code == 304
    assert len(seen.sql) == 1


def test_a_click_is_one_transaction(backend: str, app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    html = client.get(f"/shows/{world.show_id}").get_data(as_text=True)
    data = {"csrf_token": csrf_from(html)}
    url = f"/shows/{world.show_id}/seats/{world.seats['A1']}"
    with watching(app) as seen:
        held = client.post(url, data=data, headers=HX)
    assert held.status_code == 200
    # The user (with the session check), seat, hold rows, wallet, rule facts, the insert
    # and the seat map after it: all in one transaction. The rate limiter (on, keyed from
    # the session) adds no query, and the user is loaded once.
    # (SQLite ends the user's read transaction before a write one: BEGIN IMMEDIATE.)
    assert seen.begins == (1 if backend == "postgresql" else 2), seen.statements
    assert len(seen.sql) == 7, seen.statements
    assert sum("FROM users" in s for s in seen.sql) == 1


def test_the_seat_map_page_is_one_statement_with_its_user(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    url = f"/shows/{world.show_id}"
    client.get(url)  # caches the layout
    with watching(app) as seen:
        page = client.get(url)
    assert page.status_code == 200
    # One read: the session check with the user's columns, the seat states, the heading
    # (show, film and screen, not the ORM show, which would load the film's genres too)
    # and whether the customer is on the waitlist. With plenty of seats free and no entry,
    # no waitlist panel: its counts are not read.
    assert len(seen.sql) == 1, seen.statements
    assert "user_sessions" in seen.sql[0] and "seat_holds" in seen.sql[0]
    assert "genres" not in seen.sql[0]
    html = page.get_data(as_text=True)
    assert 'id="waitlist"' not in html
    assert "Log out" in html and 'id="basket"' in html  # the customer, from that read
    # No transaction: no BEGIN or ROLLBACK.
    if backend == "postgresql":
        assert seen.autocommit == [True] and seen.begins == 0


def test_an_ended_log_in_gets_the_visitors_page(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    hold(app, world.customer_id, world.show_id, world.seats["A1"])
    url = f"/shows/{world.show_id}"
    assert 'id="basket"' in client.get(url).get_data(as_text=True)
    log_out_everywhere_in(app, world.customer_id)  # the cookie stays in the client
    with watching(app) as seen:
        html = client.get(url).get_data(as_text=True)
    assert len(seen.sql) == 1, seen.statements  # the check said no: no user query after it
    assert 'id="basket"' not in html and "Log out" not in html and "Log in" in html
    assert "taken" in seat_button(html, world.seats["A1"])


def logged_in_by_the_remember_cookie_only(app: Flask, client: FlaskClient) -> World:
    """A customer who logged in with "keep me logged in", holds A1, and restarted the
    browser: the session cookie is gone, the remember cookie stays."""
    world = seed(app)
    token = get_csrf(client, "/auth/login")
    client.post(
        "/auth/login",
        data={
            "csrf_token": token,
            "login": world.customer_login,
            "password": factories.PASSWORD,
            "remember": "y",
        },
    )
    hold(app, world.customer_id, world.show_id, world.seats["A1"])
    client.delete_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))  # browser restart
    return world


def test_a_log_in_kept_only_in_the_remember_cookie_gets_the_customers_page(
    app: Flask, client: FlaskClient
) -> None:
    world = logged_in_by_the_remember_cookie_only(app, client)
    html = client.get(f"/shows/{world.show_id}").get_data(as_text=True)
    assert 'aria-pressed="true"' in seat_button(html, world.seats["A1"])
    assert "Log out" in html


def test_click_and_read_sees_its_own_hold(backend: str, ctx: Flask) -> None:
    me, show = factories.make_user(), factories.make_show()
    seat = seat_id(show, "A1")
    now = factories.now()
    result, state = toggle_hold_and_read(me.id, show.id, seat, now)
    assert result.action == "held"
    assert state.mine == {seat} and not state.held
    assert state.etag == read_seat_state(show.id, me.id, now).etag  # as read after commit
    result, state = toggle_hold_and_read(me.id, show.id, seat, now)
    assert result.action == "released" and not state.mine


def test_the_session_check_in_the_read_confirms_the_viewer(backend: str, ctx: Flask) -> None:
    me, other, show = factories.make_user(), factories.make_user(), factories.make_show()
    seat = seat_id(show, "A1")
    t0 = factories.now()
    toggle_hold(me.id, show.id, seat, t0)
    user = db.session.get(User, me.id)
    assert user is not None
    key = start_session(user, remember=False, now=t0)
    mine = read_seat_state(show.id, me.id, t0)
    assert read_seat_state_of_session(show.id, key, t0) == mine
    # A hold that ran out shows as free and changes the ETag, before cron deletes it.
    later = t0 + timedelta(minutes=11)
    expired = read_seat_state_of_session(show.id, key, later)
    assert not expired.mine and expired.etag != mine.etag
    assert expired.etag == read_seat_state(show.id, me.id, later).etag

    visitor = read_seat_state(show.id, None, t0)
    user_id, session_id, secret = key.split(":")
    for forged in (
        f"{user_id}:{session_id}:{secret}x",  # the wrong secret
        f"{other.id}:{session_id}:{secret}",  # another user's id with my session
        "not a key",
        None,
    ):
        assert read_seat_state_of_session(show.id, forged, t0) == visitor, forged
    log_out_everywhere(me.id)
    assert read_seat_state_of_session(show.id, key, t0) == visitor


def test_an_ended_log_in_never_gets_its_customers_map(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    hold(app, world.customer_id, world.show_id, world.seats["A1"])
    url = grid_url(world.show_id)
    etag = client.get(url, headers=HX).headers["ETag"]
    assert client.get(url, headers=HX | {"If-None-Match": etag}).status_code == 304

    log_out_everywhere_in(app, world.customer_id)  # the cookie stays in the client
    after = client.get(url, headers=HX | {"If-None-Match": etag})
    assert after.status_code == 200  # a visitor's map: never a 304 on the customer's ETag
    assert after.headers["ETag"] != etag
    html = after.get_data(as_text=True)
    assert 'id="basket"' not in html
    assert "taken" in seat_button(html, world.seats["A1"])


def test_another_customer_never_gets_a_304_on_my_etag(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    url = grid_url(world.show_id)
    mine = client.get(url, headers=HX).headers["ETag"]  # nothing held: same seats for all
    other = app.test_client()
    log_in(other, world.other_login)
    theirs = other.get(url, headers=HX | {"If-None-Match": mine})
    assert theirs.status_code == 200 and theirs.headers["ETag"] != mine
    visitor = app.test_client().get(url, headers=HX | {"If-None-Match": mine})
    assert visitor.status_code == 200 and visitor.headers["ETag"] != mine


def test_a_log_in_kept_only_in_the_remember_cookie_polls_as_the_customer(
    app: Flask, client: FlaskClient
) -> None:
    world = logged_in_by_the_remember_cookie_only(app, client)
    html = client.get(grid_url(world.show_id), headers=HX).get_data(as_text=True)
    assert 'aria-pressed="true"' in seat_button(html, world.seats["A1"])


def log_out_everywhere_in(app: Flask, user_id: int) -> None:
    with app.app_context():
        log_out_everywhere(user_id)


def test_a_quick_pick_and_its_checkout_are_one_transaction_each(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    """A booking in a rush: the pick's answer is read inside its write transaction, and
    checkout answers from the booking it made before the commit, with no read after it."""
    world = seed(app)
    log_in(client, world.customer_login)
    page = client.get(f"/shows/{world.show_id}").get_data(as_text=True)
    token = csrf_from(page)
    with watching(app) as seen:
        picked = client.post(
            f"/shows/{world.show_id}/quick-pick",
            data={"csrf_token": token, "count": "2"},
            headers=HX,
        )
    assert picked.status_code == 200 and "held for you" in picked.get_data(as_text=True)
    begins_per_pick = seen.begins
    with watching(app) as seen:
        paid = client.post(
            f"/shows/{world.show_id}/checkout",
            data={"csrf_token": token, "checkout_token": "rush-" + "x" * 20},
            headers=HX,
        )
    assert paid.status_code == 204 and paid.headers["HX-Redirect"].startswith("/bookings/")
    if backend == "postgresql":  # SQLite's writes start a BEGIN IMMEDIATE of their own
        assert (begins_per_pick, seen.begins) == (1, 1), seen.statements
