"""Wallets, the append-only coin ledger, and Stripe top-ups."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class LedgerKind(StrEnum):
    SIGNUP_GRANT = "signup_grant"
    REFILL = "refill"
    TOPUP = "topup"
    BOOKING_CHARGE = "booking_charge"
    REFUND = "refund"
    ADMIN_ADJUSTMENT = "admin_adjustment"


class Wallet(Model):
    __tablename__ = "wallets"
    __table_args__ = (CheckConstraint("balance_coins >= 0", name="balance_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    balance_coins: Mapped[int] = mapped_column(default=0)
    last_refill_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LedgerEntry(Model):
    """One change of a wallet's balance. Rows are never updated or deleted (a database
    trigger refuses it); the balance always equals the sum of amount_coins."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('signup_grant', 'refill', 'topup', 'booking_charge', 'refund', "
            "'admin_adjustment')",
            name="kind_known",
        ),
        CheckConstraint("amount_coins <> 0", name="amount_not_zero"),
        CheckConstraint("balance_after_coins >= 0", name="balance_after_not_negative"),
        Index("ix_ledger_entries_wallet_id_id", "wallet_id", "id"),
        Index("ix_ledger_entries_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    wallet_id: Mapped[int] = mapped_column(ForeignKey("wallets.id"))
    kind: Mapped[str] = mapped_column(String(24))
    amount_coins: Mapped[int]
    balance_after_coins: Mapped[int]
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    topup_id: Mapped[int | None] = mapped_column(ForeignKey("topups.id"), unique=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TopUpStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    EXPIRED = "expired"


class TopUp(Model):
    """A Stripe Checkout Session for a coin pack. The unique session id makes a replayed
    webhook credit nothing more."""

    __tablename__ = "topups"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'paid', 'expired')", name="status_known"),
        CheckConstraint("coins > 0", name="coins_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    stripe_session_id: Mapped[str] = mapped_column(String(255), unique=True)
    pack_id: Mapped[str] = mapped_column(String(32))
    coins: Mapped[int]
    amount_minor: Mapped[int]
    currency: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default=TopUpStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
