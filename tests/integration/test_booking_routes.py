"""Booking pages over HTTP, both ways: htmx fragments and plain forms with 303s, CSRF on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from filmsphere.extensions import db
from filmsphere.models import Booking, LedgerEntry, LedgerKind, Seat, Wallet
from filmsphere.services.booking.holds import toggle_hold
from tests import factories
from tests.conftest import csrf_from, get_csrf

HX = {"HX-Request": "true"}


@dataclass
class World:
    customer_id: int
    customer_login: str
    other_id: int
    other_login: str
    show_id: int
    seats: dict[str, int]  # label -> seat id


def seed(app: Flask, *, coins: int = 1500, verified: bool = True) -> World:
    with app.app_context():
        customer = factories.make_user(coins=coins, verified=verified)
        other = factories.make_user()
        show = factories.make_show(price=10)
        seats = {
            s.label: s.id
            for s in db.session.scalars(select(Seat).where(Seat.screen_id == show.screen_id))
        }
        return World(customer.id, customer.username, other.id, other.username, show.id, seats)


def log_in(client: FlaskClient, login: str) -> None:
    token = get_csrf(client, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"csrf_token": token, "login": login, "password": factories.PASSWORD},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]


def page(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def seat_button(html: str, seat_id: int) -> str:
    match = re.search(rf'<button[^>]*id="seat-{seat_id}"[^>]*>', html)
    assert match, f"seat {seat_id} not rendered"
    return match.group(0)


def checkout_token(html: str) -> str:
    match = re.search(r'name="checkout_token" value="([^"]+)"', html)
    assert match, "no checkout form"
    return match.group(1)


def balance(app: Flask, user_id: int) -> int:
    with app.app_context():
        return int(db.session.scalar(select(Wallet.balance_coins).where(Wallet.user_id == user_id)))


def hold(app: Flask, user_id: int, show_id: int, seat_id: int) -> None:
    with app.app_context():
        toggle_hold(user_id, show_id, seat_id, factories.now())


# --- seat map page ---------------------------------------------------------------------


def test_visitor_sees_read_only_map_with_prices_and_login_prompt(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    html = page(client, f"/shows/{world.show_id}")
    assert f'href="/auth/login?next=/shows/{world.show_id}"' in html
    button = seat_button(html, world.seats["B1"])
    assert 'aria-label="Row B, seat 1, premium"' in button
    assert "disabled" in button and "hx-post" not in button and "aria-pressed" not in button
    assert ">Screen<" in html
    assert re.search(r"Premium <strong>15 coins</strong>", html)
    assert 'id="basket"' not in html


def test_customer_sees_toggle_buttons_and_empty_basket(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    html = page(client, f"/shows/{world.show_id}")
    button = seat_button(html, world.seats["A1"])
    assert 'aria-pressed="false"' in button and "disabled" not in button
    assert f'name="seat" value="{world.seats["A1"]}"' in button
    # The grid's one form posts the seat clicked, with and without htmx.
    form = re.search(r'<form [^>]*class="seat-form"[^>]*>', html)
    assert form, "no seat form"
    url = f"/shows/{world.show_id}/seats"
    assert f'action="{url}"' in form.group(0) and f'hx-post="{url}"' in form.group(0)
    assert 'hx-target="#seat-grid"' in form.group(0) and 'hx-swap="outerHTML"' in form.group(0)
    assert "No seats held yet" in html and "1,500 coins" in html


def test_unknown_show_is_404(app: Flask, client: FlaskClient) -> None:
    assert client.get("/shows/999999").status_code == 404


# --- holding seats ---------------------------------------------------------------------


def test_toggle_with_htmx_returns_grid_and_basket_out_of_band(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    url = f"/shows/{world.show_id}/seats/{world.seats['B1']}"

    response = client.post(url, data={"csrf_token": token}, headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="seat-grid"')
    assert 'aria-pressed="true"' in seat_button(body, world.seats["B1"])
    assert re.search(r'<section id="basket"[^>]*hx-swap-oob="true"', body)
    assert "Pay 15 coins" in body and "Seats held until" in body
    assert "seats-changed" in response.headers["HX-Trigger"]
    assert "HX-Request" in response.headers["Vary"]
    assert "Seat B1 held for you." in body  # announced to screen readers

    again = client.post(url, data={"csrf_token": token}, headers=HX)
    assert again.status_code == 200
    assert 'aria-pressed="false"' in seat_button(again.get_data(as_text=True), world.seats["B1"])
    assert "Seat B1 released." in again.get_data(as_text=True)


def test_toggle_without_js_redirects_back_with_a_flash(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    response = client.post(
        f"/shows/{world.show_id}/seats/{world.seats['A2']}", data={"csrf_token": token}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == f"/shows/{world.show_id}#seat-grid"
    html = page(client, f"/shows/{world.show_id}")
    assert "Seat A2 held for you." in html
    assert 'aria-pressed="true"' in seat_button(html, world.seats["A2"])
    assert "Row A, seat 2" in html.split('id="basket"')[1]


def test_the_grid_form_posts_the_seat_clicked_both_ways(app: Flask, client: FlaskClient) -> None:
    """The seat map's one form (POST /shows/<id>/seats, the seat as `seat`): a plain post
    is a 303 back, an htmx one the grid and basket; no seat named is a 400, not a 500."""
    world = seed(app)
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    url = f"/shows/{world.show_id}/seats"

    plain = client.post(url, data={"csrf_token": token, "seat": world.seats["A2"]})
    assert plain.status_code == 303
    assert plain.headers["Location"] == f"/shows/{world.show_id}#seat-grid"
    html = page(client, f"/shows/{world.show_id}")
    assert "Seat A2 held for you." in html
    assert 'aria-pressed="true"' in seat_button(html, world.seats["A2"])

    htmx = client.post(url, data={"csrf_token": token, "seat": world.seats["B1"]}, headers=HX)
    assert htmx.status_code == 200 and "HX-Request" in htmx.headers["Vary"]
    body = htmx.get_data(as_text=True)
    assert 'aria-pressed="true"' in seat_button(body, world.seats["B1"])
    assert "Seat B1 held for you." in body

    for seat in (None, "B1", "0", str(2**31)):
        data = {"csrf_token": token} | ({"seat": seat} if seat else {})
        refused = client.post(url, data=data)
        assert refused.status_code == 400
        assert "Choose a seat on the seat map." in refused.get_data(as_text=True)
    assert client.post(url, data={"csrf_token": token, "seat": "999999"}).status_code == 404


def test_seat_someone_else_holds_is_409_with_the_grid_redrawn(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))  # the page still shows A3 free
    hold(app, world.other_id, world.show_id, world.seats["A3"])
    url = f"/shows/{world.show_id}/seats/{world.seats['A3']}"

    response = client.post(url, data={"csrf_token": token}, headers=HX)
    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="seat-grid"')
    hint = "“Best seats together” holds free seats side by side in one go."
    assert "was just taken by someone else" in body and hint in body
    button = seat_button(body, world.seats["A3"])
    assert "disabled" in button and "taken" in button

    plain = client.post(url, data={"csrf_token": token})
    assert plain.status_code == 303
    shown = page(client, f"/shows/{world.show_id}")
    assert "was just taken by someone else" in shown and hint in shown


def test_seat_rule_violation_is_422_inline(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    # C2 is a companion seat: only together with the wheelchair space beside it.
    response = client.post(
        f"/shows/{world.show_id}/seats/{world.seats['C2']}",
        data={"csrf_token": token},
        headers=HX,
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'class="grid-message grid-message-error"' in body
    assert 'aria-pressed="false"' in seat_button(body, world.seats["C2"])


def test_visitor_posting_is_sent_to_log_in(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    token = csrf_from(page(client, f"/shows/{world.show_id}"))
    url = f"/shows/{world.show_id}/seats/{world.seats['A1']}"
    plain = client.post(url, data={"csrf_token": token})
    assert plain.status_code in (302, 303)
    assert plain.headers["Location"].startswith("/auth/login?next=")
    htmx = client.post(url, data={"csrf_token": token}, headers=HX)
    assert htmx.status_code == 204
    assert htmx.headers["HX-Redirect"].startswith("/auth/login?next=")
    checkout = client.post(
        f"/shows/{world.show_id}/checkout", data={"csrf_token": token, "checkout_token": "x" * 20}
    )
    assert checkout.headers["Location"].startswith("/auth/login?next=")


def test_unverified_customer_is_sent_to_verify(app: Flask, client: FlaskClient) -> None:
    world = seed(app, verified=False)
    log_in(client, world.customer_login)
    html = page(client, f"/shows/{world.show_id}")
    assert "Verify your email address before booking" in html
    response = client.post(
        f"/shows/{world.show_id}/seats/{world.seats['A1']}", data={"csrf_token": csrf_from(html)}
    )
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/auth/verify")


def test_toggle_without_csrf_token_is_refused(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    response = client.post(f"/shows/{world.show_id}/seats/{world.seats['A1']}")
    assert response.status_code == 400
    assert 'aria-pressed="false"' in seat_button(
        page(client, f"/shows/{world.show_id}"), world.seats["A1"]
    )


# --- the polled grid fragment ------------------------------------------------------------


def test_grid_fragment_answers_304_while_nothing_changed(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    url = f"/shows/{world.show_id}/seats"
    first = client.get(url, headers=HX)
    assert first.status_code == 200
    assert first.get_data(as_text=True).lstrip().startswith('<section id="seat-grid"')
    assert "HX-Request" in first.headers["Vary"]
    cache = first.headers["Cache-Control"]
    assert "private" in cache and "no-cache" in cache
    etag = first.headers["ETag"]

    same = client.get(url, headers=HX | {"If-None-Match": etag})
    assert same.status_code == 304
    assert same.get_data() == b""

    hold(app, world.other_id, world.show_id, world.seats["A1"])  # someone else clicks
    changed = client.get(url, headers=HX | {"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert "taken" in seat_button(changed.get_data(as_text=True), world.seats["A1"])


def test_grid_fragment_without_htmx_goes_to_the_seat_map(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    response = client.get(f"/shows/{world.show_id}/seats")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/shows/{world.show_id}"


# --- checkout --------------------------------------------------------------------------


def _hold_two(app: Flask, world: World) -> None:
    hold(app, world.customer_id, world.show_id, world.seats["A1"])
    hold(app, world.customer_id, world.show_id, world.seats["B1"])


def test_checkout_with_htmx_redirects_to_the_booking_and_charges_once(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    _hold_two(app, world)
    html = page(client, f"/shows/{world.show_id}")
    assert "Pay 25 coins" in html
    data = {"csrf_token": csrf_from(html), "checkout_token": checkout_token(html)}

    response = client.post(f"/shows/{world.show_id}/checkout", data=data, headers=HX)
    assert response.status_code == 204
    target = response.headers["HX-Redirect"]
    assert re.fullmatch(r"/bookings/[A-Z0-9-]+", target)
    assert "HX-Request" in response.headers["Vary"]
    # A double click sends the same token: same booking, no second charge.
    again = client.post(f"/shows/{world.show_id}/checkout", data=data, headers=HX)
    assert again.headers["HX-Redirect"] == target
    assert balance(app, world.customer_id) == 1500 - 25
    with app.app_context():
        charges = db.session.scalar(
            select(func.count()).where(LedgerEntry.kind == LedgerKind.BOOKING_CHARGE)
        )
        assert charges == 1
    assert "Paid 25 coins — enjoy the film!" in page(client, "/bookings")


def test_checkout_without_js_is_a_303_to_the_booking(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    _hold_two(app, world)
    html = page(client, f"/shows/{world.show_id}")
    response = client.post(
        f"/shows/{world.show_id}/checkout",
        data={"csrf_token": csrf_from(html), "checkout_token": checkout_token(html)},
    )
    assert response.status_code == 303
    reference = response.headers["Location"].rsplit("/", 1)[1]
    with app.app_context():
        booking = db.session.scalars(select(Booking).where(Booking.reference == reference)).one()
        assert booking.user_id == world.customer_id and booking.total_coins == 25
    mine = page(client, "/bookings")
    assert reference in mine and "Paid 25 coins" in mine
    seat_html = page(client, f"/shows/{world.show_id}")
    assert "taken" in seat_button(seat_html, world.seats["A1"])  # sold now


def test_checkout_without_enough_coins_is_refused_inline(app: Flask, client: FlaskClient) -> None:
    world = seed(app, coins=20)
    log_in(client, world.customer_login)
    _hold_two(app, world)
    html = page(client, f"/shows/{world.show_id}")
    assert "You need 5 coins more" in html
    data = {"csrf_token": csrf_from(html), "checkout_token": checkout_token(html)}

    response = client.post(f"/shows/{world.show_id}/checkout", data=data, headers=HX)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="basket"')
    assert 'role="alert"' in body and "coins" in body
    assert re.search(r'<section id="seat-grid"[^>]*hx-swap-oob="true"', body)

    plain = client.post(f"/shows/{world.show_id}/checkout", data=data)
    assert plain.status_code == 303
    assert plain.headers["Location"] == f"/shows/{world.show_id}#basket"
    assert balance(app, world.customer_id) == 20


def test_checkout_with_nothing_held_says_so(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    html = page(client, f"/shows/{world.show_id}")
    response = client.post(
        f"/shows/{world.show_id}/checkout",
        data={"csrf_token": csrf_from(html), "checkout_token": "t" * 32},
        headers=HX,
    )
    assert response.status_code == 422
    assert "You have no seats held for this show." in response.get_data(as_text=True)


def test_checkout_after_the_hold_ran_out_is_refused(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    with app.app_context():
        toggle_hold(
            world.customer_id,
            world.show_id,
            world.seats["A1"],
            factories.now() - timedelta(minutes=11),
        )
    html = page(client, f"/shows/{world.show_id}")
    response = client.post(
        f"/shows/{world.show_id}/checkout",
        data={"csrf_token": csrf_from(html), "checkout_token": "e" * 32},
    )
    assert response.status_code == 303
    assert balance(app, world.customer_id) == 1500
    assert 'class="flash flash-error"' in page(client, f"/shows/{world.show_id}")


# --- my bookings and cancellation ------------------------------------------------------


def test_my_bookings_lists_upcoming_then_past_and_cancelled(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    with app.app_context():
        from filmsphere.models import User

        user = db.session.get(User, world.customer_id)
        upcoming = factories.make_booking(user, factories.make_show(), ("A1",))
        past_show = factories.make_show(starts_in=timedelta(days=-2))
        past = factories.make_booking(user, past_show, ("A2",))
        refs = (upcoming.reference, past.reference)
    log_in(client, world.customer_login)
    html = page(client, "/bookings")
    upcoming_part = html.split('id="bookings-upcoming"')[1].split('id="bookings-past"')[0]
    past_part = html.split('id="bookings-past"')[1]
    assert refs[0] in upcoming_part and f'href="/bookings/{refs[0]}"' in upcoming_part
    assert f'href="/bookings/{refs[0]}/cancel"' in upcoming_part
    assert refs[1] in past_part and f"/bookings/{refs[1]}/cancel" not in past_part


def _booking(app: Flask, world: World, labels: tuple[str, ...] = ("A1", "A2")) -> str:
    with app.app_context():
        from filmsphere.models import Show, User

        user = db.session.get(User, world.customer_id)
        show = db.session.get(Show, world.show_id)
        return factories.make_booking(user, show, labels).reference


def test_another_users_booking_is_404(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    reference = _booking(app, world)
    log_in(client, world.other_login)
    assert client.get(f"/bookings/{reference}/cancel").status_code == 404
    token = get_csrf(client, "/bookings")
    response = client.post(
        f"/bookings/{reference}/cancel",
        data={"csrf_token": token, "whole": "y", "confirm": "yes", "quoted": "all"},
    )
    assert response.status_code == 404
    assert client.get("/bookings/NOPE1234/cancel").status_code == 404


def test_cancel_shows_the_quote_first_then_refunds_once(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    reference = _booking(app, world)
    log_in(client, world.customer_login)
    url = f"/bookings/{reference}/cancel"
    html = page(client, url)
    assert "Refund quote" in html and "You get back <strong>20 coins</strong>" in html
    assert "Confirm cancellation" in html
    token = csrf_from(html)
    ticket_ids = re.findall(r'name="tickets" value="(\d+)"', html)
    assert len(ticket_ids) == 2

    # htmx: changing the selection refreshes only the quote.
    fragment = client.get(url, query_string={"tickets": ticket_ids[0]}, headers=HX)
    assert fragment.status_code == 200
    body = fragment.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="refund-quote"')
    assert "You get back <strong>10 coins</strong>" in body
    assert f'name="quoted" value="{ticket_ids[0]}:10"' in body

    # No JS: posting without confirm re-renders the form with the quote for that choice.
    review = client.post(url, data={"csrf_token": token, "tickets": ticket_ids[0]})
    assert review.status_code == 200
    review_html = review.get_data(as_text=True)
    assert "You get back <strong>10 coins</strong>" in review_html
    assert f'name="quoted" value="{ticket_ids[0]}:10"' in review_html
    assert balance(app, world.customer_id) == 1500 - 20

    data = {"csrf_token": token, "tickets": ticket_ids[0], "confirm": "yes"}
    data["quoted"] = f"{ticket_ids[0]}:10"
    done = client.post(url, data=data)
    assert done.status_code == 303
    assert done.headers["Location"] == f"/bookings/{reference}"
    assert balance(app, world.customer_id) == 1500 - 10
    twice = client.post(url, data=data)  # the same form again
    assert twice.status_code == 303
    assert balance(app, world.customer_id) == 1500 - 10
    assert "Refunded 10 coins for 1 ticket." in page(client, "/bookings")
    with app.app_context():
        refunds = db.session.scalar(
            select(func.count()).where(LedgerEntry.kind == LedgerKind.REFUND)
        )
        assert refunds == 1


def test_cancel_whole_booking_with_htmx_then_again(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    reference = _booking(app, world)
    log_in(client, world.customer_login)
    url = f"/bookings/{reference}/cancel"
    html = page(client, url)
    data = {"csrf_token": csrf_from(html), "whole": "y", "confirm": "yes", "quoted": "all:20"}
    response = client.post(url, data=data, headers=HX)
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/bookings/{reference}"
    assert balance(app, world.customer_id) == 1500
    again = client.post(url, data=data)
    assert again.status_code == 303
    assert balance(app, world.customer_id) == 1500
    listing = page(client, "/bookings")
    assert "already cancelled" in listing
    assert reference in listing.split('id="bookings-past"')[1]  # "Past and cancelled"


def test_confirm_with_a_stale_quote_asks_again(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    reference = _booking(app, world)
    log_in(client, world.customer_login)
    url = f"/bookings/{reference}/cancel"
    html = page(client, url)
    ticket_ids = re.findall(r'name="tickets" value="(\d+)"', html)
    response = client.post(
        url,
        data={
            "csrf_token": csrf_from(html),
            "tickets": ticket_ids[1],
            "confirm": "yes",
            "quoted": "all:20",  # the quote on screen was for the whole booking
        },
    )
    assert response.status_code == 200
    assert "check the new quote" in response.get_data(as_text=True)
    assert balance(app, world.customer_id) == 1500 - 20


def test_cancel_with_nothing_ticked_is_422(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    reference = _booking(app, world)
    log_in(client, world.customer_login)
    url = f"/bookings/{reference}/cancel"
    html = page(client, url)
    response = client.post(url, data={"csrf_token": csrf_from(html), "confirm": "yes"})
    assert response.status_code == 422
    assert "Tick the tickets to cancel" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/bookings", "/bookings/ABC/cancel"])
def test_booking_pages_need_a_login(app: Flask, client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/auth/login")


def test_a_get_on_a_post_address_goes_back_to_the_seat_map(app: Flask, client: FlaskClient) -> None:
    """After logging in, `next` may point at the seat or checkout address posted to."""
    world = seed(app)
    for path in (
        f"/shows/{world.show_id}/seats/{world.seats['A1']}",
        f"/shows/{world.show_id}/checkout",
    ):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["Location"] == f"/shows/{world.show_id}"


def test_holding_in_another_show_says_the_earlier_holds_were_released(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    with app.app_context():
        second = factories.make_show(price=10)
        second_id = second.id
        second_seat = db.session.scalars(
            select(Seat.id).where(Seat.screen_id == second.screen_id).order_by(Seat.id)
        ).first()
    hold(app, world.customer_id, world.show_id, world.seats["A1"])
    hold(app, world.customer_id, world.show_id, world.seats["A2"])
    log_in(client, world.customer_login)
    token = csrf_from(page(client, f"/shows/{second_id}"))
    response = client.post(
        f"/shows/{second_id}/seats/{second_seat}", data={"csrf_token": token}, headers=HX
    )
    assert response.status_code == 200
    assert "Your 2 held seats for another show were released" in response.get_data(as_text=True)
    assert 'aria-pressed="false"' in seat_button(
        page(client, f"/shows/{world.show_id}"), world.seats["A1"]
    )


def test_a_show_that_started_is_read_only_and_refuses_holds(
    app: Flask, client: FlaskClient
) -> None:
    world = seed(app)
    with app.app_context():
        started = factories.make_show(starts_in=timedelta(minutes=-5))
        started_id = started.id
        seat_id = db.session.scalars(
            select(Seat.id).where(Seat.screen_id == started.screen_id).order_by(Seat.id)
        ).first()
    log_in(client, world.customer_login)
    html = page(client, f"/shows/{started_id}")
    assert "already started" in html
    assert "disabled" in seat_button(html, seat_id) and "hx-post" not in html
    response = client.post(
        f"/shows/{started_id}/seats/{seat_id}", data={"csrf_token": csrf_from(html)}, headers=HX
    )
    assert response.status_code == 409
    assert "already started" in response.get_data(as_text=True)


def test_ticking_one_ticket_cancels_only_that_ticket(app: Flask, client: FlaskClient) -> None:
    world = seed(app)
    reference = _booking(app, world)
    log_in(client, world.customer_login)
    url = f"/bookings/{reference}/cancel"
    html = page(client, url)
    assert 'id="whole" name="whole" value="y" checked' in html
    ticket_ids = re.findall(r'name="tickets" value="(\d+)"', html)
    assert not re.search(r'name="tickets" value="\d+"[^>]*checked', html)
    # "Whole booking" still ticked, plus one ticket: only that ticket is cancelled.
    data = {
        "csrf_token": csrf_from(html),
        "whole": "y",
        "tickets": ticket_ids[0],
        "confirm": "yes",
        "quoted": f"{ticket_ids[0]}:10",
    }
    assert client.post(url, data=data).status_code == 303
    assert balance(app, world.customer_id) == 1500 - 20 + 10
