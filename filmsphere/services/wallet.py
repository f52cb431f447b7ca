"""Wallet writes: every balance change is one ledger entry, under the wallet's row lock.

These helpers run inside a caller's write_transaction(); they never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from ..extensions import db
from ..models import LedgerEntry, LedgerKind, Wallet
from .errors import InsufficientCoins, NotFound
from .transaction import race_point


def lock_wallet(user_id: int) -> Wallet:
    """SELECT … FOR UPDATE the user's wallet (SQLite: the write transaction already holds
    the database lock) and return it with a fresh balance."""
    wallet = db.session.scalars(
        select(Wallet)
        .where(Wallet.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if wallet is None:
        raise NotFound("This account has no wallet.")
    return wallet


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


def unbalanced_wallets() -> list[tuple[int, int, int]]:
    """(wallet id, balance, ledger sum) for every wallet whose balance is not the sum of its
    ledger entries, or whose last entry's balance_after disagrees. Empty means balanced."""
    sums = (
        select(
            LedgerEntry.wallet_id, func.coalesce(func.sum(LedgerEntry.amount_coins), 0).label("s")
        )
        .group_by(LedgerEntry.wallet_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Wallet.id, Wallet.balance_coins, func.coalesce(sums.c.s, 0))
        .outerjoin(sums, sums.c.wallet_id == Wallet.id)
        .where(Wallet.balance_coins != func.coalesce(sums.c.s, 0))
        .order_by(Wallet.id)
    ).all()
    return [(int(a), int(b), int(c)) for a, b, c in rows]
