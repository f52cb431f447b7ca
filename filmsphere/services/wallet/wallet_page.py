"""The wallet page, read only: the balance, a page of the ledger, when refill is next possible."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import Row, Select, select

from ...extensions import db
from ...models import Booking, LedgerEntry, LedgerKind, Wallet
from ..errors import NotFound
from ..paging import Key, keyset_page
from .wallet import next_refill_at, refill_needed

LEDGER_PAGE_SIZE = 20

KIND_LABELS: dict[str, str] = {
    LedgerKind.SIGNUP_GRANT: "Welcome coins",
    LedgerKind.REFILL: "Refill",
    LedgerKind.TOPUP: "Top-up",
    LedgerKind.BOOKING_CHARGE: "Booking payment",
    LedgerKind.REFUND: "Refund",
    LedgerKind.ADMIN_ADJUSTMENT: "Adjustment by the cinema",
}


@dataclass(frozen=True)
class LedgerRow:
    """One ledger entry as the wallet page shows it."""

    id: int
    kind: str
    kind_label: str
    amount_coins: int
    balance_after_coins: int
    created_at: datetime
    booking_reference: str | None
    reason: str | None


@dataclass(frozen=True)
class WalletPage:
    """Balance, one page of the ledger (newest first) and when refill is next possible."""

    balance_coins: int
    entries: list[LedgerRow]
    previous: str | None  # cursor of the page of newer entries
    next: str | None  # cursor of the page of older entries
    is_first: bool
    refill_enabled: bool
    refill_target_coins: int
    refill_interval_minutes: int
    next_refill_at: datetime | None  # None: available now (as far as the page can tell)
    refill_not_needed: bool  # the balance is already at or above the refill target

    @property
    def refill_available(self) -> bool:
        """Whether a refill would be accepted now (advisory: refill() decides)."""
        return self.refill_enabled and self.next_refill_at is None and not self.refill_not_needed


def wallet_page(
    user_id: int,
    cursor: str | None,
    now: datetime,
    *,
    refill_enabled: bool,
    refill_target_coins: int,
    refill_interval_minutes: int,
    per_page: int = LEDGER_PAGE_SIZE,
) -> WalletPage:
    """The wallet page's data: the ledger page `cursor` names (keyset: any page reads one
    page of entries). Reads only; raises BadCursor for a forged cursor. The refill hint is
    advisory (services.wallet.refill decides under the wallet lock)."""
    wallet = _wallet_of(user_id)
    page = keyset_page(
        _ledger_query(wallet),
        [Key(LedgerEntry.id, int)],
        lambda row: [row[0].id],
        cursor,
        per_page,
        descending=True,
    )
    return WalletPage(
        balance_coins=wallet.balance_coins,
        entries=_ledger_rows(page.rows),
        previous=page.previous,
        next=page.next,
        is_first=page.is_first,
        refill_enabled=refill_enabled,
        refill_target_coins=refill_target_coins,
        refill_interval_minutes=refill_interval_minutes,
        next_refill_at=next_refill_at(wallet, now, refill_interval_minutes),
        refill_not_needed=not refill_needed(wallet.balance_coins, refill_target_coins),
    )


def customer_wallet_page(user_id: int, cursor: str | None, now: datetime) -> WalletPage:
    """wallet_page with the refill settings of this installation (REFILL_ENABLED,
    REFILL_TARGET_COINS, REFILL_INTERVAL_MINUTES): what the wallet page shows. Reads only.
    Raises NotFound for an account without a wallet, BadCursor for a forged cursor."""
    config = current_app.config
    return wallet_page(
        user_id,
        cursor,
        now,
        refill_enabled=bool(config["REFILL_ENABLED"]),
        refill_target_coins=int(config["REFILL_TARGET_COINS"]),
        refill_interval_minutes=int(config["REFILL_INTERVAL_MINUTES"]),
    )


def _wallet_of(user_id: int) -> Wallet:
    wallet = db.session.scalars(select(Wallet).where(Wallet.user_id == user_id)).one_or_none()
    if wallet is None:
        raise NotFound("This account has no wallet.")
    return wallet


def _ledger_query(wallet: Wallet) -> Select[Any]:
    return (
        select(LedgerEntry, Booking.reference)
        .outerjoin(Booking, Booking.id == LedgerEntry.booking_id)
        .where(LedgerEntry.wallet_id == wallet.id)
    )


def _ledger_rows(rows: Sequence[Row[Any]]) -> list[LedgerRow]:
    return [
        LedgerRow(
            id=entry.id,
            kind=entry.kind,
            kind_label=KIND_LABELS.get(entry.kind, entry.kind.replace("_", " ").capitalize()),
            amount_coins=entry.amount_coins,
            balance_after_coins=entry.balance_after_coins,
            created_at=entry.created_at,
            booking_reference=reference,
            reason=entry.reason,
        )
        for entry, reference in rows
    ]
