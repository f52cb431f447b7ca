"""Cleanup: expired holds deleted, past shows finished, paid data untouched; refill."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from filmsphere.extensions import db
from filmsphere.models import Booking, LedgerEntry, SeatHold, Show, Ticket, Wallet
from filmsphere.services.errors import Conflict, DomainError
from filmsphere.services.ops.cleanup import run_cleanup
from filmsphere.services.wallet.wallet import refill
from tests import factories as f

from .test_checkout import balance, hold


def count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_cleanup_deletes_only_expired_holds(backend: str, ctx: Flask) -> None:
    early, late = f.make_user(), f.make_user()
    show = f.make_show()
    t0 = f.now()
    hold(early.id, show, "A1", "A2", now=t0)
    hold(late.id, show, "A5", now=t0 + timedelta(minutes=5))
    result = run_cleanup(t0 + timedelta(minutes=10))
    assert (result.holds_deleted, result.shows_finished) == (2, 0)
    assert str(result) == (
        "cleanup: 2 expired hold(s) deleted, 0 show(s) marked finished, "
        "0 expired log-in session(s) deleted"
    )
    assert list(db.session.scalars(select(SeatHold.user_id))) == [late.id]
    again = run_cleanup(t0 + timedelta(minutes=10))
    assert again.holds_deleted == 0  # idempotent


def test_cleanup_works_in_batches(backend: str, ctx: Flask) -> None:
    show = f.make_show(screen=f.make_screen("SSSSSSS"))
    t0 = f.now()
    for n in range(1, 8):
        hold(f.make_user().id, show, f"A{n}", now=t0)
    result = run_cleanup(t0 + timedelta(minutes=11), batch_size=3)
    assert result.holds_deleted == 7 and count(SeatHold) == 0


def test_cleanup_finishes_past_shows_and_keeps_paid_data(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    show = f.make_show(starts_in=timedelta(hours=1))
    f.make_booking(user, show, ("A1",))
    future = f.make_show(starts_in=timedelta(days=3))
    ledger_before = count(LedgerEntry)
    result = run_cleanup(show.ends_at)
    assert result.shows_finished == 1
    db.session.expire_all()
    assert db.session.get(Show, show.id).status == "finished"  # type: ignore[union-attr]
    assert db.session.get(Show, future.id).status == "scheduled"  # type: ignore[union-attr]
    assert count(Booking) == 1 and count(Ticket) == 1 and count(LedgerEntry) == ledger_before
    assert run_cleanup(show.ends_at).shows_finished == 0


def test_cleanup_command(backend: str, app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0, result.output
    assert "expired hold(s) deleted" in result.output


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"REFILL_ENABLED": True, "REFILL_TARGET_COINS": 1500, "REFILL_INTERVAL_MINUTES": 10}


def test_refill_tops_up_to_the_target_once_per_interval(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=200)
    t0 = f.now()
    entry = refill(user.id, t0)
    assert (entry.kind, entry.amount_coins, entry.balance_after_coins) == ("refill", 1300, 1500)
    assert balance(user.id) == 1500
    with pytest.raises(DomainError, match="already 1500"):
        refill(user.id, t0 + timedelta(minutes=30))
    f.make_booking(user, f.make_show(), ("A1",))
    with pytest.raises(Conflict, match="next refill is available in 5 minutes"):
        refill(user.id, t0 + timedelta(minutes=5))
    assert refill(user.id, t0 + timedelta(minutes=10)).amount_coins == 10
    wallet = db.session.scalar(select(Wallet).where(Wallet.user_id == user.id))
    assert wallet is not None and wallet.last_refill_at == t0 + timedelta(minutes=10)


def test_refill_off_by_default_in_production_settings(backend: str, ctx: Flask) -> None:
    ctx.config["REFILL_ENABLED"] = False
    user = f.make_user(coins=0)
    with pytest.raises(DomainError, match="not available"):
        refill(user.id, f.now())
    assert balance(user.id) == 0
