"""The cancel page and the Pay button when the state moved on: one true reason, the right
status, no button that can't work; both with htmx and as plain forms."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from filmsphere.extensions import db
from filmsphere.models import LedgerEntry, LedgerKind, Ticket, User
from tests import factories
from tests.conftest import csrf_from

from .test_booking_routes import HX, World, balance, hold, log_in, page, seed


def _booking(app: Flask, user_id: int, labels: tuple[str, ...], **show: object) -> str:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        return factories.make_booking(user, factories.make_show(**show), labels).reference  # type: ignore[arg-type]


def _use(app: Flask, reference: str, *labels: str) -> None:
    """Mark tickets used at the door."""
    with app.app_context():
        for ticket in db.session.scalars(select(Ticket)):
            if ticket.booking.reference == reference and ticket.seat.label in labels:
                ticket.checked_in_at = factories.now()
        db.session.commit()


def _cancel_page(app: Flask, client: FlaskClient, *labels: str) -> tuple[World, str, str]:
    """A customer with a booking of these seats 3 hours before the show, on its cancel page."""
    world = seed(app)
    reference = _booking(app, world.customer_id, labels, starts_in=timedelta(hours=3))
    log_in(client, world.customer_login)
    return world, reference, page(client, f"/bookings/{reference}/cancel")


def _ticket_ids(html: str) -> dict[str, str]:
    """Seat label -> ticket id, from the cancel form's checkboxes."""
    return {
        f"{row}{number}": ticket_id
        for ticket_id, row, number in re.findall(
            r'name="tickets" value="(\d+)"[^>]*>\s*<label[^>]*>Row (\w), seat (\d+)', html
        )
    }


def _confirm_one(
    client: FlaskClient, reference: str, html: str, ticket_id: str, refund: int
) -> TestResponse:
    """Confirm cancelling one ticket with the quote the page showed for it."""
    return client.post(
        f"/bookings/{reference}/cancel",
        data={
            "csrf_token": csrf_from(html),
            "tickets": ticket_id,
            "confirm": "yes",
            "quoted": f"{ticket_id}:{refund}",
        },
    )


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_confirming_after_the_show_started_is_409_with_one_reason_and_no_button(
    app: Flask, client: FlaskClient, htmx: bool
) -> None:
    world, reference, html = _cancel_page(app, client, "A1")
    form = {"csrf_token": csrf_from(html), "whole": "y", "confirm": "yes", "quoted": "all:10"}
    with app.app_context():  # the show starts while the customer reads the quote
        ticket = db.session.scalars(select(Ticket)).one()
        ticket.booking.show.starts_at = factories.now() - timedelta(minutes=1)
        db.session.commit()

    response = client.post(f"/bookings/{reference}/cancel", data=form, headers=HX if htmx else {})

    assert response.status_code == 409
    body = response.get_data(as_text=True)
    assert "This show has started, so its tickets can no longer be cancelled." in body
    assert "Your choice changed" not in body and "Confirm cancellation" not in body
    assert f'href="/bookings/{reference}"' in body
    if htmx:
        assert body.lstrip().startswith('<section id="cancel-form"')
        assert response.headers["HX-Retarget"] == "#cancel-form"
    assert balance(app, world.customer_id) == 1500 - 10
    # Looking at the page is no conflict: it says why, with nothing to press.
    again = client.get(f"/bookings/{reference}/cancel")
    assert again.status_code == 200 and "This show has started" in again.get_data(as_text=True)
    assert "Confirm cancellation" not in again.get_data(as_text=True)


def test_when_every_remaining_ticket_was_used_the_page_says_so(
    app: Flask, client: FlaskClient
) -> None:
    world, reference, html = _cancel_page(app, client, "A1", "A2")
    ids = _ticket_ids(html)
    assert _confirm_one(client, reference, html, ids["A1"], 10).status_code == 303
    _use(app, reference, "A2")

    for response in (
        client.get(f"/bookings/{reference}/cancel"),
        client.get(f"/bookings/{reference}/cancel", query_string={"whole": "y"}, headers=HX),
    ):
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        assert "Every remaining ticket of this booking was used at the door" in body
        assert "already cancelled" not in body and "Confirm cancellation" not in body
    repeated = client.post(
        f"/bookings/{reference}/cancel",
        data={"csrf_token": csrf_from(html), "whole": "y", "confirm": "yes", "quoted": "all:10"},
    )
    assert repeated.status_code == 303
    assert "was used at the door" in page(client, f"/bookings/{reference}")
    assert balance(app, world.customer_id) == 1500 - 20 + 10


def test_single_tickets_untick_whole_booking_when_the_quote_is_redrawn(
    app: Flask, client: FlaskClient
) -> None:
    world, reference, html = _cancel_page(app, client, "A1", "A2")
    assert 'id="whole" name="whole" value="y" checked' in html
    ids = _ticket_ids(html)
    review = client.post(
        f"/bookings/{reference}/cancel",
        data={"csrf_token": csrf_from(html), "whole": "y", "tickets": ids["A2"]},
    )
    assert review.status_code == 200
    body = review.get_data(as_text=True)
    assert 'id="whole" name="whole" value="y">' in body  # no longer ticked
    assert re.search(rf'name="tickets" value="{ids["A2"]}"[^>]*checked', body)
    assert "You get back <strong>10 coins</strong>" in body


def test_the_quote_says_the_companion_seat_goes_with_its_wheelchair_space(
    app: Flask, client: FlaskClient
) -> None:
    world, reference, html = _cancel_page(app, client, "C1", "C2")
    ids = _ticket_ids(html)
    quote = client.get(
        f"/bookings/{reference}/cancel", query_string={"tickets": ids["C1"]}, headers=HX
    )
    body = quote.get_data(as_text=True)
    assert "Companion seat C2 is cancelled too" in body
    assert "You get back <strong>20 coins</strong>" in body
    assert _confirm_one(client, reference, html, ids["C1"], 20).status_code == 303
    assert "Refunded 20 coins for 2 tickets." in page(client, f"/bookings/{reference}")


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_a_second_tab_paying_after_the_first_is_sent_to_the_booking_already_paid(
    app: Flask, client: FlaskClient, htmx: bool
) -> None:
    world = seed(app)
    log_in(client, world.customer_login)
    hold(app, world.customer_id, world.show_id, world.seats["A1"])
    hold(app, world.customer_id, world.show_id, world.seats["A2"])
    url = f"/shows/{world.show_id}/checkout"
    tabs = [page(client, f"/shows/{world.show_id}") for _ in range(2)]
    forms = [
        {
            "csrf_token": csrf_from(html),
            **dict(re.findall(r'name="(checkout_token|seats)" value="([^"]*)"', html)),
        }
        for html in tabs
    ]
    assert forms[0]["checkout_token"] != forms[1]["checkout_token"]

    first = client.post(url, data=forms[0])
    assert first.status_code == 303
    booking_path = first.headers["Location"]
    reference = booking_path.rsplit("/", 1)[1]

    second = client.post(url, data=forms[1], headers=HX if htmx else {})

    if htmx:
        assert second.status_code == 204 and second.headers["HX-Redirect"] == booking_path
    else:
        assert second.status_code == 303 and second.headers["Location"] == booking_path
    shown = page(client, booking_path)
    assert f"Already paid: these seats are in booking {reference}" in shown
    assert "Nothing more was charged." in shown
    assert balance(app, world.customer_id) == 1500 - 20
    with app.app_context():
        charges = db.session.scalar(
            select(func.count()).where(LedgerEntry.kind == LedgerKind.BOOKING_CHARGE)
        )
        assert charges == 1
