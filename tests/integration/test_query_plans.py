"""Every statement of the pages and cron jobs that read growing tables has an index to
use: EXPLAIN ANALYZEd on PostgreSQL with a few thousand rows, statistics gathered, and
enable_seqscan off. A Seq Scan then means no index could answer; an index walked whole
with a filter that throws most rows away (the pkey read backwards for "newest first")
is the same scan in disguise, so a node that filters out a third of a table fails too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, insert, select, text, update

from filmsphere.extensions import db
from filmsphere.models import (
    AuditEntry,
    Booking,
    LedgerEntry,
    OutboxMessage,
    Role,
    Seat,
    Show,
    Ticket,
    User,
    Wallet,
)
from filmsphere.services.ops.cleanup import run_cleanup
from tests import factories
from tests.conftest import pager_link

from .test_admin_support import sign_in

pytestmark = pytest.mark.postgres_only

ROWS = 3000
SHOWS = 300
# Tables that grow with the age of the cinema. (audit-ledger sums the whole ledger by
# design and is not among the statements checked.)
GROWING = ("tickets", "bookings", "ledger_entries", "users", "wallets", "outbox_messages")
FILTERED_AWAY = ROWS // 3


def problems(node: dict[str, Any]) -> Iterator[str]:
    """What reads a growing table whole in this plan node and those under it."""
    table = node.get("Relation Name")
    if table in GROWING:
        removed = node.get("Rows Removed by Filter", 0) * node.get("Actual Loops", 1)
        if node["Node Type"] == "Seq Scan":
            yield f"Seq Scan on {table}"
        elif removed > FILTERED_AWAY:
            yield f"{node['Node Type']} on {table} filtering out {removed} rows"
    for child in node.get("Plans", []):
        yield from problems(child)


def load(app: Flask) -> dict[str, Any]:
    """A few thousand rows in every growing table, ANALYZEd."""
    with app.app_context():
        movie = factories.make_movie(title="Plan Film")
        screen = factories.make_screen("\n".join(["SSSSSSSSSS"] * 2))
        seats = list(db.session.scalars(select(Seat.id).where(Seat.screen_id == screen.id)))
        now = factories.now().replace(second=0, microsecond=0)
        first = now - timedelta(hours=3 * (SHOWS - 20))  # most in the past, some ahead
        db.session.execute(
            insert(Show),
            [
                {
                    "movie_id": movie.id,
                    "screen_id": screen.id,
                    "starts_at": first + timedelta(hours=3 * i),
                    "ends_at": first + timedelta(hours=3 * i, minutes=150),
                    "base_price_coins": 10,
                    "status": "scheduled",
                }
                for i in range(SHOWS)
            ],
        )
        show_ids = list(db.session.scalars(select(Show.id).order_by(Show.id)))
        db.session.execute(
            insert(User),
            [
                {
                    "email": f"guest{i}@example.test",
                    "username": f"guest{i}",
                    "full_name": f"Guest Number {i}",
                    "password_hash": "x",
                    "role": "customer",
                }
                for i in range(ROWS)
            ],
        )
        user_ids = list(db.session.scalars(select(User.id).order_by(User.id)))
        db.session.execute(insert(Wallet), [{"user_id": u} for u in user_ids])
        wallets = dict(db.session.execute(select(Wallet.user_id, Wallet.id)).tuples().all())
        heavy = user_ids[0]
        owners = [heavy if i % 10 == 0 else user_ids[i] for i in range(ROWS)]
        db.session.execute(
            insert(Booking),
            [
                {
                    "reference": f"PLAN{i:05d}",
                    "user_id": owners[i],
                    "show_id": show_ids[i % SHOWS],
                    "total_coins": 10,
                    "created_at": first + timedelta(minutes=i),
                    "status": "cancelled" if i % 50 == 0 else "paid",
                    "cancelled_at": first + timedelta(minutes=i + 5) if i % 50 == 0 else None,
                }
                for i in range(ROWS)
            ],
        )
        bookings = list(db.session.execute(select(Booking.id, Booking.show_id, Booking.user_id)))
        db.session.execute(
            insert(Ticket),
            [
                {
                    "booking_id": b.id,
                    "show_id": b.show_id,
                    "seat_id": seats[i // SHOWS],
                    "category": "standard",
                    "price_coins": 10,
                    "created_at": first + timedelta(minutes=i),
                }
                for i, b in enumerate(bookings)
            ],
        )
        balances: dict[int, int] = {}
        entries = []
        for i, b in enumerate(bookings):  # a refund each, so every wallet balances
            wallet = wallets[b.user_id]
            balances[wallet] = balances.get(wallet, 0) + 10
            entries.append(
                {
                    "wallet_id": wallet,
                    "kind": "refund",
                    "amount_coins": 10,
                    "balance_after_coins": balances[wallet],
                    "booking_id": b.id,
                    "created_at": first + timedelta(minutes=i),
                }
            )
        db.session.execute(insert(LedgerEntry), entries)
        db.session.execute(
            update(Wallet),
            [{"id": wallet, "balance_coins": coins} for wallet, coins in balances.items()],
        )
        db.session.execute(
            insert(OutboxMessage),
            [
                {
                    "kind": "booking_confirmation",
                    "to_address": f"guest{i}@example.test",
                    "payload": {"booking_id": 0},
                    "status": "sent" if i > 20 else "pending",
                    "sent_at": now if i > 20 else None,
                }
                for i in range(ROWS)
            ],
        )
        db.session.execute(
            insert(AuditEntry),
            [
                {"action": "film.update", "target_type": "film", "target_id": str(i)}
                for i in range(ROWS)
            ],
        )
        admin_id = factories.make_user(Role.ADMIN, username="boss").id
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        return {
            "heavy": heavy,
            "admin": admin_id,
            "booking": bookings[10].id,
            "show": show_ids[5],
            "day": (first + timedelta(hours=30)).date().isoformat(),
            "today": now.date(),
        }


def test_pages_and_cleanup_use_an_index_on_every_growing_table(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    data = load(app)
    admin = app.test_client()
    sign_in(client, app, data["heavy"])
    sign_in(admin, app, data["admin"])
    today = data["today"]
    year = f"from={today - timedelta(days=365)}&to={today}"
    customer_pages = ["/bookings", "/wallet", "/wallet?page=last"]
    admin_pages = [
        "/admin/",
        f"/admin/?{year}",
        *[
            f"/admin/reports/{key}.csv?{year}"
            for key in ("revenue-by-day", "revenue-by-film", "top-films", "activity-by-day")
        ],
        "/admin/bookings",
        "/admin/bookings?reference=plan00042",
        "/admin/bookings?customer=guest42",
        f"/admin/bookings?show={data['show']}",
        f"/admin/bookings?date={data['day']}",
        f"/admin/bookings/{data['booking']}",
        "/admin/users?q=guest42",
        "/admin/users?q=number+42",
        f"/admin/users/{data['heavy']}",
        "/admin/audit",
        "/admin/mail",
    ]
    with app.app_context():
        engine = db.engine
    seen: list[tuple[str, Any, str]] = []
    where = {"now": ""}

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            seen.append((statement, parameters, where["now"]))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        for who, paths in ((client, customer_pages), (admin, admin_pages)):
            for path in paths:
                where["now"] = path
                response = who.get(path)
                assert response.status_code == 200, path
        where["now"] = "next wallet page"
        older = pager_link(client.get("/wallet").get_data(as_text=True), "next")
        assert client.get(older).status_code == 200
        where["now"] = "flask cleanup"
        with app.app_context():
            run_cleanup(factories.now())
    finally:
        event.remove(engine, "before_cursor_execute", listener)

    found: dict[str, set[str]] = {}
    with engine.connect() as conn:  # one transaction, rolled back: cleanup's UPDATE runs
        conn.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters, source in seen:
            explain = "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) " + statement
            plan = conn.exec_driver_sql(explain, parameters).scalar_one()[0]["Plan"]
            for problem in problems(plan):
                found.setdefault(source, set()).add(problem)
        conn.rollback()
    assert found == {}
    assert {source for _, _, source in seen} >= {*customer_pages, *admin_pages, "flask cleanup"}
