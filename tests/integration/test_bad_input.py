"""Bad input never produces a 500: huge ids, junk ids, on every route with an id."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from filmsphere.models import Role

from ..conftest import get_csrf
from ..factories import PASSWORD, make_user

HUGE = "9" * 30


def _log_in(client: FlaskClient, username: str) -> None:
    token = get_csrf(client, "/auth/login")
    response = client.post(
        "/auth/login", data={"login": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303


def _urls_with_ids(app: Flask) -> list[tuple[str, str]]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "int:" not in str(rule.rule) and "<int" not in rule.rule:
            continue
        path = re.sub(r"<int:[^>]+>", HUGE, rule.rule)
        path = re.sub(r"<[^>]+>", "x", path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            urls.append((method, path))
    return urls


def test_huge_ids_are_404_never_500(backend: str, app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        username = make_user(Role.ADMIN).username
    _log_in(client, username)
    token = get_csrf(client, "/")
    urls = _urls_with_ids(app)
    assert len(urls) > 15
    for method, path in urls:
        response = client.open(path, method=method, data={"csrf_token": token})
        assert response.status_code in (404, 405), (method, path, response.status_code)


def test_huge_numbers_in_query_strings_are_refused_cleanly(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        username = make_user(Role.ADMIN).username
    _log_in(client, username)
    for path in (f"/admin/bookings?show={HUGE}", f"/movies?page={HUGE}", f"/wallet?page={HUGE}"):
        response = client.get(path)
        assert response.status_code < 500, (path, response.status_code)
