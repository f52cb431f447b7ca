"""Waitlist joins are rate limited per customer (in Redis): joining and leaving over and
over can't churn the queue."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_from

from .test_booking_routes import HX, log_in, page
from .test_waitlist_routes import seed


@pytest.fixture
def app_overrides(redis_url: str) -> dict[str, Any]:
    return {"RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_WAITLIST": "2 per minute"}


def test_too_many_joins_get_a_429(app: Flask, client: FlaskClient, backend: str) -> None:
    show_id, login, *_ = seed(app)
    log_in(client, login)
    token = csrf_from(page(client, f"/shows/{show_id}"))
    join = {"csrf_token": token, "party_size": "1"}
    for _ in range(2):
        assert client.post(f"/shows/{show_id}/waitlist", data=join, headers=HX).status_code == 200
        leave = client.post(f"/shows/{show_id}/waitlist/leave", data={"csrf_token": token})
        assert leave.status_code == 303
    limited = client.post(f"/shows/{show_id}/waitlist", data=join, headers=HX)
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60
