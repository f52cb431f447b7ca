"""Admin showtimes: overlap edges, the concurrent-create race, free-screen suggestions,
editing, the week view, and cancelling a show with full refunds and emails."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, text

from filmsphere.extensions import db
from filmsphere.models import (
    AuditEntry,
    Booking,
    LedgerEntry,
    OutboxMessage,
    Show,
    Ticket,
    Wallet,
)
from filmsphere.services.catalogue import scheduling
from filmsphere.services.errors import Conflict, ShowOverlap
from filmsphere.services.transaction import set_race_hook
from tests import factories

from .test_admin_support import admin_client, post


def _start(days: int = 3, hour: int = 18) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(
        hour=hour, minute=0, second=0, microsecond=0
    )


def test_back_to_back_is_allowed_and_one_minute_overlap_is_not(backend, ctx):
    movie = factories.make_movie(duration=100)  # + 15 cleaning = 115 minutes
    screen = factories.make_screen(name="One")
    start = _start()
    now = datetime.now(UTC)
    first = scheduling.schedule_show(
        movie_id=movie.id, screen_id=screen.id, starts_at=start, base_price_coins=10, now=now
    )
    assert first.ends_at == start + timedelta(minutes=115)
    after = scheduling.schedule_show(
        movie_id=movie.id,
        screen_id=screen.id,
        starts_at=start + timedelta(minutes=115),
        base_price_coins=10,
        now=now,
    )
    before = scheduling.schedule_show(
        movie_id=movie.id,
        screen_id=screen.id,
        starts_at=start - timedelta(minutes=115),
        base_price_coins=10,
        now=now,
    )
    assert after.id and before.id
    for starts in (start + timedelta(minutes=114), start - timedelta(minutes=114)):
        with pytest.raises(ShowOverlap):
            scheduling.schedule_show(
                movie_id=movie.id,
                screen_id=screen.id,
                starts_at=starts,
                base_price_coins=10,
                now=now,
            )
    assert db.session.scalar(select(func.count()).select_from(Show)) == 3


def test_overlap_names_the_free_screens(backend, ctx):
    movie = factories.make_movie(duration=90)
    busy = factories.make_screen(name="Busy")
    factories.make_screen(name="Free one")
    other = factories.make_screen(name="Also busy")
    start = _start()
    factories.make_show(movie, busy, starts_at=start)
    factories.make_show(movie, other, starts_at=start + timedelta(minutes=30))
    with pytest.raises(ShowOverlap) as caught:
        scheduling.schedule_show(
            movie_id=movie.id,
            screen_id=busy.id,
            starts_at=start + timedelta(minutes=60),
            base_price_coins=10,
            now=datetime.now(UTC),
        )
    assert caught.value.free_screens == ["Free one"]
    assert "Free at that time: Free one." in caught.value.message


def _race(app, movie_id: int, screen_id: int, start: datetime) -> list[object]:  # type: ignore[no-untyped-def]
    """Two admins schedule overlapping shows at once; both pass the check before either
    writes when nothing serialises them (the barrier at schedule.after_check)."""
    barrier = threading.Barrier(2)

    def hook() -> None:
        # A broken barrier means the other thread is blocked on our lock: the guard working.
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=3)

    results: list[object] = []

    def worker(offset: int) -> None:
        with app.app_context():
            try:
                show = scheduling.schedule_show(
                    movie_id=movie_id,
                    screen_id=screen_id,
                    starts_at=start + timedelta(minutes=offset),
                    base_price_coins=10,
                    now=datetime.now(UTC),
                )
                results.append(show.id)
            except ShowOverlap as exc:
                results.append(exc)
            finally:
                db.session.remove()

    set_race_hook("schedule.after_check", hook)
    try:
        threads = [threading.Thread(target=worker, args=(m,)) for m in (0, 30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        set_race_hook("schedule.after_check", None)
    return results


def _seed_race(app):  # type: ignore[no-untyped-def]
    with app.app_context():
        return factories.make_movie(duration=90).id, factories.make_screen(name="Race").id


@pytest.mark.postgres_only
def test_concurrent_create_has_exactly_one_winner(backend, app):
    movie_id, screen_id = _seed_race(app)
    results = _race(app, movie_id, screen_id, _start())
    assert sum(isinstance(r, int) for r in results) == 1
    assert sum(isinstance(r, ShowOverlap) for r in results) == 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Show)) == 1


@pytest.mark.postgres_only
def test_exclusion_constraint_is_the_last_word(backend, app, monkeypatch):
    """With the application check switched off, PostgreSQL still lets only one in; with the
    constraint dropped too (negative control) both get in, so the race really happens."""
    movie_id, screen_id = _seed_race(app)
    monkeypatch.setattr(scheduling, "overlapping_show", lambda *a, **k: None)
    results = _race(app, movie_id, screen_id, _start())
    assert sum(isinstance(r, int) for r in results) == 1
    loser = next(r for r in results if isinstance(r, ShowOverlap))
    assert "a moment ago" in str(loser)

    with app.app_context():
        db.session.execute(text("ALTER TABLE shows DROP CONSTRAINT ex_shows_screen_no_overlap"))
        db.session.commit()
    try:
        results = _race(app, movie_id, screen_id, _start(days=5))
        assert sum(isinstance(r, int) for r in results) == 2  # the double booking the guards stop
    finally:
        with app.app_context():
            db.session.execute(text("DELETE FROM shows"))
            db.session.execute(
                text(
                    "ALTER TABLE shows ADD CONSTRAINT ex_shows_screen_no_overlap "
                    "EXCLUDE USING gist (screen_id WITH =, tstzrange(starts_at, ends_at, '[)') "
                    "WITH &&) WHERE (status <> 'cancelled')"
                )
            )
            db.session.commit()


def _local(dt: datetime, tz: str) -> datetime:
    return dt.astimezone(ZoneInfo(tz))


def test_create_show_route_converts_local_time_and_refuses_overlap(backend, app, client):
    admin_id = admin_client(client, app)
    with app.app_context():
        movie = factories.make_movie(title="Dune", duration=100)
        busy = factories.make_screen(name="Hall 1")
        factories.make_screen(name="Hall 2")
        movie_id, screen_id = movie.id, busy.id
        tz = app.config["TIMEZONE"]
    day = (datetime.now(ZoneInfo(tz)) + timedelta(days=4)).date()
    form = {
        "movie_id": movie_id,
        "screen_id": screen_id,
        "start_date": day.isoformat(),
        "start_time": "19:30",
        "base_price_coins": "12",
    }
    response = post(client, "/admin/shows/new", form)
    assert response.status_code == 303
    with app.app_context():
        show = db.session.scalars(select(Show)).one()
        local = _local(show.starts_at, tz)
        assert (local.date(), local.hour, local.minute) == (day, 19, 30)
        assert show.ends_at - show.starts_at == timedelta(minutes=115)
        audit = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "show.create")
        ).one()
        assert audit.actor_id == admin_id
    week = client.get(f"/admin/shows?screen={screen_id}&week={day.isoformat()}")
    assert week.status_code == 200 and "Dune" in week.get_data(as_text=True)
    clash = post(client, "/admin/shows/new", form | {"start_time": "20:00"})
    assert clash.status_code == 409
    html = clash.get_data(as_text=True)
    assert "Hall 1 is busy then" in html and "Free at that time: Hall 2" in html
    bad = post(client, "/admin/shows/new", form | {"base_price_coins": "0", "start_time": ""})
    assert bad.status_code == 422
    past = post(client, "/admin/shows/new", form | {"start_date": "2020-01-01"})
    assert past.status_code == 422 and "past" in past.get_data(as_text=True)
    far = post(client, "/admin/shows/new", form | {"start_date": "2099-01-01"})
    assert far.status_code == 422
    assert "Schedule at most 730 days ahead." in far.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Show)) == 1


def test_edit_show_moves_it_until_tickets_are_sold(backend, app, client):
    admin_client(client, app)
    with app.app_context():
        movie = factories.make_movie(duration=100)
        screen = factories.make_screen(name="Edit")
        show = factories.make_show(movie, screen, starts_at=_start())
        show_id, movie_id, screen_id = show.id, movie.id, screen.id
        tz = app.config["TIMEZONE"]
        local = _local(show.starts_at, tz)
    form = {
        "movie_id": movie_id,
        "screen_id": screen_id,
        "start_date": local.date().isoformat(),
        "start_time": (local + timedelta(hours=1)).strftime("%H:%M"),
        "base_price_coins": "14",
    }
    assert post(client, f"/admin/shows/{show_id}", form).status_code == 303
    with app.app_context():
        show = db.session.get(Show, show_id)
        assert show.base_price_coins == 14
        assert show.ends_at - show.starts_at == timedelta(minutes=115)
        factories.make_booking(factories.make_user(), show, ("A1",))
    moved = post(client, f"/admin/shows/{show_id}", form | {"start_time": local.strftime("%H:%M")})
    assert moved.status_code == 409 and "Cancel the show instead" in moved.get_data(as_text=True)
    repriced = post(client, f"/admin/shows/{show_id}", form | {"base_price_coins": "20"})
    assert repriced.status_code == 303
    with app.app_context():
        assert [a for (a,) in db.session.execute(select(AuditEntry.action))] == [
            "show.update",
            "show.update",
        ]
        assert db.session.scalar(select(Ticket.price_coins)) == 14  # frozen at sale, not 20


def test_cancel_show_refunds_everyone_in_full_and_queues_emails(backend, app, client):
    admin_id = admin_client(client, app)
    with app.app_context():
        show = factories.make_show(starts_in=timedelta(hours=1), price=10)
        alice = factories.make_user(coins=100)
        bob = factories.make_user(coins=100)
        factories.make_booking(alice, show, ("A1", "A2"))
        factories.make_booking(bob, show, ("B1",), price=15)
        show_id = show.id
        ids = (alice.id, bob.id)
        emails = {alice.email, bob.email}
    unconfirmed = post(client, f"/admin/shows/{show_id}/cancel", {"reason": "Projector fault"})
    assert unconfirmed.status_code == 422
    assert "Tick the box to confirm" in unconfirmed.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Show, show_id).status == "scheduled"
    response = post(
        client, f"/admin/shows/{show_id}/cancel", {"reason": "Projector fault", "confirm": "y"}
    )
    assert response.status_code == 303
    with app.app_context():
        balances = [
            db.session.scalar(select(Wallet.balance_coins).where(Wallet.user_id == u)) for u in ids
        ]
        assert balances == [100, 100]
        assert db.session.get(Show, show_id).status == "cancelled"
        assert set(db.session.scalars(select(Booking.status))) == {"cancelled"}
        refunds = list(db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "refund")))
        assert sorted(e.amount_coins for e in refunds) == [15, 20]
        assert all(e.actor_id == admin_id for e in refunds)
        outbox = {m.to_address for m in db.session.scalars(select(OutboxMessage))}
        assert outbox == emails
        assert db.session.scalar(
            select(AuditEntry.action).where(AuditEntry.action == "show.cancel")
        )
    again = post(client, f"/admin/shows/{show_id}/cancel", {"confirm": "y"})
    assert again.status_code == 409


def test_update_show_refuses_started_show(backend, ctx):
    show = factories.make_show(starts_in=timedelta(minutes=-5))
    with pytest.raises(Conflict):
        scheduling.update_show(
            actor_id=factories.make_user().id,
            show_id=show.id,
            movie_id=show.movie_id,
            screen_id=show.screen_id,
            starts_at=show.starts_at,
            base_price_coins=11,
            now=datetime.now(UTC),
        )


def test_moving_a_show_to_another_screen_drops_its_holds(backend, ctx):
    from filmsphere.models import Role, Seat, SeatHold
    from filmsphere.services.booking.checkout import checkout
    from filmsphere.services.booking.holds import toggle_hold

    admin = factories.make_user(Role.ADMIN)
    customer = factories.make_user()
    show = factories.make_show(price=10)
    seat = db.session.scalar(
        select(Seat).where(Seat.screen_id == show.screen_id, Seat.row_label == "A")
    )
    toggle_hold(customer.id, show.id, seat.id, factories.now())
    other_screen = factories.make_screen()
    scheduling.update_show(
        actor_id=admin.id,
        show_id=show.id,
        movie_id=show.movie_id,
        screen_id=other_screen.id,
        starts_at=show.starts_at,
        base_price_coins=10,
        now=factories.now(),
    )
    assert db.session.scalar(select(func.count()).select_from(SeatHold)) == 0
    with pytest.raises(Exception, match="no seats held"):
        checkout(customer.id, show.id, factories.now(), "tok-moved")


def test_checkout_refuses_a_hold_on_a_seat_of_another_screen(backend, ctx):
    from filmsphere.models import Seat, SeatHold
    from filmsphere.services.booking.checkout import checkout

    customer = factories.make_user(coins=100)
    show = factories.make_show(price=10)
    stray = factories.make_screen()
    seat = db.session.scalar(select(Seat).where(Seat.screen_id == stray.id))
    # A hold that slipped through a move (written directly, as a race could leave it).
    db.session.add(
        SeatHold(
            show_id=show.id,
            seat_id=seat.id,
            user_id=customer.id,
            created_at=factories.now(),
            expires_at=factories.now() + timedelta(minutes=5),
        )
    )
    db.session.commit()
    with pytest.raises(Conflict, match="seating changed"):
        checkout(customer.id, show.id, factories.now(), "tok-stray")
    db.session.execute(text("DELETE FROM seat_holds"))
    db.session.commit()
