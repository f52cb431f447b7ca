"""PostgreSQL stopped and started under a running app: every route answers 503 with
Retry-After (never a 500) while it is down, a request cut off mid-transaction changes
nothing, and the app recovers by itself once the database is back.

The tests run on a throwaway cluster of their own (they stop it), with the production
engine options and idle-connection ping (pool.py) and exceptions handled as in production.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from filmsphere.config import Config
from filmsphere.extensions import db
from filmsphere.models import (
    AuditEntry,
    Booking,
    LedgerEntry,
    OutboxMessage,
    Role,
    Seat,
    SeatHold,
    Wallet,
)
from filmsphere.services.booking.holds import toggle_hold
from filmsphere.services.transaction import set_race_hook
from tests import factories

from ..conftest import assert_ledger_balanced, csrf_from, make_app
from ..support.postgres import Cluster
from .test_admin_support import sign_in


@pytest.fixture
def app(own_postgres: tuple[Cluster, str], restartable: Cluster, tmp_path: Path) -> Iterator[Flask]:
    _, url = own_postgres
    app = make_app(
        url,
        tmp_path,
        SQLALCHEMY_ENGINE_OPTIONS=Config().SQLALCHEMY_ENGINE_OPTIONS,  # production's pool
        PROPAGATE_EXCEPTIONS=False,  # an unhandled error is a 500 page, as in production
    )
    yield app
    if not restartable.running:
        restartable.start()
    with app.app_context():
        assert_ledger_balanced()
        db.session.remove()
        db.engine.dispose()


@dataclass
class World:
    admin_id: int
    customer_id: int
    show_id: int
    seat_ids: dict[str, int]
    reference: str


def seed(app: Flask) -> World:
    with app.app_context():
        admin = factories.make_user(Role.ADMIN)
        customer = factories.make_user(coins=100)
        show = factories.make_show(price=10)
        booking = factories.make_booking(customer, show, ("A1",))
        seats = db.session.scalars(select(Seat).where(Seat.screen_id == show.screen_id))
        return World(
            admin.id, customer.id, show.id, {s.label: s.id for s in seats}, booking.reference
        )


def client_for(app: Flask, user_id: int | None) -> FlaskClient:
    client = app.test_client()
    if user_id is not None:
        sign_in(client, app, user_id)
    return client


def url_args(world: World, rule: Any) -> dict[str, Any]:
    known = {
        "show_id": world.show_id,
        "seat_id": world.seat_ids["A2"],
        "reference": world.reference,
        "user_id": world.customer_id,
        "key": "revenue-by-day",
        "token": "not-a-token",
        "filename": "css/app.css",
    }
    return {name: known.get(name, 1) for name in rule.arguments}


def outage_failures(
    app: Flask, world: World, clients: dict[str, FlaskClient], tokens: dict[str, str]
) -> list[str]:
    """Every route and method, as each role, plain and htmx, while the database is down:
    the answers that break the rule (5xx other than a proper 503)."""
    failures: list[str] = []
    unavailable = 0
    for role, client in clients.items():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                with app.test_request_context():
                    url = app.url_for(rule.endpoint, **url_args(world, rule))
                for htmx in (False, True):
                    response = client.open(
                        url,
                        method=method,
                        data={"csrf_token": tokens[role]} if method == "POST" else None,
                        headers={"HX-Request": "true"} if htmx else {},
                    )
                    status = response.status_code
                    label = f"{role:8} {method:4} {rule.rule} {'htmx' if htmx else 'page'}"
                    body = response.get_data(as_text=True)
                    if status == 503:
                        unavailable += 1
                        if "Retry-After" not in response.headers:
                            failures.append(f"{label}: 503 without Retry-After")
                        elif rule.endpoint == "public.healthz":
                            pass  # JSON for machines
                        elif htmx and (
                            response.headers.get("HX-Reswap") != "none"
                            or 'hx-swap-oob="true"' not in body
                        ):
                            failures.append(f"{label}: 503 without the out-of-band notice")
                        elif not htmx and "Back in a moment" not in body:
                            failures.append(f"{label}: 503 without the friendly page")
                    elif status >= 500:
                        failures.append(f"{label}: {status}")
    assert unavailable > 100, "the walk must really reach routes that need the database"
    return failures


def test_every_route_answers_503_with_retry_after_while_the_database_is_down(
    app: Flask, restartable: Cluster
) -> None:
    world = seed(app)
    clients = {
        "visitor": client_for(app, None),
        "customer": client_for(app, world.customer_id),
        "admin": client_for(app, world.admin_id),
    }
    tokens = {role: csrf_from(c.get("/").get_data(as_text=True)) for role, c in clients.items()}
    restartable.halt()
    failures = outage_failures(app, world, clients, tokens)
    assert failures == [], "\n".join(failures)

    # The page a customer sees: friendly, no stack trace, no account links, not cached.
    response = clients["customer"].get("/wallet")
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.headers["Cache-Control"] == "no-store"
    assert "try again in a few seconds" in html and "Traceback" not in html
    assert 'href="/wallet"' in html  # "Try again"
    assert "Log out" not in html and "Log in" not in html
    grid = clients["customer"].get(f"/shows/{world.show_id}/seats", headers={"HX-Request": "true"})
    assert grid.status_code == 503 and grid.headers["HX-Reswap"] == "none"
    assert grid.get_data(as_text=True).lstrip().startswith('<div id="flashes"')

    restartable.start()
    # Back by itself: the first request of each client after the restart succeeds.
    assert clients["visitor"].get("/").status_code == 200
    assert clients["customer"].get("/wallet").status_code == 200
    assert clients["admin"].get("/admin/").status_code == 200
    assert clients["visitor"].get("/healthz").status_code == 200


# --- a request cut off mid-transaction -------------------------------------------------------


def _state(app: Flask, world: World) -> dict[str, Any]:
    """What a half-done change would show: money, holds, bookings, mail, audit."""
    with app.app_context():
        session = db.session
        return {
            "balance": session.scalar(
                select(Wallet.balance_coins).where(Wallet.user_id == world.customer_id)
            ),
            "ledger": session.scalar(select(func.count()).select_from(LedgerEntry)),
            "holds": session.scalar(select(func.count()).select_from(SeatHold)),
            "bookings": session.scalar(select(func.count()).select_from(Booking)),
            "outbox": session.scalar(select(func.count()).select_from(OutboxMessage)),
            "audit": session.scalar(select(func.count()).select_from(AuditEntry)),
        }


def _checkout(app: Flask, world: World, client: FlaskClient) -> Callable[[], Any]:
    with app.app_context():
        toggle_hold(world.customer_id, world.show_id, world.seat_ids["A2"], factories.now())
    html = client.get(f"/shows/{world.show_id}").get_data(as_text=True)
    match = re.search(r'name="checkout_token" value="([^"]+)"', html)
    assert match, "the basket has a Pay button"
    form = {"csrf_token": csrf_from(html), "checkout_token": match.group(1)}
    return lambda: client.post(f"/shows/{world.show_id}/checkout", data=form)


def _hold(app: Flask, world: World, client: FlaskClient) -> Callable[[], Any]:
    token = csrf_from(client.get(f"/shows/{world.show_id}").get_data(as_text=True))
    seat = world.seat_ids["A3"]
    return lambda: client.post(f"/shows/{world.show_id}/seats/{seat}", data={"csrf_token": token})


def _coins(app: Flask, world: World, client: FlaskClient) -> Callable[[], Any]:
    sign_in(client, app, world.admin_id)
    token = csrf_from(client.get("/admin/").get_data(as_text=True))
    form = {"csrf_token": token, "amount_coins": "25", "reason": "goodwill"}
    return lambda: client.post(f"/admin/users/{world.customer_id}/coins", data=form)


FLOWS = {
    # flow: (how to prepare it, the race point inside its transaction, what it changes)
    "checkout": (_checkout, "checkout.before_charge", {"balance": -10, "bookings": 1}),
    "hold": (_hold, "holds.before_insert", {"holds": 1}),
    "admin coins": (_coins, "wallet.before_write", {"balance": 25, "audit": 1}),
}


@pytest.mark.parametrize("flow", list(FLOWS))
def test_a_request_cut_off_by_a_restart_changes_nothing_and_works_after(
    app: Flask, restartable: Cluster, flow: str
) -> None:
    prepare, point, effect = FLOWS[flow]
    world = seed(app)
    client = client_for(app, world.customer_id)
    send = prepare(app, world, client)
    before = _state(app, world)
    set_race_hook(point, restartable.halt)  # PostgreSQL goes down inside the transaction
    try:
        response = send()
    finally:
        set_race_hook(point, None)
    assert response.status_code == 503 and response.headers["Retry-After"]
    restartable.start()
    assert _state(app, world) == before  # nothing half done: not a row, not a coin

    again = send()  # the same form, sent again once the database is back
    assert again.status_code == 303, again.get_data(as_text=True)[:500]
    after = _state(app, world)
    changed = {key: after[key] - before[key] for key in after if after[key] != before[key]}
    for key, delta in effect.items():
        assert changed.pop(key) == delta, (key, changed)
    assert set(changed) <= {"ledger", "outbox", "holds"}  # the change's own rows


# --- the pool's liveness check ---------------------------------------------------------------


@pytest.mark.parametrize("ping_after_idle", [0, 3600])
def test_a_connection_left_idle_across_a_restart_is_replaced_before_use(
    own_postgres: tuple[Cluster, str], restartable: Cluster, tmp_path: Path, ping_after_idle: int
) -> None:
    """The database restarts while the app's pooled connection sits idle, and no request
    comes in meanwhile: the next one still succeeds, because a connection idle longer than
    DB_PING_AFTER_IDLE_SECONDS is pinged and replaced. The control (a threshold it hasn't
    reached) shows the check is what saves it: that request gets the 503."""
    app = make_app(
        own_postgres[1],
        tmp_path,
        SQLALCHEMY_ENGINE_OPTIONS=Config().SQLALCHEMY_ENGINE_OPTIONS,
        DB_PING_AFTER_IDLE_SECONDS=ping_after_idle,
        PROPAGATE_EXCEPTIONS=False,
    )
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # a pooled connection, now idle
    restartable.halt()
    restartable.start()
    expected = 200 if ping_after_idle == 0 else 503
    assert client.get("/healthz").status_code == expected
    assert client.get("/healthz").status_code == 200  # the pool recovers either way
    with app.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("ping_after_idle, pings_expected", [(3600, 0), (0, 4)])
def test_a_connection_used_a_moment_ago_is_not_pinged(
    own_postgres: tuple[Cluster, str], tmp_path: Path, ping_after_idle: int, pings_expected: int
) -> None:
    """Under load the check costs nothing: a connection back in the pool for less than the
    threshold goes out without a ping (pool_pre_ping sent one round trip per request). With
    a threshold of 0 every check-out of a used connection is pinged (the control)."""
    app = make_app(
        own_postgres[1],
        tmp_path,
        SQLALCHEMY_ENGINE_OPTIONS=Config().SQLALCHEMY_ENGINE_OPTIONS,
        DB_PING_AFTER_IDLE_SECONDS=ping_after_idle,
    )
    with app.app_context():
        dialect = db.engine.dialect
    pings: list[Any] = []
    ping = dialect.do_ping

    def counted_ping(connection: Any) -> bool:
        pings.append(connection)
        return ping(connection)

    dialect.do_ping = counted_ping  # type: ignore[method-assign]
    client = app.test_client()
    for _ in range(5):  # the first opens the connection: nothing to check
        assert client.get("/healthz").status_code == 200
    assert len(pings) == pings_expected
    with app.app_context():
        db.engine.dispose()
