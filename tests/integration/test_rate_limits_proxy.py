"""Every per-address rate limit counts per real client behind a reverse proxy, in Redis.

The walk is driven by the limiter's own registry: a route that gets a limit and is not
taught to this test fails `test_every_limited_route_is_walked`, so the next limit is
covered the day it is written.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from filmsphere.extensions import limiter

from ..conftest import get_csrf
from ..factories import PASSWORD, make_user

# The limits don't depend on the database: one backend is enough.
pytestmark = pytest.mark.sqlite_only

LIMIT = 2
PROXY = "127.0.0.1"  # nginx on the same machine: every request's peer address
LIMIT_SETTINGS = ("LOGIN", "REGISTER", "VERIFY", "RESET", "HOLD", "TOPUP", "TRANSFER")

_names = itertools.count(1)


@dataclass(frozen=True)
class Route:
    path: str
    data: Callable[[], dict[str, str]]
    signed_in: bool = False  # the route lets only signed-in users reach its limit


ROUTES: dict[str, Route] = {
    "auth.login": Route(
        # A new login name each time, so only the per-address limit can trip.
        "/auth/login",
        lambda: {"login": f"nobody{next(_names)}", "password": "Wrong-password-1"},
    ),
    "auth.register": Route("/auth/register", lambda: {"email": "not-an-address"}),
    "auth.verify": Route(
        "/auth/verify", lambda: {"email": f"x{next(_names)}@example.com", "code": "000000"}
    ),
    "auth.resend_verification": Route("/auth/verify/resend", lambda: {"email": "x@example.com"}),
    "auth.reset_request": Route("/auth/reset", lambda: {"email": "x@example.com"}),
    "auth.reset_password": Route("/auth/reset/not-a-token", lambda: {"password": "x"}),
    "auth.account": Route(
        "/account", lambda: {"current_password": "Wrong-1", "new_password": "x"}, signed_in=True
    ),
    "auth.change_email": Route(
        "/account/email",
        lambda: {"new_email": "x@example.com", "email_password": "Wrong-1"},
        signed_in=True,
    ),
    "auth.close_account": Route(
        "/account/close",
        lambda: {"close_password": "Wrong-1", "understood": "y"},
        signed_in=True,
    ),
    # Counted per user once signed in; a visitor's click counts against the address.
    "booking.toggle_seat": Route("/shows/1/seats/1", dict),
    "booking.quick_pick": Route("/shows/1/quick-pick", lambda: {"count": "2"}),
}
# Limits that only signed-in users ever reach, counted per user: no address involved.
PER_USER_ONLY = {
    "topup.start": "login_required runs first; counted per customer",
    "auth.create_api_token": "login_required runs first; tests/integration/test_api.py",
    "api.hold_seat": "counted per API token (test_api.py::test_rate_limit_is_per_token...)",
    "api.release_seat": "counted per API token, like hold_seat",
    "api.quick_pick": "counted per API token, like hold_seat (the hold limit)",
    "booking.waitlist_join": "verified_required runs first; counted per customer",
    "bookings.send_ticket": "login_required runs first; counted per customer",
}


def limited_endpoints(app: Flask) -> set[str]:
    registered = limiter.limit_manager._decorated_limits
    return {
        endpoint
        for endpoint, view in app.view_functions.items()
        if any(name.startswith(f"{view.__module__}.{view.__name__}.") for name in registered)
    }


@pytest.fixture(params=[1, 0], ids=["behind-1-proxy", "no-trusted-proxy"])
def proxies(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def app_overrides(redis_url: str, proxies: int) -> dict[str, Any]:
    return {
        "RATELIMIT_STORAGE_URI": redis_url,
        "PROXY_COUNT": proxies,
        **{f"RATELIMIT_{name}": f"{LIMIT} per minute" for name in LIMIT_SETTINGS},
    }


class Visitor:
    """A browser whose requests reach the app through nginx, which appends the address
    it saw to X-Forwarded-For (`$proxy_add_x_forwarded_for`)."""

    def __init__(self, app: Flask, address: str, forged: str = "") -> None:
        self.client: FlaskClient = app.test_client()
        self.address = address
        self.forged = forged  # what the client itself put in X-Forwarded-For
        self.token = get_csrf(self.client)

    def post(self, path: str, data: dict[str, str]) -> int:
        forwarded = f"{self.forged}, {self.address}" if self.forged else self.address
        response = self.client.post(
            path,
            data={**data, "csrf_token": self.token},
            environ_base={"REMOTE_ADDR": PROXY},
            headers={"X-Forwarded-For": forwarded},
        )
        return response.status_code

    def sign_in(self, app: Flask) -> None:
        with app.app_context():
            username = make_user().username
        status = self.post("/auth/login", {"login": username, "password": PASSWORD})
        assert status == 303
        self.token = get_csrf(self.client, "/account")


def visitor(app: Flask, route: Route, address: str, forged: str = "") -> Visitor:
    person = Visitor(app, address, forged)
    if route.signed_in:
        person.sign_in(app)
    return person


def use_up(person: Visitor, route: Route) -> None:
    statuses = [person.post(route.path, route.data()) for _ in range(LIMIT)]
    assert 429 not in statuses, statuses
    assert person.post(route.path, route.data()) == 429
    assert counted_in_redis(), "the limit was not counted in Redis"


def counted_in_redis() -> bool:
    storage = limiter.storage
    return (
        type(storage).__name__ == "RedisStorage"
        and not limiter._storage_dead  # noqa: SLF001 - not counting in the fallback
        and bool(storage.storage.keys("LIMITS*"))  # type: ignore[attr-defined]
    )


def test_every_limited_route_is_walked(backend: str, app: Flask, proxies: int) -> None:
    assert limited_endpoints(app) == set(ROUTES) | set(PER_USER_ONLY)


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_each_client_behind_the_proxy_has_its_own_bucket(
    backend: str, app: Flask, proxies: int, endpoint: str
) -> None:
    route = ROUTES[endpoint]
    first = visitor(app, route, "198.51.100.1")
    use_up(first, route)
    second = visitor(app, route, "198.51.100.2")
    if proxies:
        # Another customer behind the same nginx is not locked out by the first one.
        assert second.post(route.path, route.data()) != 429
    else:
        # Nothing trusted: the header is the client's word and the proxy is the client.
        assert second.post(route.path, route.data()) == 429


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_a_forged_forwarded_for_does_not_buy_a_new_bucket(
    backend: str, app: Flask, proxies: int, endpoint: str
) -> None:
    route = ROUTES[endpoint]
    forger = visitor(app, route, "198.51.100.7")
    statuses = []
    for n in range(LIMIT + 1):
        forger.forged = f"203.0.113.{n + 1}"  # a new made-up address each time
        statuses.append(forger.post(route.path, route.data()))
    assert statuses[-1] == 429, statuses
