"""The pages and the API give the same answers for the same state: a seat map, a refund
quote and a booking, read both ways by the same customer."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from filmsphere.extensions import db
from filmsphere.models import Show, User
from filmsphere.services.accounts.api_tokens import create_token
from filmsphere.services.booking.holds import toggle_hold
from filmsphere.wording import format_coins
from tests import factories as f

from .test_booking_routes import log_in
from .test_holds import seat_id

SEAT_BUTTON = re.compile(r'<button\b[^>]*\bid="seat-(\d+)"[^>]*>', re.S)


def seat_buttons(page: str) -> dict[int, dict[str, Any]]:
    """Each seat button's accessible name, pressed state and disabled flag."""
    seats = {}
    for match in SEAT_BUTTON.finditer(page):
        tag = match.group(0)
        label = re.search(r'aria-label="([^"]*)"', tag)
        pressed = re.search(r'aria-pressed="(true|false)"', tag)
        seats[int(match.group(1))] = {
            "name": html.unescape(label.group(1)) if label else None,
            "pressed": pressed is not None and pressed.group(1) == "true",
            "disabled": re.search(r"\sdisabled\b", tag) is not None,
        }
    return seats


def api(client: FlaskClient, path: str, secret: str) -> Any:
    response = client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_seat_map_quote_and_booking_read_the_same_both_ways(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        me = f.make_user(username="parity")
        other = f.make_user()
        show = f.make_show(price=10)
        toggle_hold(me.id, show.id, seat_id(show, "A1"), f.now())
        toggle_hold(other.id, show.id, seat_id(show, "A2"), f.now())
        paid_show = f.make_show(price=12)
        booking = f.make_booking(
            db.session.get(User, me.id),  # type: ignore[arg-type]
            db.session.get(Show, paid_show.id),  # type: ignore[arg-type]
            ("B1", "B2"),
        )
        reference, show_id = booking.reference, show.id
        secret = create_token(me.id, "parity", ["read"], f.now()).secret
    log_in(client, "parity")

    # The seat map: every seat's accessible name, mine pressed, others' disabled.
    web = seat_buttons(client.get(f"/shows/{show_id}").get_data(as_text=True))
    seats = [
        s
        for row in api(client, f"/shows/{show_id}/seats", secret)["rows"]
        for s in row["seats"]
        if s
    ]
    assert len(web) == len(seats) > 0
    for seat in seats:
        on_page = web[seat["id"]]
        assert on_page["name"] == seat["name"]
        assert on_page["pressed"] == (seat["state"] == "mine")
        assert on_page["disabled"] == (seat["state"] in ("taken", "broken"))
    assert {s["label"]: s["state"] for s in seats}["A2"] == "taken"

    # The refund quote for the whole booking.
    quote = api(client, f"/bookings/{reference}/refund-quote", secret)
    page = client.get(f"/bookings/{reference}/cancel").get_data(as_text=True)
    assert f"<strong>{format_coins(quote['refund_coins'])}</strong>" in page
    assert f"({quote['percent']}% refund)" in page

    # The booking: the same tickets, seats and signed codes.
    detail = api(client, f"/bookings/{reference}", secret)
    page = client.get(f"/bookings/{reference}").get_data(as_text=True)
    codes = re.findall(r'<code class="ticket-code">([^<]+)</code>', page)
    assert sorted(codes) == sorted(t["code"] for t in detail["tickets"])
    assert len(codes) == 2
