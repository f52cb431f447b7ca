"""A seat click sent with the grid's ETag is answered with only what changed: the clicked
seat, seats others changed meanwhile, the notice and the basket, all out of band."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import csrf_from

from .test_booking_routes import HX, hold, log_in, page, seed

GRID_ETAG = re.compile(r'<section id="seat-grid"[^>]*data-etag="([^"]+)"')


def _etag(html: str) -> str:
    match = GRID_ETAG.search(html)
    assert match, "no grid ETag"
    return match.group(1).replace("&#34;", '"')


def _oob_seats(body: str) -> set[int]:
    return {int(i) for i in re.findall(r'<button hx-swap-oob="true" id="seat-(\d+)"', body)}


def test_a_click_with_the_grid_etag_answers_only_what_changed(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    html = page(client, f"/shows/{world.show_id}")
    token, etag = csrf_from(html), _etag(html)
    url = f"/shows/{world.show_id}/seats/{world.seats['A3']}"

    response = client.post(url, data={"csrf_token": token}, headers=HX | {"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["HX-Reswap"] == "none"
    assert "HX-Request" in response.headers["Vary"]
    body = response.get_data(as_text=True)
    assert _oob_seats(body) == {world.seats["A3"]}
    assert 'id="seat-grid"' not in body  # the grid itself stays
    assert re.search(r'<div id="grid-notice"[^>]*hx-swap-oob="true"', body)
    assert "Seat A3 held for you." in body
    assert re.search(r'<section id="basket"[^>]*hx-swap-oob="true"', body)
    assert "Pay 10 coins" in body
    assert response.headers["ETag"] != etag

    # Someone else takes A5 meanwhile: the next click also redraws A5.
    hold(app, world.other_id, world.show_id, world.seats["A5"])
    url = f"/shows/{world.show_id}/seats/{world.seats['A4']}"
    headers = HX | {"If-None-Match": response.headers["ETag"]}
    second = client.post(url, data={"csrf_token": token}, headers=headers)
    assert second.status_code == 200
    body = second.get_data(as_text=True)
    assert _oob_seats(body) == {world.seats["A4"], world.seats["A5"]}
    a5 = re.search(rf'<button[^>]*id="seat-{world.seats["A5"]}"[^>]*>', body)
    assert a5 is not None and "disabled" in a5.group(0) and "is-taken" in a5.group(0)
    assert "Pay 20 coins" in body


def test_a_refused_click_answers_the_seat_and_the_reason(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    html = page(client, f"/shows/{world.show_id}")  # shows A2 free
    hold(app, world.other_id, world.show_id, world.seats["A2"])
    response = client.post(
        f"/shows/{world.show_id}/seats/{world.seats['A2']}",
        data={"csrf_token": csrf_from(html)},
        headers=HX | {"If-None-Match": _etag(html)},
    )
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert _oob_seats(body) == {world.seats["A2"]}
    assert "Sorry, seat A2 was just taken by someone else." in body


def test_without_an_etag_or_with_a_foreign_one_the_whole_grid_comes(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    url = f"/shows/{world.show_id}/seats/{world.seats['A1']}"
    for headers in (
        HX,
        HX | {"If-None-Match": 'W/"seats-0123.9-9.AA.AA"'},
        HX | {"If-None-Match": "*"},
    ):
        response = client.post(url, data={"csrf_token": token}, headers=headers)
        assert response.status_code == 200
        assert response.get_data(as_text=True).lstrip().startswith('<section id="seat-grid"')
        assert "HX-Reswap" not in response.headers


RUSH_ROW = "SSSS.SSSSSSSSSSSS.SSSS"
# The benchmarks' house (bench/booking_rush.py): five standard rows, four premium, one VIP.
RUSH_HOUSE = "\n".join(RUSH_ROW.replace("S", kind) for kind in "SSSSSPPPPV")


def busy_rush_show(app: Flask, held: int = 60) -> tuple[int, list[int]]:
    """The 200-seat rush house (10 rows of 20, two aisles) with others holding `held` seats,
    ten each: its show id and seat ids."""
    from filmsphere.extensions import db
    from filmsphere.models import Seat
    from tests import factories

    with app.app_context():
        show = factories.make_show(screen=factories.make_screen(RUSH_HOUSE))
        show_id = show.id
        seat_ids = list(
            db.session.scalars(db.select(Seat.id).where(Seat.screen_id == show.screen_id))
        )
        others = [factories.make_user().id for _ in range(held // 10)]
    assert len(seat_ids) == 200
    for n, seat in enumerate(seat_ids[:held]):
        hold(app, others[n // 10], show_id, seat)
    return show_id, seat_ids


def test_a_click_answer_on_a_200_seat_show_stays_under_10_kb(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    show_id, seat_ids = busy_rush_show(app)
    log_in(client, world.customer_login)
    html = page(client, f"/shows/{show_id}")
    response = client.post(
        f"/shows/{show_id}/seats/{seat_ids[100]}",
        data={"csrf_token": csrf_from(html)},
        headers=HX | {"If-None-Match": _etag(html)},
    )
    assert response.status_code == 200 and response.headers["HX-Reswap"] == "none"
    assert len(response.get_data()) < 10_000


def test_a_full_grid_of_a_200_seat_show_costs_under_150_bytes_a_seat(
    app: Flask, client: FlaskClient
) -> None:
    """A changed map's poll answer (grid + basket) for a customer holding a seat, on the
    map bench/hot_path.py measures (80 seats held by others): every seat drawn, under 150
    bytes a seat (was ~460)."""
    world = seed(app)
    show_id, seat_ids = busy_rush_show(app, held=80)
    log_in(client, world.customer_login)
    hold(app, world.customer_id, show_id, seat_ids[100])
    response = client.get(f"/shows/{show_id}/seats", headers=HX)
    assert response.status_code == 200
    grid = response.get_data(as_text=True)
    assert grid.count('<button id="seat-') == 200
    assert grid.count(' name="seat" value="') == 120 and 'aria-pressed="true"' in grid
    assert 'id="basket"' in grid and "seat-premium" in grid and "seat-vip" in grid
    assert len(response.get_data()) < 150 * 200
