"""Nothing on a request path grows with the data: every listed page sends the same SQL
statements with ten times the rows (bookings, ledger entries, users, audit rows, mail)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from filmsphere.extensions import db
from filmsphere.models import LedgerKind, OutboxMessage, Role, User
from filmsphere.services.locks import lock_wallet
from filmsphere.services.ops.audit import record_audit
from filmsphere.services.wallet.wallet import post_entry
from tests import factories

from .test_admin_support import sign_in

CUSTOMER_PAGES = ["/bookings", "/wallet", "/wallet?page=last"]
ADMIN_PAGES = [
    "/admin/",
    "/admin/reports/occupancy.csv",
    "/admin/reports/activity-by-day.csv",
    "/admin/bookings",
    "/admin/bookings?customer=regular",
    "/admin/users",
    "/admin/users?q=user",
    "/admin/audit",
    "/admin/mail",
]


@contextmanager
def counting(app: Flask) -> Iterator[list[str]]:
    """The statements the app sends meanwhile."""
    seen: list[str] = []

    def listener(*args: Any) -> None:
        seen.append(args[2])

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def statements(app: Flask, client: FlaskClient, path: str) -> int:
    client.get(path)  # warm per-process caches (seat layouts, the actions list's plan)
    with counting(app) as seen:
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return len(seen)


def grow(app: Flask, customer_id: int, admin_id: int, n: int) -> None:
    """n more of everything the listed pages show: upcoming and past bookings of the
    customer (each with a ledger entry), other users, audit rows, undelivered mail."""
    with app.app_context():
        customer = db.session.get(User, customer_id)
        assert customer is not None
        movie, screen = factories.make_movie(), factories.make_screen()
        start = factories.now().replace(second=0, microsecond=0)
        for i in range(n):
            for days in (2 + i, -2 - i):  # one upcoming, one past
                show = factories.make_show(movie, screen, starts_at=start + timedelta(days=days))
                factories.make_booking(customer, show, ("A1", "A2"))
            factories.make_user()
            wallet = lock_wallet(customer_id)
            post_entry(wallet, LedgerKind.ADMIN_ADJUSTMENT, 1, factories.now(), reason="bonus")
            record_audit(
                actor_id=admin_id,
                action="wallet.adjust",
                target_type="user",
                target_id=customer_id,
                now=factories.now(),
            )
            db.session.add(
                OutboxMessage(
                    kind="booking_confirmation",
                    to_address=f"guest{i}@example.com",
                    payload={"booking_id": 0},
                    status="pending",
                    next_attempt_at=factories.now(),
                    created_at=factories.now(),
                )
            )
            db.session.commit()


def test_listed_pages_send_as_many_statements_for_ten_times_the_rows(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        customer_id = factories.make_user(username="regular").id
        admin_id = factories.make_user(Role.ADMIN, username="boss").id
    admin = app.test_client()
    sign_in(client, app, customer_id)
    sign_in(admin, app, admin_id)

    def count_all() -> dict[str, int]:
        counts = {path: statements(app, client, path) for path in CUSTOMER_PAGES}
        return counts | {path: statements(app, admin, path) for path in ADMIN_PAGES}

    grow(app, customer_id, admin_id, 3)
    few = count_all()
    grow(app, customer_id, admin_id, 27)  # ten times the rows, several pages of each list
    many = count_all()
    assert many == few
    # The pages are listed: a page of each list holds at most its page size.
    mine = client.get("/bookings").get_data(as_text=True)
    assert mine.count('class="panel booking-item"') == 20
    assert 'id="past-more"' in mine and "More past bookings" in mine
