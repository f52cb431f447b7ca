"""Seat clicks are rate limited per customer (in Redis): the 429 says so inside the grid."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_from

from .test_booking_routes import HX, log_in, page, seat_button, seed


@pytest.fixture
def app_overrides(redis_url: str) -> dict[str, Any]:
    return {"RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_HOLD": "3 per minute"}


def test_too_many_seat_clicks_get_a_clear_429(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    url = f"/shows/{world.show_id}/seats/{world.seats['A1']}"
    for _ in range(3):
        assert client.post(url, data={"csrf_token": token}, headers=HX).status_code == 200
    limited = client.post(url, data={"csrf_token": token}, headers=HX)
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 60  # the limit is per minute
    body = limited.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="seat-grid"')
    assert "clicking seats very fast" in body
    assert 'aria-pressed="true"' in seat_button(body, world.seats["A1"])  # third click held it

    plain = client.post(url, data={"csrf_token": token})
    assert plain.status_code == 429
    assert "clicking seats very fast" in plain.get_data(as_text=True)
