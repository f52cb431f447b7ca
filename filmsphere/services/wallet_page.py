"""The wallet page, read only: the balance, a page of the ledger, when refill is next possible."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select

from ..extensions import db
from ..models import Booking, LedgerEntry, LedgerKind, Wallet
from .errors import NotFound
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
    page: int
    pages: int
    total_entries: int
    refill_enabled: bool
    refill_target_coins: int
    refill_interval_minutes: int
    next_refill_at: datetime | None  # None: available now (as far as the page can tell)
    refill_not_needed: bool  # the balance is already at or above the refill target

    @property
    def refill_available(self) -> bool:
        """Whether a refill would be accepted now (advisory: refill() decides)."""
        return self.refill_enabled and self.next_refill_at is None and not self.refill_not_needed

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def wallet_page(
    user_id: int,
    page: int,
    now: datetime,
    *,
    refill_enabled: bool,
    refill_target_coins: int,
    refill_interval_minutes: int,
    per_page: int = LEDGER_PAGE_SIZE,
) -> WalletPage:
    """The wallet page's data. A page number past the end shows the last page. Reads only;
    the refill hint is advisory (services.wallet.refill decides under the wallet lock)."""
    wallet = db.session.scalars(select(Wallet).where(Wallet.user_id == user_id)).one_or_none()
    if wallet is None:
        raise NotFound("This account has no wallet.")
    total = db.session.scalar(
        select(func.count()).select_from(LedgerEntry).where(LedgerEntry.wallet_id == wallet.id)
    )
    total = int(total or 0)
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    rows = db.session.execute(
        select(LedgerEntry, Booking.reference)
        .outerjoin(Booking, Booking.id == LedgerEntry.booking_id)
        .where(LedgerEntry.wallet_id == wallet.id)
        .order_by(LedgerEntry.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    entries = [
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
    return WalletPage(
        balance_coins=wallet.balance_coins,
        entries=entries,
        page=page,
        pages=pages,
        total_entries=total,
        refill_enabled=refill_enabled,
        refill_target_coins=refill_target_coins,
        refill_interval_minutes=refill_interval_minutes,
        next_refill_at=next_refill_at(wallet, now, refill_interval_minutes),
        refill_not_needed=not refill_needed(wallet.balance_coins, refill_target_coins),
    )


def customer_wallet_page(user_id: int, page: int, now: datetime) -> WalletPage:
    """wallet_page with the refill settings of this installation (REFILL_ENABLED,
    REFILL_TARGET_COINS, REFILL_INTERVAL_MINUTES): what the wallet page and the API show.
    Reads only. Raises NotFound for an account without a wallet."""
    config = current_app.config
    return wallet_page(
        user_id,
        page,
        now,
        refill_enabled=bool(config["REFILL_ENABLED"]),
        refill_target_coins=int(config["REFILL_TARGET_COINS"]),
        refill_interval_minutes=int(config["REFILL_INTERVAL_MINUTES"]),
    )
