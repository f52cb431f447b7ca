"""Races on PostgreSQL with real threads and separate connections, each forced with a
barrier or events at the services' race points, each with a negative control that
switches the guard off (locks.guards_off for the row locks and checks, dropped constraints
for the database's last word) and shows the same test would catch the bug."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, func, select, text

from filmsphere.extensions import db
from filmsphere.models import (
    AuditEntry,
    Booking,
    LedgerEntry,
    LedgerKind,
    SeatHold,
    Ticket,
    Wallet,
)
from filmsphere.services.booking import cancellation, holds
from filmsphere.services.booking.cancellation import cancel_tickets
from filmsphere.services.booking.checkout import Paid, checkout
from filmsphere.services.booking.holds import toggle_hold
from filmsphere.services.errors import AlreadyDone, DomainError, SeatUnavailable, ShowNotBookable
from filmsphere.services.locks import guards_off, lock_wallet
from filmsphere.services.ops.cleanup import run_cleanup
from filmsphere.services.transaction import set_race_hook, write_transaction
from filmsphere.services.wallet import wallet
from tests import factories as f

from .test_checkout import balance, hold
from .test_holds import seat_id

pytestmark = pytest.mark.postgres_only

WAIT = 1.5  # seconds a forced race waits for a partner that a lock is holding back


def run_parallel(app: Flask, *calls: Callable[[], Any]) -> list[Any]:
    """Run each call in its own thread with its own app context (own session and
    connection); return results or the exceptions raised, in order."""
    results: list[Any] = [None] * len(calls)

    def work(i: int, call: Callable[[], Any]) -> None:
        with app.app_context():
            try:
                results[i] = call()
            except Exception as exc:  # noqa: BLE001 - the result under test
                results[i] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive(), "a racing thread hung"
    return results


@contextmanager
def race_barrier(name: str, parties: int = 2) -> Iterator[None]:
    """Make `parties` threads meet at the race point before any goes on. If a lock holds
    one back, the others stop waiting after WAIT seconds (and go on alone)."""
    barrier = threading.Barrier(parties, timeout=WAIT)

    def hook() -> None:
        with suppress(threading.BrokenBarrierError):
            barrier.wait()

    set_race_hook(name, hook)
    try:
        yield
    finally:
        set_race_hook(name, None)


@contextmanager
def dropped(*statements: tuple[str, str]) -> Iterator[None]:
    """Drop constraints/indexes for a negative control, restore them afterwards."""
    for drop, _ in statements:
        db.session.execute(text(drop))
    db.session.commit()
    try:
        yield
    finally:
        db.session.rollback()
        for _, restore in statements:
            db.session.execute(text(restore))
        db.session.commit()


HOLDS_UNIQUE = (
    "ALTER TABLE seat_holds DROP CONSTRAINT uq_seat_holds_show_seat",
    "ALTER TABLE seat_holds ADD CONSTRAINT uq_seat_holds_show_seat UNIQUE (show_id, seat_id)",
)
TICKETS_UNIQUE = (
    "DROP INDEX uq_tickets_live_show_seat",
    "CREATE UNIQUE INDEX uq_tickets_live_show_seat ON tickets (show_id, seat_id) "
    "WHERE status = 'active'",
)
TOKEN_UNIQUE = (
    "ALTER TABLE bookings DROP CONSTRAINT uq_bookings_checkout_token",
    "ALTER TABLE bookings ADD CONSTRAINT uq_bookings_checkout_token UNIQUE (checkout_token)",
)


def count(model: Any, *where: Any) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


# --- two customers click the same seat ------------------------------------------------


def _hold_race(app: Flask) -> tuple[list[Any], int]:
    alice, bob, show = f.make_user(), f.make_user(), f.make_show()
    seat, show_id, now = seat_id(show, "A3"), show.id, f.now()
    with race_barrier("holds.before_insert"):
        results = run_parallel(
            app,
            lambda: toggle_hold(alice.id, show_id, seat, now),
            lambda: toggle_hold(bob.id, show_id, seat, now),
        )
    return results, count(SeatHold, SeatHold.seat_id == seat)


def test_two_customers_hold_one_seat_exactly_one_wins(backend: str, ctx: Flask) -> None:
    results, holds_rows = _hold_race(ctx)
    winners = [r for r in results if isinstance(r, holds.HoldResult)]
    assert len(winners) == 1 and holds_rows == 1
    assert sum(isinstance(r, SeatUnavailable) for r in results) == 1


def test_without_the_seat_lock_the_unique_constraint_still_has_the_last_word(
    backend: str, ctx: Flask
) -> None:
    with guards_off("seats"):
        results, holds_rows = _hold_race(ctx)
    assert holds_rows == 1
    assert sum(isinstance(r, SeatUnavailable) for r in results) == 1


def test_negative_control_without_lock_and_constraint_both_win(backend: str, ctx: Flask) -> None:
    with guards_off("seats"), dropped(HOLDS_UNIQUE):
        results, holds_rows = _hold_race(ctx)
        db.session.execute(delete(SeatHold))
        db.session.commit()
    assert holds_rows == 2, "the race was not forced: the test could not fail"
    assert all(isinstance(r, holds.HoldResult) for r in results)


# --- an admin cancels the show while a hold or a checkout is in flight ------------------


def _hold_while_the_show_is_cancelled(app: Flask) -> tuple[Any, int]:
    customer, admin, show = f.make_user(), f.make_user(role="admin"), f.make_show()
    seat, show_id, now = seat_id(show, "A3"), show.id, f.now()

    def cancel_meanwhile() -> None:
        (done,) = run_parallel(app, lambda: cancellation.cancel_show(admin.id, show_id, now))
        assert not isinstance(done, Exception), done

    set_race_hook("holds.before_insert", cancel_meanwhile)
    try:
        (result,) = run_parallel(app, lambda: toggle_hold(customer.id, show_id, seat, now))
    finally:
        set_race_hook("holds.before_insert", None)
    return result, count(SeatHold, SeatHold.show_id == show_id)


def test_a_hold_in_flight_when_the_show_is_cancelled_is_refused(backend: str, ctx: Flask) -> None:
    result, hold_rows = _hold_while_the_show_is_cancelled(ctx)
    assert isinstance(result, ShowNotBookable) and hold_rows == 0


def test_negative_control_without_the_for_sale_check_the_hold_lands_on_a_cancelled_show(
    backend: str, ctx: Flask
) -> None:
    with guards_off("shows"):  # the hold's INSERT no longer checks the show's status
        result, hold_rows = _hold_while_the_show_is_cancelled(ctx)
    assert isinstance(result, holds.HoldResult) and hold_rows == 1


def _checkout_while_the_show_is_cancelled(app: Flask) -> tuple[Any, int, int]:
    customer, admin = f.make_user(coins=100), f.make_user(role="admin")
    show = f.make_show(price=10)
    hold(customer.id, show, "A1")
    show_id, now = show.id, f.now()

    def cancel_meanwhile() -> None:
        (done,) = run_parallel(app, lambda: cancellation.cancel_show(admin.id, show_id, now))
        assert not isinstance(done, Exception), done

    set_race_hook("checkout.before_charge", cancel_meanwhile)
    try:
        (result,) = run_parallel(app, lambda: checkout(customer.id, show_id, now, "race"))
    finally:
        set_race_hook("checkout.before_charge", None)
    active = count(Ticket, Ticket.show_id == show_id, Ticket.status == "active")
    return result, active, balance(customer.id)


def test_a_checkout_in_flight_when_the_show_is_cancelled_charges_nothing(
    backend: str, ctx: Flask
) -> None:
    result, active, coins = _checkout_while_the_show_is_cancelled(ctx)
    assert isinstance(result, ShowNotBookable)
    assert (active, coins) == (0, 100)


def test_negative_control_without_the_show_lock_a_paid_ticket_outlives_the_cancellation(
    backend: str, ctx: Flask
) -> None:
    with guards_off("shows"):
        result, active, coins = _checkout_while_the_show_is_cancelled(ctx)
    assert isinstance(result, Paid)
    assert (active, coins) == (1, 90)  # paid for a show that no longer takes place


# --- two checkouts of the same holds ----------------------------------------------------


def _checkout_race(app: Flask, tokens: tuple[str, str]) -> tuple[list[Any], int, int, int]:
    user = f.make_user(coins=100)
    show = f.make_show(price=10)
    hold(user.id, show, "A1", "A2")
    show_id, now = show.id, f.now()
    with race_barrier("checkout.after_lock"):
        results = run_parallel(
            app,
            lambda: checkout(user.id, show_id, now, tokens[0]).id,
            lambda: checkout(user.id, show_id, now, tokens[1]).id,
        )
    charges = count(LedgerEntry, LedgerEntry.kind == LedgerKind.BOOKING_CHARGE)
    return results, charges, count(Booking), balance(user.id)


@pytest.mark.parametrize("tokens", [("same", "same"), ("tab-1", "tab-2")])
def test_two_checkouts_of_the_same_holds_charge_once(
    backend: str, ctx: Flask, tokens: tuple[str, str]
) -> None:
    results, charges, bookings, left = _checkout_race(ctx, tokens)
    assert (charges, bookings, left) == (1, 1, 80)
    if tokens[0] == tokens[1]:
        assert results[0] == results[1] and isinstance(results[0], int)
    else:
        assert sum(isinstance(r, int) for r in results) == 1
        assert sum(isinstance(r, DomainError) for r in results) == 1


@pytest.mark.parametrize("tokens", [("same", "same"), ("tab-1", "tab-2")])
def test_negative_control_checkout_without_locks_and_constraints_charges_twice(
    backend: str, ctx: Flask, tokens: tuple[str, str]
) -> None:
    with guards_off("seats", "holds"), dropped(TICKETS_UNIQUE, TOKEN_UNIQUE):
        results, charges, bookings, left = _checkout_race(ctx, tokens)
        db.session.execute(text("DELETE FROM outbox_messages"))
        db.session.execute(text("UPDATE tickets SET status = 'cancelled'"))
        db.session.execute(text("UPDATE bookings SET checkout_token = checkout_token || id"))
        db.session.commit()
    assert (charges, bookings, left) == (2, 2, 60), results


# --- checkout racing cleanup on an expiring hold ---------------------------------------


def _checkout_vs_cleanup(app: Flask) -> tuple[Any, Any, int]:
    """Cleanup picks the expired hold first; checkout (with a clock a second earlier)
    reads it and waits until cleanup has committed before writing."""
    user = f.make_user(coins=100)
    show = f.make_show(price=10)
    t0 = f.now()
    hold(user.id, show, "A1", now=t0)
    show_id = show.id
    deadline = t0 + timedelta(minutes=10)
    cleanup_picked, checkout_read, cleanup_done = (threading.Event() for _ in range(3))

    def cleanup_hook() -> None:
        cleanup_picked.set()
        checkout_read.wait(WAIT)

    def checkout_hook() -> None:
        checkout_read.set()
        cleanup_done.wait(WAIT)

    def run_cleanup_now() -> Any:
        try:
            return run_cleanup(deadline + timedelta(seconds=1))
        finally:
            cleanup_done.set()

    def run_checkout() -> Any:
        cleanup_picked.wait(WAIT)
        return checkout(user.id, show_id, deadline - timedelta(seconds=1), "t").id

    set_race_hook("cleanup.before_delete", cleanup_hook)
    set_race_hook("checkout.after_lock", checkout_hook)
    try:
        cleaned, paid = run_parallel(app, run_cleanup_now, run_checkout)
    finally:
        set_race_hook("cleanup.before_delete", None)
        set_race_hook("checkout.after_lock", None)
    return cleaned, paid, count(Ticket, Ticket.status == "active")


def test_checkout_racing_cleanup_is_paid_or_released_never_both(backend: str, ctx: Flask) -> None:
    cleaned, paid, tickets = _checkout_vs_cleanup(ctx)
    released = cleaned.holds_deleted == 1
    assert released != (tickets == 1), (cleaned, paid)
    if released:
        assert isinstance(paid, DomainError) and balance_of_all() == 100


def test_checkout_first_then_cleanup_skips_the_locked_hold(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=100)
    show = f.make_show(price=10)
    t0 = f.now()
    hold(user.id, show, "A1", now=t0)
    show_id, deadline = show.id, t0 + timedelta(minutes=10)
    locked, cleaned = threading.Event(), threading.Event()

    def checkout_hook() -> None:
        locked.set()
        cleaned.wait(WAIT)

    def run_cleanup_later() -> Any:
        locked.wait(WAIT)
        try:
            return run_cleanup(deadline + timedelta(seconds=1))
        finally:
            cleaned.set()

    set_race_hook("checkout.after_lock", checkout_hook)
    try:
        paid, result = run_parallel(
            ctx,
            lambda: checkout(user.id, show_id, deadline - timedelta(seconds=1), "t").id,
            run_cleanup_later,
        )
    finally:
        set_race_hook("checkout.after_lock", None)
    assert isinstance(paid, int) and result.holds_deleted == 0
    assert count(Ticket, Ticket.status == "active") == 1


def test_negative_control_checkout_without_hold_lock_pays_a_released_hold(
    backend: str, ctx: Flask
) -> None:
    with guards_off("holds"):
        cleaned, paid, tickets = _checkout_vs_cleanup(ctx)
    assert cleaned.holds_deleted == 1 and tickets == 1 and isinstance(paid, int), (
        "the race was not forced: the test could not fail"
    )


def balance_of_all() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.sum(Wallet.balance_coins))) or 0


# --- two refunds of one ticket ----------------------------------------------------------


def _refund_race(app: Flask) -> tuple[list[Any], int, int]:
    user = f.make_user(coins=100)
    show = f.make_show(price=10)
    booking = f.make_booking(user, show, ("A1",))
    ref, user_id, now = booking.reference, user.id, f.now()
    with race_barrier("cancellation.before_refund"):
        results = run_parallel(
            app,
            lambda: cancel_tickets(user_id, ref, None, now),
            lambda: cancel_tickets(user_id, ref, None, now),
        )
    return results, count(LedgerEntry, LedgerEntry.kind == LedgerKind.REFUND), balance(user_id)


def test_two_refunds_of_one_ticket_refund_once(backend: str, ctx: Flask) -> None:
    results, refunds, left = _refund_race(ctx)
    assert refunds == 1 and left == 100
    assert sum(isinstance(r, cancellation.RefundQuote) for r in results) == 1


def test_negative_control_refund_without_booking_lock_refunds_twice(
    backend: str, ctx: Flask
) -> None:
    with guards_off("bookings"):
        results, refunds, left = _refund_race(ctx)
    assert refunds == 2 and left == 110, results


# --- many debits against one wallet ----------------------------------------------------


def _debit_race(app: Flask, threads: int = 8) -> tuple[list[Any], int, int]:
    user = f.make_user(coins=35)
    user_id = user.id

    def debit() -> int:
        with write_transaction():
            locked = lock_wallet(user_id)
            from filmsphere.services.transaction import race_point

            race_point("test.debit")
            wallet.post_entry(locked, LedgerKind.ADMIN_ADJUSTMENT, -10, f.now())
        return 1

    with race_barrier("test.debit", parties=threads):
        results = run_parallel(app, *([debit] * threads))
    db.session.expire_all()
    ledger_sum = db.session.scalar(
        select(func.sum(LedgerEntry.amount_coins))
        .join(Wallet, Wallet.id == LedgerEntry.wallet_id)
        .where(Wallet.user_id == user_id)
    )
    return results, balance(user_id), int(ledger_sum or 0)


def test_concurrent_debits_never_overdraw(backend: str, ctx: Flask) -> None:
    results, left, ledger_sum = _debit_race(ctx)
    assert results.count(1) == 3 and left == 5 and ledger_sum == 5


def test_negative_control_debits_without_wallet_lock_overdraw(backend: str, ctx: Flask) -> None:
    with guards_off("wallets"):
        results, left, ledger_sum = _debit_race(ctx)
    try:
        assert results.count(1) > 3 and ledger_sum < 0, (results, left, ledger_sum)
    finally:
        # Put the wallet straight for the harness's ledger check (the ledger is
        # append-only, so a correcting entry it is).
        found = db.session.scalars(select(Wallet)).all()
        for w in found:
            total = db.session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount_coins), 0)).where(
                    LedgerEntry.wallet_id == w.id
                )
            )
            if total != w.balance_coins:
                db.session.add(
                    LedgerEntry(
                        wallet_id=w.id,
                        kind=LedgerKind.ADMIN_ADJUSTMENT,
                        amount_coins=w.balance_coins - int(total or 0),
                        balance_after_coins=w.balance_coins,
                        reason="test repair",
                        created_at=f.now(),
                    )
                )
        db.session.commit()


# --- two cleanups at once -----------------------------------------------------------------


def test_two_cleanups_at_once_share_the_work(backend: str, ctx: Flask) -> None:
    show = f.make_show(screen=f.make_screen("SSSSSSSS"))
    t0 = f.now()
    for n in range(1, 9):
        hold(f.make_user().id, show, f"A{n}", now=t0)
    later = t0 + timedelta(minutes=11)
    with race_barrier("cleanup.before_delete"):
        first, second = run_parallel(
            ctx,
            lambda: run_cleanup(later, batch_size=3),
            lambda: run_cleanup(later, batch_size=3),
        )
    # SKIP LOCKED: neither waits for nor double-deletes the other's batch.
    assert first.holds_deleted + second.holds_deleted == 8, (first, second)
    assert first.holds_deleted and second.holds_deleted
    assert count(SeatHold) == 0


# --- two admins cancel one show at once ---------------------------------------------------


def test_two_admins_cancelling_one_show_cancel_it_once(backend: str, ctx: Flask) -> None:
    first, second = f.make_user(role="admin"), f.make_user(role="admin")
    show = f.make_show()
    show_id, now = show.id, f.now()
    with race_barrier("cancel_show.before_show_lock"):
        results = run_parallel(
            ctx,
            lambda: cancellation.cancel_show(first.id, show_id, now),
            lambda: cancellation.cancel_show(second.id, show_id, now),
        )
    assert sum(isinstance(r, AlreadyDone) for r in results) == 1, results
    assert count(AuditEntry, AuditEntry.action == "show.cancel") == 1


# --- a customer closes the account while paying in another tab ------------------------


def _close_while_checking_out(app: Flask) -> tuple[Any, Any, bool, int]:
    from filmsphere.models import User
    from filmsphere.services.accounts.account_changes import close_account

    customer = f.make_user(coins=100)
    show = f.make_show(price=10)
    hold(customer.id, show, "A1")
    user_id, show_id, now = customer.id, show.id, f.now()
    closing: dict[str, Any] = {}

    def close_meanwhile() -> None:
        # The checkout holds its locks here; closing starts and waits for them (or not).
        def run() -> None:
            (closing["result"],) = run_parallel(
                app, lambda: close_account(user_id, f.PASSWORD, now)
            )

        closing["thread"] = threading.Thread(target=run)
        closing["thread"].start()
        closing["thread"].join(timeout=WAIT)

    set_race_hook("checkout.before_charge", close_meanwhile)
    try:
        (paid,) = run_parallel(app, lambda: checkout(user_id, show_id, now, "race"))
    finally:
        set_race_hook("checkout.before_charge", None)
    closing["thread"].join(timeout=30)
    db.session.expire_all()
    user = db.session.get(User, user_id)
    assert user is not None
    active = count(Ticket, Ticket.show_id == show_id, Ticket.status == "active")
    return paid, closing["result"], user.closed_at is not None, active


def test_closing_while_paying_refuses_the_close_once_the_ticket_exists(
    backend: str, ctx: Flask
) -> None:
    from filmsphere.services.accounts.account_changes import HasUpcomingTickets

    paid, closed, is_closed, active = _close_while_checking_out(ctx)
    assert isinstance(paid, Paid) and active == 1
    assert isinstance(closed, HasUpcomingTickets) and not is_closed
    assert wallet.unbalanced_wallets() == []


def test_negative_control_closing_without_the_hold_lock_leaves_a_closed_account_a_ticket(
    backend: str, ctx: Flask
) -> None:
    with guards_off("holds", "wallets"):
        paid, closed, is_closed, active = _close_while_checking_out(ctx)
    assert isinstance(paid, Paid) and active == 1
    assert is_closed  # the bug the lock prevents: a live ticket on a closed account
