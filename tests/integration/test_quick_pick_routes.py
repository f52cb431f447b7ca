"""POST /shows/<id>/quick-pick over HTTP, both ways (htmx fragment and plain form + 303),
CSRF on, read from the page like a browser."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from filmsphere.extensions import db
from filmsphere.models import SeatHold, Show
from tests import factories
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
    # The answer carries the change: no event that would make the page fetch the grid.
    assert "HX-Trigger" not in response.headers
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
    # Free: A3, A6, B2 | B3 (an aisle between), C3 C4 — the most together is 2.
    reason = "No 3 seats together; the most together now is 2. Ask for 2, or pick seats on the map."
    body = htmx.get_data(as_text=True)
    assert reason in body
    assert body.lstrip().startswith('<section id="seat-grid"')
    assert 'data-largest-block="2" data-free-seats="6" data-held-seats="6"' in body
    assert "Retry-After" not in htmx.headers and "#waitlist" not in body  # seats are free
    plain = client.post(url, data=data)
    assert plain.status_code == 303 and plain.headers["Location"].endswith("#seat-grid")
    assert reason in page(client, f"/shows/{world.show_id}")
    assert _holds(app, world.customer_id) == 0


def _notice(body: str) -> str:
    found = re.search(r'<p class="grid-message[^"]*"[^>]*>.*?</p>', body, re.S)
    assert found, "no grid message"
    return found.group(0)


def test_every_seat_in_a_basket_says_when_to_ask_again_both_ways(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    with app.app_context():
        third = factories.make_user().id
    ordinary = ("A1", "A2", "A3", "A4", "A5", "A6", "B1", "B2", "B3", "B4", "C3", "C4")
    for n, label in enumerate(ordinary):  # two others: one customer may hold 10 at most
        hold(app, world.other_id if n % 2 else third, world.show_id, world.seats[label])
    log_in(client, world.customer_login)
    html = page(client, f"/shows/{world.show_id}")
    etag = re.search(r'<section id="seat-grid"[^>]*data-etag="([^"]+)"', html)
    assert etag is not None
    url = f"/shows/{world.show_id}/quick-pick"
    data = {"csrf_token": csrf_from(html), "count": "2"}
    # As the page sends it (the grid's ETag): a delta answer, the notice out of band.
    htmx = client.post(
        url, data=data, headers=HX | {"If-None-Match": etag.group(1).replace("&#34;", '"')}
    )
    assert htmx.status_code == 409 and htmx.headers["HX-Reswap"] == "none"
    assert htmx.headers["Retry-After"] == str(app.config["SEAT_POLL_SECONDS"])
    assert "HX-Request" in htmx.headers["Vary"]
    notice = _notice(htmx.get_data(as_text=True))
    assert 'data-largest-block="0" data-free-seats="0" data-held-seats="12"' in notice
    assert (
        "Every seat left is in someone&#39;s basket right now: seats may come back within "
        f"{app.config['HOLD_MINUTES']} minutes." in notice
    )
    assert f'<a href="/shows/{world.show_id}#waitlist">Join the waitlist</a>' in notice
    # Without JavaScript: back to the map at the waitlist, which offers a place.
    plain = client.post(url, data=data)
    assert plain.status_code == 303
    assert plain.headers["Location"].endswith(f"/shows/{world.show_id}#waitlist")
    shown = page(client, f"/shows/{world.show_id}")
    assert "in someone&#39;s basket right now" in shown
    assert "You can join the waitlist below." in shown and 'id="join-waitlist"' in shown
    assert _holds(app, world.customer_id) == 0


def test_sold_out_says_so_and_offers_the_waitlist_both_ways(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    with app.app_context():
        buyer = factories.make_user()
        show = db.session.get(Show, world.show_id)
        factories.make_booking(buyer, show, ("A1", "A2", "A3", "A4", "A5", "A6"))
        factories.make_booking(buyer, show, ("B1", "B2", "B3", "B4", "C3", "C4"))
        db.session.commit()
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    url = f"/shows/{world.show_id}/quick-pick"
    htmx = client.post(url, data={"csrf_token": token, "count": "1"}, headers=HX)
    assert htmx.status_code == 409 and "Retry-After" not in htmx.headers
    body = htmx.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="seat-grid"')  # no ETag sent: the grid
    notice = _notice(body)
    assert "Sold out: every seat of this show is sold." in notice
    assert 'data-largest-block="0" data-free-seats="0" data-held-seats="0"' in notice
    assert "Join the waitlist</a>" in notice
    plain = client.post(url, data={"csrf_token": token, "count": "1"})
    assert plain.status_code == 303 and plain.headers["Location"].endswith("#waitlist")
    shown = page(client, f"/shows/{world.show_id}")
    assert "Sold out: every seat of this show is sold. You can join the waitlist below." in shown
    assert "This show is sold out." in shown and 'id="join-waitlist"' in shown


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
    changed = re.findall(r'<button hx-swap-oob="true" id="seat-(\d+)"', body)
    assert sorted(map(int, changed)) == sorted([world.seats["C3"], world.seats["C4"]])
    assert "Seats C3, C4 held for you." in body
