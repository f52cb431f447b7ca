"""The committed migrations build the schema the models describe, on both databases."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from filmsphere.extensions import db
from filmsphere.models import LedgerEntry, Show
from filmsphere.models.user import include_in_autogenerate

from ..factories import make_movie, make_screen, make_show, make_user


def test_models_and_migrations_agree(backend: str, database_url: str) -> None:
    """No drift: autogenerate against the migrated database finds nothing to change."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_in_autogenerate}
        )
        diff = compare_metadata(context, db.metadata)
    engine.dispose()
    assert diff == []


def test_ledger_rows_cannot_be_updated_or_deleted(backend: str, ctx) -> None:
    make_user(coins=100)
    entry = db.session.scalars(db.select(LedgerEntry)).one()
    for statement in (
        "UPDATE ledger_entries SET amount_coins = 5 WHERE id = :id",
        "DELETE FROM ledger_entries WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement), {"id": entry.id})
        db.session.rollback()


def test_wallet_balance_cannot_go_negative(backend: str, ctx) -> None:
    make_user(coins=10)
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE wallets SET balance_coins = -1"))
    db.session.rollback()


@pytest.mark.postgres_only
def test_exclusion_constraint_refuses_overlapping_shows(backend: str, ctx) -> None:
    movie = make_movie(duration=100)
    screen = make_screen()
    first = make_show(movie, screen)
    overlapping = Show(
        movie_id=movie.id,
        screen_id=screen.id,
        starts_at=first.ends_at - timedelta(minutes=1),
        ends_at=first.ends_at + timedelta(minutes=100),
        base_price_coins=10,
    )
    db.session.add(overlapping)
    with pytest.raises(IntegrityError, match="ex_shows_screen_no_overlap"):
        db.session.commit()
    db.session.rollback()
    back_to_back = Show(
        movie_id=movie.id,
        screen_id=screen.id,
        starts_at=first.ends_at,
        ends_at=first.ends_at + timedelta(minutes=100),
        base_price_coins=10,
    )
    db.session.add(back_to_back)
    db.session.commit()


def _fresh_database(backend: str, database_url: str, tmp_path) -> tuple[str, Any]:  # type: ignore[no-untyped-def]
    """An empty database of the backend's kind, and how to drop it afterwards."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}", lambda: None
    name = f"filmsphere_upgrade_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()

    return database_url.rsplit("/", 1)[0] + f"/{name}", drop


def test_upgrading_a_database_in_use_keeps_its_bookings_and_holds(
    backend: str, database_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """0001 → head with a booking, a ticket and a live hold in it: nothing is lost (a
    table rebuild on SQLite would cascade the holds away or fail on the bookings)."""
    from flask_migrate import downgrade, upgrade

    from filmsphere import create_app

    url, drop = _fresh_database(backend, database_url, tmp_path)
    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path)}
    )
    try:
        with app.app_context():
            upgrade(revision="0001")
            now, later = "2026-11-21 12:00:00+00:00", "2030-01-01 18:00:00+00:00"
            end = "2030-01-01 20:00:00+00:00"
            for sql in (
                "INSERT INTO users (id, email, username, full_name, password_hash, role,"
                " is_active_account, created_at, session_version) VALUES (1, 'a@example.com',"
                " 'a', 'A', 'x', 'customer', true, :now, 1)",
                "INSERT INTO movies (id, title, description, duration_minutes, age_rating,"
                " language, poster_hue, is_retired, created_at) VALUES (1, 'M', 'D', 90, 'U',"
                " 'English', 10, false, :now)",
                "INSERT INTO screens (id, name, layout, is_active, created_at)"
                " VALUES (1, 'S', 'SS', true, :now)",
                "INSERT INTO seats (id, screen_id, row_label, number, grid_row, grid_col,"
                " category, is_active) VALUES (1, 1, 'A', 1, 0, 0, 'standard', true),"
                " (2, 1, 'A', 2, 0, 1, 'standard', true)",
                "INSERT INTO shows (id, movie_id, screen_id, starts_at, ends_at,"
                " base_price_coins, status, seat_version, created_at)"
                " VALUES (1, 1, 1, :later, :end, 10, 'scheduled', 7, :now)",
                "INSERT INTO bookings (id, reference, user_id, show_id, status, total_coins,"
                " created_at) VALUES (1, 'ABCDEFGH', 1, 1, 'paid', 10, :now)",
                "INSERT INTO tickets (id, booking_id, show_id, seat_id, category, price_coins,"
                " status, created_at) VALUES (1, 1, 1, 1, 'standard', 10, 'active', :now)",
                "INSERT INTO seat_holds (id, show_id, seat_id, user_id, created_at, expires_at)"
                " VALUES (1, 1, 2, 1, :now, :later)",
            ):
                db.session.execute(text(sql), {"now": now, "later": later, "end": end})
            db.session.commit()
            upgrade()
            counts = [
                db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                for table in ("shows", "bookings", "tickets", "seat_holds")
            ]
            assert counts == [1, 1, 1, 1]
            version = db.session.execute(text("SELECT layout_version FROM screens")).scalar()
            assert version == 1
            db.session.commit()
            downgrade(revision="0001")  # and back, with the data still there
            assert db.session.execute(text("SELECT count(*) FROM seat_holds")).scalar_one() == 1
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()


BEFORE_G13 = "g13_outbox_payload-1"  # whatever it is chained after


def test_mail_queued_before_rendering_moved_to_the_sender_still_leaves(
    backend: str, database_url: str, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """A deployment upgrades with messages waiting in the old, rendered form (subject,
    bodies, a ticket QR stored as its code, an .ics as base64): after the upgrade the
    sender sends them exactly as they were written; downgrading gives the columns back."""
    import base64
    import io
    import json

    import PIL.Image
    import zxingcpp
    from flask_migrate import downgrade, upgrade

    from filmsphere import create_app
    from filmsphere.models.types import utcnow
    from filmsphere.services.mail.mailer import send_pending

    from ..support.postgres import free_port
    from ..support.smtp import smtp_server

    url, drop = _fresh_database(backend, database_url, tmp_path)
    port = free_port()
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(tmp_path),
            "MAIL_BACKEND": "smtp",
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": port,
        }
    )
    ics = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"
    attachments = [
        {"filename": "ticket-A1.png", "content_type": "image/png", "qr": "FS1.1.2.code",
         "inline_cid": "ticket-1@filmsphere"},
        {"filename": "filmsphere-ABC.ics", "content_type": "text/calendar",
         "data_b64": base64.b64encode(ics).decode()},
    ]  # fmt: skip
    try:
        with app.app_context():
            upgrade(revision=BEFORE_G13)
            db.session.execute(
                text(
                    "INSERT INTO outbox_messages (kind, to_address, subject, body_text,"
                    " body_html, attachments, status, attempts, next_attempt_at, created_at)"
                    " VALUES ('booking_confirmation', 'ann@example.com', 'Your tickets — A1',"
                    " 'Hello Ann, row A seat 1.', '<p>Hello Ann</p><img src=\"cid:ticket-1@"
                    "filmsphere\">', :attachments, 'pending', 0, :now, :now)"
                ),
                {"attachments": json.dumps(attachments), "now": "2026-11-21 12:00:00+00:00"},
            )
            db.session.commit()
            upgrade()
            with smtp_server(port) as (inbox, _):
                assert send_pending(utcnow()).sent == 1
            [message] = inbox.messages
            assert message["Subject"] == "Your tickets — A1"
            text_part = message.get_body(preferencelist=("plain",))
            assert text_part is not None
            assert text_part.get_content().strip() == "Hello Ann, row A seat 1."
            [image] = [p for p in message.walk() if p.get_content_type() == "image/png"]
            assert image["Content-ID"] == "<ticket-1@filmsphere>"
            png = PIL.Image.open(io.BytesIO(image.get_payload(decode=True)))
            assert zxingcpp.read_barcodes(png)[0].text == "FS1.1.2.code"
            [calendar] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
            assert calendar.get_payload(decode=True) == ics
            db.session.commit()
            downgrade(revision=BEFORE_G13)
            row = db.session.execute(
                text("SELECT subject, body_text, status FROM outbox_messages")
            ).one()
            assert tuple(row) == ("Your tickets — A1", "Hello Ann, row A seat 1.", "sent")
            db.session.remove()
            db.engine.dispose()
    finally:
        drop()


def test_the_senders_claim_walks_the_partial_index_of_pending_rows(backend: str, ctx) -> None:
    """A backlog of due messages among sent ones: the claim walks the partial index of
    pending rows in id order and stops at its batch, instead of reading every due row
    and sorting them (ix_outbox_messages_due)."""
    from sqlalchemy import insert

    from filmsphere.models import OutboxMessage
    from filmsphere.models.types import utcnow
    from filmsphere.services.mail.mailer import due_ids

    now = utcnow()
    rows = [
        {"kind": "verify_email", "to_address": f"u{i}@example.com", "payload": {},
         "status": "pending" if i % 5 == 0 else "sent", "attempts": 1,
         "next_attempt_at": now, "created_at": now}
        for i in range(10000)
    ]  # fmt: skip
    db.session.execute(insert(OutboxMessage), rows)
    db.session.commit()
    db.session.execute(text("ANALYZE"))
    if backend == "postgresql":
        definition = "SELECT indexdef FROM pg_indexes WHERE indexname = :name"
    else:
        definition = "SELECT sql FROM sqlite_master WHERE name = :name"
    created = db.session.execute(text(definition), {"name": "ix_outbox_messages_pending"})
    assert "WHERE" in created.scalar_one().upper()
    query = due_ids(now, 200).compile(db.engine, compile_kwargs={"literal_binds": True})
    explain = "EXPLAIN" if backend == "postgresql" else "EXPLAIN QUERY PLAN"
    plan = " ".join(str(row) for row in db.session.execute(text(f"{explain} {query}")))
    assert "ix_outbox_messages_pending" in plan, plan
    first_pending = [i + 1 for i in range(10000) if i % 5 == 0][:200]
    assert db.session.scalars(due_ids(now, 200)).all() == first_pending
    db.session.rollback()
