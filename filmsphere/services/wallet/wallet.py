"""Wallet writes: every balance change is one ledger entry, under the wallet's row lock.

These helpers run inside a caller's write_transaction(); they never commit.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from ...extensions import db
from ...models import LedgerEntry, LedgerKind, Wallet
from ...wording import format_time
from ..errors import Conflict, DomainError, InsufficientCoins
from ..locks import lock_wallet
from ..transaction import race_point, write_transaction


def post_entry(
    wallet: Wallet,
    kind: LedgerKind,
    amount_coins: int,
    now: datetime,
    *,
    booking_id: int | None = None,
    ticket_id: int | None = None,
    topup_id: int | None = None,
    actor_id: int | None = None,
    reason: str | None = None,
) -> LedgerEntry:
    """Change a locked wallet's balance by `amount_coins` and append the ledger entry.

    Raises InsufficientCoins when the balance would go below zero (the database's check
    constraint would refuse it anyway). The caller must hold the wallet lock.
    """
    if amount_coins == 0:
        raise ValueError("a ledger entry must change the balance")
    new_balance = wallet.balance_coins + amount_coins
    if new_balance < 0:
        raise InsufficientCoins(
            f"You need {-amount_coins} coins but have {wallet.balance_coins}. "
            "Top up or refill your wallet, or pick fewer seats."
        )
    race_point("wallet.before_write")
    wallet.balance_coins = new_balance
    wallet.updated_at = now
    entry = LedgerEntry(
        wallet_id=wallet.id,
        kind=kind,
        amount_coins=amount_coins,
        balance_after_coins=new_balance,
        booking_id=booking_id,
        ticket_id=ticket_id,
        topup_id=topup_id,
        actor_id=actor_id,
        reason=reason,
        created_at=now,
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def open_wallet(user_id: int, grant_coins: int, now: datetime) -> Wallet:
    """Create a new customer's wallet; the signup grant is its first ledger entry."""
    wallet = Wallet(user_id=user_id, balance_coins=0, updated_at=now)
    db.session.add(wallet)
    db.session.flush()
    if grant_coins > 0:
        post_entry(wallet, LedgerKind.SIGNUP_GRANT, grant_coins, now)
    return wallet


def unbalanced_wallets() -> list[tuple[int, int, int, int | None]]:
    """(wallet id, balance, ledger sum, newest entry's balance_after) for every wallet whose
    balance differs from the sum of its ledger entries or from its newest entry's
    balance_after. An empty list means every wallet is balanced."""
    sums = (
        select(
            LedgerEntry.wallet_id,
            func.sum(LedgerEntry.amount_coins).label("total"),
            func.max(LedgerEntry.id).label("last_id"),
        )
        .group_by(LedgerEntry.wallet_id)
        .subquery()
    )
    last = LedgerEntry.__table__.alias("last_entry")
    total = func.coalesce(sums.c.total, 0)
    rows = db.session.execute(
        select(Wallet.id, Wallet.balance_coins, total, last.c.balance_after_coins)
        .outerjoin(sums, sums.c.wallet_id == Wallet.id)
        .outerjoin(last, last.c.id == sums.c.last_id)
        .where(
            (Wallet.balance_coins != total)
            | (Wallet.balance_coins != func.coalesce(last.c.balance_after_coins, 0))
        )
        .order_by(Wallet.id)
    ).all()
    return [(int(a), int(b), int(c), None if d is None else int(d)) for a, b, c, d in rows]


def next_refill_at(wallet: Wallet, now: datetime, interval_minutes: int) -> datetime | None:
    """When `wallet` may be refilled again: None when nothing holds it back (it was never
    refilled, or its last refill is at least `interval_minutes` old). The one place the
    once-per-interval rule lives: refill() enforces it under the lock, the wallet page
    shows it. Pure; reads only the wallet object."""
    if wallet.last_refill_at is None:
        return None
    next_at = wallet.last_refill_at + timedelta(minutes=interval_minutes)
    return next_at if now < next_at else None


def refill_needed(balance_coins: int, target_coins: int) -> bool:
    """A refill tops up only a balance below the target."""
    return balance_coins < target_coins


def refill(user_id: int, now: datetime) -> LedgerEntry:
    """Top the wallet back up to REFILL_TARGET_COINS with one `refill` ledger entry.

    Allowed only where REFILL_ENABLED, at most once every REFILL_INTERVAL_MINUTES
    (Wallet.last_refill_at), and only when the balance is below the target. Locks the
    wallet row; commits. Raises DomainError (refill off, nothing to do) or Conflict (too
    soon, saying when the next refill is available).
    """
    config = current_app.config
    if not config.get("REFILL_ENABLED"):
        raise DomainError("Refills are not available here.")
    target = int(config["REFILL_TARGET_COINS"])
    every = int(config["REFILL_INTERVAL_MINUTES"])
    with write_transaction():
        wallet = lock_wallet(user_id)
        if not refill_needed(wallet.balance_coins, target):
            raise DomainError(
                f"Your balance is already {wallet.balance_coins} coins; a refill tops it up "
                f"to {target} only when it is lower."
            )
        next_at = next_refill_at(wallet, now, every)
        if next_at is not None:
            wait = next_at - now
            minutes = max(1, -(-int(wait.total_seconds()) // 60))
            raise Conflict(
                f"You can refill once every {every} minutes. The next refill is available "
                f"in {minutes} minute{'s' if minutes != 1 else ''} "
                f"(at {format_time(next_at)})."
            )
        entry = post_entry(wallet, LedgerKind.REFILL, target - wallet.balance_coins, now)
        wallet.last_refill_at = now
    return entry
