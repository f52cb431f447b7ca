"""My bookings a page at a time: upcoming first, then past; "More" with htmx and without,
a booking bought while paging, deep links, and forged cursors."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient

from filmsphere.extensions import db
from filmsphere.models import User
from filmsphere.services.booking.customer_bookings import BOOKINGS_PAGE_SIZE
from tests import factories

from .test_admin_support import sign_in

HX = {"HX-Request": "true"}
REFERENCE = re.compile(r"Booking <strong>(\w+)</strong>")


def references(html: str) -> list[str]:
    return REFERENCE.findall(html)


def more_link(html: str, key: str) -> str | None:
    match = re.search(rf'<p id="{key}-more"[^>]*>\s*<a [^>]*href="([^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def book(app: Flask, user_id: int, days: int, hour: int = 12) -> str:
    """A booking of `user_id` for a show `days` from now (negative: past)."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        start = factories.now().replace(hour=hour, minute=0, second=0, microsecond=0)
        show = factories.make_show(starts_at=start + timedelta(days=days))
        return factories.make_booking(user, show, ("A1",)).reference


def test_upcoming_then_past_a_page_at_a_time(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        user_id = factories.make_user().id
    size = BOOKINGS_PAGE_SIZE
    upcoming = [book(app, user_id, days) for days in range(1, size + 4)]  # soonest first
    past = [book(app, user_id, -days) for days in range(1, 2 * size + 6)]  # latest first
    sign_in(client, app, user_id)

    first = client.get("/bookings").get_data(as_text=True)
    upcoming_part, past_part = first.split('id="bookings-past"')
    assert references(upcoming_part) == upcoming[:size]
    assert references(past_part) == past[:size]
    assert 'rel="first"' not in first  # the start of both lists

    # A booking bought meanwhile (a box-office sale for yesterday's later show) comes
    # first in the past list: the next page neither repeats nor skips a booking.
    newest_past = book(app, user_id, -1, hour=13)

    # htmx: the next page of past bookings, in place of its "More" link.
    more = more_link(first, "past")
    assert more is not None
    fragment = client.get(more, headers=HX | {"HX-Target": "past-more"})
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    html = fragment.get_data(as_text=True)
    assert html.lstrip().startswith('<div class="booking-more">')
    assert references(html) == past[size : 2 * size]
    assert 'id="bookings-upcoming"' not in html

    assert references(client.get("/bookings").get_data(as_text=True))[size] == newest_past

    # Without script the same link is a full page starting there: a deep link.
    deep = client.get(more).get_data(as_text=True)
    assert references(deep.split('id="bookings-past"')[1]) == past[size : 2 * size]
    assert 'rel="first"' in deep  # a way back to the start
    last = more_link(deep, "past")
    assert last is not None
    end = client.get(last, headers=HX | {"HX-Target": "past-more"}).get_data(as_text=True)
    assert references(end) == past[2 * size :]
    assert more_link(end, "past") is None  # the last page: no more

    # The upcoming list pages the same way, soonest first.
    rest = more_link(first, "upcoming")
    assert rest is not None
    later = client.get(rest, headers=HX | {"HX-Target": "upcoming-more"}).get_data(as_text=True)
    assert references(later) == upcoming[size:]


def test_a_forged_cursor_is_a_400_with_a_message(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        user_id = factories.make_user().id
    sign_in(client, app, user_id)
    for forged in ("x", "WyJhIixbMSwyXV0", "WyJ6IixbXV0", "%FF%FE", "A" * 1000):
        response = client.get(f"/bookings?past={forged}")
        assert response.status_code == 400, forged
        assert "page link is not valid" in response.get_data(as_text=True)
    htmx = client.get("/bookings?upcoming=x", headers=HX | {"HX-Target": "upcoming-more"})
    assert htmx.status_code == 400


def test_my_bookings_needs_a_log_in(client: FlaskClient) -> None:
    response = client.get("/bookings?past=WyJhIixbMSwyXV0")
    assert response.status_code in (302, 303)
