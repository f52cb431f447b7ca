"""Rate limits on the account forms answer 429 with a clear message (page and htmx),
counted in a real Redis as in production."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ..conftest import get_csrf
from ..factories import PASSWORD, make_user

LIMIT_MESSAGE = "Too many attempts"


@pytest.fixture
def app_overrides(redis_url: str) -> dict[str, Any]:
    return {
        "RATELIMIT_STORAGE_URI": redis_url,
        "RATELIMIT_LOGIN": "3 per minute",
        "RATELIMIT_RESET": "2 per minute",
        "RATELIMIT_REGISTER": "2 per minute",
        "RATELIMIT_VERIFY": "2 per minute",
    }


def test_login_is_rate_limited(backend: str, app: Flask, client: FlaskClient) -> None:
    token = get_csrf(client, "/auth/login")
    data = {"login": "someone", "password": "Wrong-password-1", "csrf_token": token}
    statuses = [client.post("/auth/login", data=data).status_code for _ in range(3)]
    assert statuses == [422, 422, 422]
    limited = client.post("/auth/login", data=data)
    assert limited.status_code == 429
    body = limited.get_data(as_text=True)
    assert LIMIT_MESSAGE in body and "<html" in body  # a full page without htmx
    assert int(limited.headers["Retry-After"]) > 0

    partial = client.post("/auth/login", data=data, headers={"HX-Request": "true"})
    assert partial.status_code == 429
    fragment = partial.get_data(as_text=True)
    assert LIMIT_MESSAGE in fragment and 'id="error"' in fragment and "<html" not in fragment
    # GET still shows the form: only attempts are limited.
    assert client.get("/auth/login").status_code == 200


def test_failures_per_login_name_are_limited_across_addresses(backend: str, app: Flask) -> None:
    with app.app_context():
        make_user(username="target")
    for n in range(3):
        client = app.test_client()
        token = get_csrf(client, "/auth/login")
        response = client.post(
            "/auth/login",
            data={"login": "target", "password": f"Guess-{n}-wrong", "csrf_token": token},
            environ_base={"REMOTE_ADDR": f"10.0.0.{n + 1}"},
        )
        assert response.status_code == 422
    client = app.test_client()
    token = get_csrf(client, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"login": "TARGET", "password": PASSWORD, "csrf_token": token},
        environ_base={"REMOTE_ADDR": "10.0.0.99"},
    )
    assert response.status_code == 429


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/auth/reset", {"email": "x@example.com"}),
        ("/auth/register", {"email": "bad"}),
        ("/auth/verify", {"email": "x@example.com", "code": "123456"}),
    ],
)
def test_other_forms_are_rate_limited(
    backend: str, app: Flask, client: FlaskClient, path: str, data: dict[str, str]
) -> None:
    token = get_csrf(client, path)
    for _ in range(2):
        assert client.post(path, data={**data, "csrf_token": token}).status_code != 429
    response = client.post(path, data={**data, "csrf_token": token})
    assert response.status_code == 429
    assert LIMIT_MESSAGE in response.get_data(as_text=True)


def test_successful_log_ins_do_not_count(backend: str, app: Flask) -> None:
    with app.app_context():
        make_user(username="often")
    for _ in range(5):  # above the limit of 3
        client = app.test_client()
        token = get_csrf(client, "/auth/login")
        response = client.post(
            "/auth/login", data={"login": "often", "password": PASSWORD, "csrf_token": token}
        )
        assert response.status_code == 303
