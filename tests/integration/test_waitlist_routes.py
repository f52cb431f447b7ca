"""Waitlist over HTTP with CSRF on, both ways: htmx gets the panel (with Vary), a plain
form post gets a 303 to the seat map; the offer shows on the seat map."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from filmsphere.extensions import db
from filmsphere.models import WaitlistEntry
from filmsphere.models.types import utcnow
from filmsphere.services.booking.cancellation import cancel_tickets
from tests import factories as f
from tests.conftest import csrf_from

from .test_booking_routes import HX, log_in, page
from .test_waitlist import sold_out


def seed(app: Flask) -> tuple[int, str, int, str, str]:
    with app.app_context():
        show, owner, refs = sold_out("A3 A4")
        customer = f.make_user()
        return show.id, customer.username, owner.id, owner.username, refs["A3 A4"]


def test_join_with_htmx_returns_the_panel(app: Flask, client: FlaskClient, backend: str) -> None:
    show_id, login, *_ = seed(app)
    log_in(client, login)
    seat_map = page(client, f"/shows/{show_id}")
    assert "This show is sold out." in seat_map and 'id="join-waitlist"' in seat_map
    token = csrf_from(seat_map)
    joined = client.post(
        f"/shows/{show_id}/waitlist",
        data={"csrf_token": token, "party_size": "2", "adjacent": "y"},
        headers=HX,
    )
    html = joined.get_data(as_text=True)
    assert joined.status_code == 200 and html.startswith('<section id="waitlist"')
    assert "HX-Request" in joined.headers.get("Vary", "")
    assert "You&#39;re on the waitlist for 2 seats together" in html
    assert "number 1 in line for 2 seats together" in html.replace("You&#39;re ", "")
    again = client.post(
        f"/shows/{show_id}/waitlist",
        data={"csrf_token": token, "party_size": "2"},
        headers=HX,
    )
    assert again.status_code == 409 and "already on the waitlist" in again.get_data(as_text=True)
    bad = client.post(
        f"/shows/{show_id}/waitlist", data={"csrf_token": token, "party_size": "11"}, headers=HX
    )
    assert bad.status_code == 422 and "1 to 10" in bad.get_data(as_text=True)
    left = client.post(f"/shows/{show_id}/waitlist/leave", data={"csrf_token": token}, headers=HX)
    assert left.status_code == 200 and "You left the waitlist." in left.get_data(as_text=True)


def test_join_and_leave_without_javascript(app: Flask, client: FlaskClient, backend: str) -> None:
    show_id, login, *_ = seed(app)
    log_in(client, login)
    token = csrf_from(page(client, f"/shows/{show_id}"))
    joined = client.post(
        f"/shows/{show_id}/waitlist", data={"csrf_token": token, "party_size": "1"}
    )
    assert joined.status_code == 303 and joined.location.endswith(f"/shows/{show_id}#waitlist")
    assert "number 1 in line for 1 seat." in page(client, f"/shows/{show_id}")
    left = client.post(f"/shows/{show_id}/waitlist/leave", data={"csrf_token": token})
    assert left.status_code == 303
    assert "You left the waitlist." in page(client, f"/shows/{show_id}")
    again = client.post(f"/shows/{show_id}/waitlist/leave", data={"csrf_token": token})
    assert again.status_code == 303
    assert "not on the waitlist" in page(client, f"/shows/{show_id}")
    # No CSRF token: refused, nothing joined.
    assert client.post(f"/shows/{show_id}/waitlist", data={"party_size": "1"}).status_code == 400


def test_the_offer_shows_on_the_seat_map_with_the_seats_in_the_basket(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    show_id, login, owner_id, _, reference = seed(app)
    log_in(client, login)
    token = csrf_from(page(client, f"/shows/{show_id}"))
    client.post(
        f"/shows/{show_id}/waitlist",
        data={"csrf_token": token, "party_size": "2", "adjacent": "y"},
    )
    with app.app_context():
        cancel_tickets(owner_id, reference, None, utcnow())
    seat_map = page(client, f"/shows/{show_id}")
    assert "Seats came back for you:</strong> A3, A4, held until" in seat_map
    assert "Pay 20 coins" in seat_map


def test_visitors_must_log_in_and_free_seats_are_picked_not_waited_for(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    with app.app_context():
        roomy = f.make_show().id
        login = f.make_user().username
    token = csrf_from(page(client, f"/shows/{roomy}"))
    anonymous = client.post(
        f"/shows/{roomy}/waitlist", data={"csrf_token": token, "party_size": "1"}
    )
    assert anonymous.status_code in (302, 303) and "/auth/login" in anonymous.location
    log_in(client, login)
    seat_map = page(client, f"/shows/{roomy}")
    assert 'id="join-waitlist"' not in seat_map  # plenty of seats: no waitlist offered
    token = csrf_from(seat_map)
    free = client.post(
        f"/shows/{roomy}/waitlist", data={"csrf_token": token, "party_size": "2"}, headers=HX
    )
    assert free.status_code == 409
    assert "pick them on the seat map" in free.get_data(as_text=True)


def test_a_customer_on_the_list_sees_their_place_when_seats_are_plenty(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    """The page reads the waitlist panel only when it shows: for a customer on the list
    whatever is free, else once few seats are left. A customer who joined a sold-out show
    still sees their place after many seats came back."""
    with app.app_context():
        roomy = f.make_show()
        customer, other = f.make_user(), f.make_user()
        db.session.add(
            WaitlistEntry(show_id=roomy.id, user_id=customer.id, party_size=3, adjacent=True)
        )
        db.session.commit()
        show_id, login, other_login = roomy.id, customer.username, other.username
    log_in(client, login)
    assert "number 1 in line for 3 seats together" in page(client, f"/shows/{show_id}")
    someone_else = app.test_client()
    log_in(someone_else, other_login)
    assert 'id="waitlist"' not in page(someone_else, f"/shows/{show_id}")  # not on it
