"""POST /shows/<id>/quick-pick over HTTP, both ways (htmx fragment and plain form + 303),
CSRF on, read from the page like a browser."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from filmsphere.extensions import db
from filmsphere.models import SeatHold
from tests.conftest import csrf_from

from .test_booking_routes import HX, hold, log_in, page, seat_button, seed


def _holds(app: Flask, user_id: int) -> int:
    with app.app_context():
        return int(
            db.session.scalar(
                select(func.count()).select_from(SeatHold).where(SeatHold.user_id == user_id)
            )
            or 0
        )


def test_the_seat_map_offers_quick_pick_to_customers_only(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    assert 'id="quick-pick"' not in page(client, f"/shows/{world.show_id}")  # a visitor
    log_in(client, world.customer_login)
    html = page(client, f"/shows/{world.show_id}")
    form = re.search(r'<form id="quick-pick"[^>]*>', html)
    assert form is not None
    url = f"/shows/{world.show_id}/quick-pick"
    assert f'action="{url}"' in form.group(0) and f'hx-post="{url}"' in form.group(0)
    assert 'hx-target="#seat-grid"' in form.group(0)
    assert (
        '<label for="quick-pick-count">Number of seats</label>' in html
        and '<option value="wheelchair">' in html
    )


def test_quick_pick_with_htmx_answers_the_grid_with_the_seats_held(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)  # SMALL_LAYOUT: A six standard, B 2 + 2 premium, C W C S S C W
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    response = client.post(
        f"/shows/{world.show_id}/quick-pick",
        data={"csrf_token": token, "count": "2", "category": ""},
        headers=HX,
    )
    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    assert "seats-changed" in response.headers["HX-Trigger"]
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="seat-grid"')
    # Rows A–C: the sweet spot is a third of a row in front of C, in the middle of the
    # row; row B has an aisle there, so C3–C4 (between the wheelchair places) win.
    for label in ("C3", "C4"):
        assert 'aria-pressed="true"' in seat_button(body, world.seats[label])
    assert "Seats C3, C4 held for you." in body
    assert re.search(r'<section id="basket"[^>]*hx-swap-oob="true"', body)
    assert "Pay 20 coins" in body
    assert _holds(app, world.customer_id) == 2


def test_quick_pick_without_js_is_a_303_back_to_the_map_with_a_flash(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    response = client.post(
        f"/shows/{world.show_id}/quick-pick",
        data={"csrf_token": token, "count": "2", "category": "wheelchair"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/shows/{world.show_id}#seat-grid")
    html = page(client, f"/shows/{world.show_id}")
    assert "Seats C1, C2 held for you." in html
    assert 'aria-pressed="true"' in seat_button(html, world.seats["C1"])
    assert 'aria-pressed="true"' in seat_button(html, world.seats["C2"])


def test_no_block_is_a_409_with_the_reason_both_ways(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    for label in ("A1", "A2", "A4", "A5", "B1", "B4"):
        hold(app, world.other_id, world.show_id, world.seats[label])
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    url = f"/shows/{world.show_id}/quick-pick"
    data = {"csrf_token": token, "count": "3"}
    htmx = client.post(url, data=data, headers=HX)
    assert htmx.status_code == 409
    reason = "There aren&#39;t 3 seats together. Try fewer seats, or pick seats on the map."
    assert reason in htmx.get_data(as_text=True)
    assert htmx.get_data(as_text=True).lstrip().startswith('<section id="seat-grid"')
    plain = client.post(url, data=data)
    assert plain.status_code == 303
    assert reason in page(client, f"/shows/{world.show_id}")
    assert _holds(app, world.customer_id) == 0


def test_a_bad_count_or_kind_is_a_422_with_a_clear_message(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    url = f"/shows/{world.show_id}/quick-pick"
    for data, message in (
        ({"count": "11"}, "Choose 1 to 10 seats."),
        ({"count": "two"}, "Choose 1 to 10 seats."),
        ({"count": "2", "category": "balcony"}, "Choose a kind of seat from the list."),
    ):
        response = client.post(url, data={"csrf_token": token, **data}, headers=HX)
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), data
    assert _holds(app, world.customer_id) == 0


def test_quick_pick_needs_the_csrf_token_and_a_log_in(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    url = f"/shows/{world.show_id}/quick-pick"
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    visitor = client.post(url, data={"csrf_token": token, "count": "2"})
    assert visitor.status_code in (302, 303) and "/auth/login" in visitor.headers["Location"]
    log_in(client, world.customer_login)
    refused = client.post(url, data={"count": "2"}, headers=HX)
    assert refused.status_code == 400
    assert client.post("/shows/999999/quick-pick", data={"count": "2"}).status_code == 400
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    assert (
        client.post(
            "/shows/999999/quick-pick", data={"csrf_token": token, "count": "2"}
        ).status_code
        == 404
    )
    assert _holds(app, world.customer_id) == 0


def test_quick_pick_with_the_grid_etag_answers_only_the_changed_seats(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    html = page(client, f"/shows/{world.show_id}")
    etag = re.search(r'<section id="seat-grid"[^>]*data-etag="([^"]+)"', html)
    assert etag is not None
    response = client.post(
        f"/shows/{world.show_id}/quick-pick",
        data={"csrf_token": csrf_from(html), "count": "2"},
        headers=HX | {"If-None-Match": etag.group(1).replace("&#34;", '"')},
    )
    assert response.status_code == 200 and response.headers["HX-Reswap"] == "none"
    body = response.get_data(as_text=True)
    changed = re.findall(r'<button hx-swap-oob="true" type="submit" id="seat-(\d+)"', body)
    assert sorted(map(int, changed)) == sorted([world.seats["C3"], world.seats["C4"]])
    assert "Seats C3, C4 held for you." in body
