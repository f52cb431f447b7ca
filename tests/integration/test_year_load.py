"""The year-of-data benchmark's loader writes what the app itself would have written: on the
app's own migrated schema, so a schema change that breaks the loader (or data the loader
gets wrong) fails here, not in a benchmark run."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from bench.year_load import YearLoader
from filmsphere.extensions import db
from filmsphere.models import OutboxMessage
from filmsphere.services.mail.emails import render_message
from filmsphere.services.wallet.wallet import unbalanced_wallets

pytestmark = pytest.mark.postgres_only


def scalar(sql: str) -> int:
    return int(db.session.execute(text(sql)).scalar_one())


def test_a_small_year_keeps_the_apps_rules(ctx: Flask, database_url: str) -> None:
    meta = YearLoader(ctx, database_url, scale=0.002, seed=7).load()
    db.session.rollback()  # see what the loader's own connection committed

    # 12 screens x 6 shows x (1 day back, today, 7 ahead), and sales in them.
    assert scalar("SELECT count(*) FROM shows") == 12 * 6 * 9
    assert scalar("SELECT count(*) FROM bookings") > 1000
    assert scalar("SELECT count(*) FROM users") == 200

    # Coins: every wallet equals its entries, and each entry's balance_after is the
    # running sum in id order, never below zero.
    assert unbalanced_wallets() == []
    assert not scalar(
        "SELECT count(*) FROM (SELECT balance_after_coins AS after, sum(amount_coins) "
        "OVER (PARTITION BY wallet_id ORDER BY id) AS running FROM ledger_entries) e "
        "WHERE after <> running OR after < 0"
    )
    # A booking is charged the sum of its tickets and refunded what its tickets say.
    assert not scalar(
        "SELECT count(*) FROM bookings b WHERE b.total_coins <> (SELECT sum(price_coins) "
        "FROM tickets t WHERE t.booking_id = b.id) OR -b.total_coins <> (SELECT "
        "sum(amount_coins) FROM ledger_entries l WHERE l.booking_id = b.id "
        "AND l.kind = 'booking_charge') OR (SELECT coalesce(sum(refund_coins), 0) FROM "
        "tickets t WHERE t.booking_id = b.id) <> (SELECT coalesce(sum(amount_coins), 0) "
        "FROM ledger_entries l WHERE l.booking_id = b.id AND l.kind = 'refund')"
    )
    # Every top-up entry has its paid Stripe top-up.
    assert not scalar(
        "SELECT count(*) FROM ledger_entries l LEFT JOIN topups t ON t.id = l.topup_id "
        "WHERE l.kind = 'topup' AND (t.status IS DISTINCT FROM 'paid' OR t.coins <> "
        "l.amount_coins)"
    )

    # Sales: bought after signing up and after the show was published, before it
    # started; never a seat sold twice; a cancelled show has no active ticket.
    assert not scalar(
        "SELECT count(*) FROM bookings b JOIN users u ON u.id = b.user_id JOIN shows s "
        "ON s.id = b.show_id WHERE b.created_at < u.created_at OR b.created_at < s.created_at "
        "OR b.created_at >= s.starts_at OR u.email_verified_at IS NULL"
    )
    assert not scalar(
        "SELECT count(*) FROM (SELECT show_id, seat_id FROM tickets WHERE status = 'active' "
        "GROUP BY 1, 2 HAVING count(*) > 1) d"
    )
    assert not scalar(
        "SELECT count(*) FROM tickets t JOIN shows s ON s.id = t.show_id "
        "WHERE s.status = 'cancelled' AND t.status = 'active'"
    )
    assert not scalar(
        "SELECT count(*) FROM seats x JOIN tickets t ON t.seat_id = x.id "
        "WHERE x.category = 'broken'"
    )
    # Check-ins: only active tickets, by staff, before the show ended.
    assert scalar("SELECT count(*) FROM tickets WHERE checked_in_at IS NOT NULL") > 0
    assert not scalar(
        "SELECT count(*) FROM tickets t JOIN users u ON u.id = t.checked_in_by_id "
        "JOIN shows s ON s.id = t.show_id WHERE t.checked_in_at IS NOT NULL AND "
        "(t.status <> 'active' OR u.role <> 'staff' OR t.checked_in_at > s.ends_at)"
    )

    # Ids can be allocated again: the app inserts after the loaded rows.
    assert scalar("SELECT nextval(pg_get_serial_sequence('bookings', 'id'))") > scalar(
        "SELECT max(id) FROM bookings"
    )

    # The backlog is real mail the sender can send: QR codes and a calendar file.
    pending = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.status == "pending").order_by(OutboxMessage.id)
    ).all()
    assert len(pending) == 100
    assert pending[0].id == int(meta["backlog_first_id"])
    assert pending[-1].id == int(meta["backlog_last_id"])
    email = render_message(pending[0])
    types = [part.content_type.split(";")[0] for part in email.parts]
    assert "image/png" in types and "text/calendar" in types
    sent = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
    )
    assert sent and sent > scalar("SELECT count(*) FROM bookings") - 100
