"""Permission matrix: every /admin/ and /staff/ route and method × visitor, customer, staff
and admin. The routes are read from app.url_map, so new routes are covered automatically."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from werkzeug.routing import Rule

from filmsphere.models import Role
from tests import factories
from tests.conftest import csrf_from

from .test_admin_support import sign_in

PREFIXES = ("/admin/", "/staff/")
RANK = {"visitor": -1, "customer": 0, "staff": 1, "admin": 2}


def _needed(rule: Rule) -> int:
    return RANK["admin"] if rule.rule.startswith("/admin/") else RANK["staff"]


def _seed(app: Flask) -> dict[str, object]:
    with app.app_context():
        users = {
            role: factories.make_user(Role(role)).id for role in ("customer", "staff", "admin")
        }
        target = factories.make_user()  # the user admin POSTs act on
        show = factories.make_show(starts_in=timedelta(days=2))
        booking = factories.make_booking(target, show, ("A1",))
        return {
            "users": users,
            "args": {
                "movie_id": show.movie_id,
                "screen_id": show.screen_id,
                "show_id": show.id,
                "booking_id": booking.id,
                "user_id": target.id,
                "key": "revenue-by-day",
                "reference": booking.reference,
            },
        }


def _routes(app: Flask) -> list[tuple[Rule, str]]:
    pairs = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIXES) or rule.rule in ("/admin", "/staff"):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                pairs.append((rule, method))
    return sorted(pairs, key=lambda p: (p[0].rule, p[1]))


def matrix_failures(app: Flask, seeded: dict[str, object]) -> list[str]:
    """Every (role, route, method) whose answer breaks the rules, as readable lines."""
    routes = _routes(app)
    failures: list[str] = []
    for role in ("visitor", "customer", "staff", "admin"):
        client = app.test_client()
        if role != "visitor":
            sign_in(client, app, seeded["users"][role])  # type: ignore[index]
        csrf = csrf_from(client.get("/").get_data(as_text=True))
        for rule, method in routes:
            args = {name: seeded["args"].get(name, 1) for name in rule.arguments}  # type: ignore[attr-defined]
            with app.test_request_context():
                url = app.url_for(rule.endpoint, **args)
            response = client.open(
                url, method=method, data={"csrf_token": csrf} if method == "POST" else None
            )
            status = response.status_code
            label = f"{role:8} {method:4} {rule.rule} -> {status}"
            if role == "visitor":
                if status != 302 or "/auth/login" not in response.headers.get("Location", ""):
                    failures.append(label + " (expected a redirect to log in)")
            elif RANK[role] < _needed(rule):
                if status != 403:
                    failures.append(label + " (expected 403)")
            elif status in (401, 403) or status >= 500:
                failures.append(label + " (expected the page or a validation answer)")
    return failures


def test_every_admin_and_staff_route_checks_the_role(backend, app):
    seeded = _seed(app)
    routes = _routes(app)
    # The matrix must really cover the areas (a broken enumeration would pass vacuously).
    assert any(r.endpoint == "admin.dashboard" for r, _ in routes)
    assert any(r.endpoint == "admin.user_coins" for r, _ in routes)
    assert any(r.rule.startswith("/staff/") for r, _ in routes)
    failures = matrix_failures(app, seeded)
    assert failures == [], "\n".join(failures)


def test_matrix_catches_an_unprotected_route(app):
    """Negative control: a new admin route without the decorator is reported at once."""
    app.add_url_rule("/admin/zz-forgotten", "zz_forgotten", lambda: "secret numbers")
    failures = matrix_failures(app, _seed(app))
    assert [f.split(" -> ")[0].split() for f in failures] == [
        ["visitor", "GET", "/admin/zz-forgotten"],
        ["customer", "GET", "/admin/zz-forgotten"],
        ["staff", "GET", "/admin/zz-forgotten"],
    ]


JUNK_FORM = {
    "title": "x" * 5000,
    "duration_minutes": "abc",
    "age_rating": "",
    "start_date": "9999-12-31",
    "start_time": "25:99",
    "movie_id": "abc",
    "screen_id": "-1",
    "base_price_coins": "1e9",
    "amount_coins": "999999999999",
    "reason": "r" * 1000,
    "role": "god",
    "layout": "Q" * 2000,
    "rows": "1000000",
    "columns": "-5",
    "cell": "a-b",
    "name": "n" * 100,
    "poster": "not a file",
    "genres": ["<script>"],
}
JUNK_QUERY = "?from=9999-12-31&to=0001-01-01&page=-4&week=9999-12-31&screen=abc&show=x&date=99"


def test_admin_routes_answer_junk_without_a_500(backend, app):
    """Bad input gets a clear 4xx, never a server error, on every admin route."""
    seeded = _seed(app)
    client = app.test_client()
    sign_in(client, app, seeded["users"]["admin"])  # type: ignore[index]
    csrf = csrf_from(client.get("/").get_data(as_text=True))
    failures = []
    for rule, method in _routes(app):
        if not rule.rule.startswith("/admin/"):
            continue
        args = {name: seeded["args"].get(name, 1) for name in rule.arguments}  # type: ignore[attr-defined]
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **args)
        if method == "POST":
            response = client.post(url, data={"csrf_token": csrf} | JUNK_FORM)
        else:
            response = client.get(url + JUNK_QUERY)
        if response.status_code >= 500:
            failures.append(f"{method} {url} -> {response.status_code}")
    assert failures == []
