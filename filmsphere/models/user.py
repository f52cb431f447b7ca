"""Users, their log-in sessions, roles, single-use account tokens (verification, reset),
pending email-address changes and the account requests waiting for the mail sender."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, func, true
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow

# PostgreSQL only (migration i15): trigram GIN indexes that let the admin's "contains"
# searches (lower(column) LIKE '%text%') use an index. SQLite scans, as it always did; the
# models don't declare them, so autogenerate must leave them alone (migrations/env.py).
POSTGRES_SEARCH_INDEXES = (
    "ix_users_email_trgm",
    "ix_users_username_trgm",
    "ix_users_full_name_trgm",
)


def include_in_autogenerate(obj: Any, name: str | None, type_: str, *_: Any) -> bool:
    """Alembic's include_object: everything but the PostgreSQL-only search indexes."""
    return not (type_ == "index" and name in POSTGRES_SEARCH_INDEXES)


class Role(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    ADMIN = "admin"


ROLE_RANK = {Role.CUSTOMER: 0, Role.STAFF: 1, Role.ADMIN: 2}


def role_at_least(role: Role | str, needed: Role | str) -> bool:
    """Roles are ranked: an admin may do what staff may, staff what a customer may."""
    return ROLE_RANK[Role(role)] >= ROLE_RANK[Role(needed)]


class User(Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('customer', 'staff', 'admin')", name="role_known"),
        # Log-in and uniqueness are case-insensitive.
        Index("uq_users_email_lower", func.lower("email"), unique=True),
        Index("uq_users_username_lower", func.lower("username"), unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    username: Mapped[str] = mapped_column(String(32))
    full_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.CUSTOMER)
    is_active_account: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Closed by its owner: personal data anonymised, bookings and ledger kept.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Show reminders by email (the day before and shortly before); opt-out on /account.
    reminders_enabled: Mapped[bool] = mapped_column(default=True, server_default=true())

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None


class UserSession(Model):
    """One log-in. The cookies carry its id and a random secret; only the secret's SHA-256
    is stored. Logging out deletes the row, so a copied cookie stops working."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        Index("ix_user_sessions_user_id", "user_id"),
        Index("ix_user_sessions_expires_at", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AccountToken(Model):
    """A single-use, expiring secret: only its hash is stored."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        CheckConstraint("purpose IN ('verify', 'reset')", name="purpose_known"),
        Index("ix_account_tokens_user_purpose", "user_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(128), unique=True)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EmailChange(Model):
    """A new address waiting for its owner to follow the link sent to it; only the link
    token's HMAC is stored. Used once; retired by a newer request or a password change."""

    __tablename__ = "email_changes"
    __table_args__ = (Index("ix_email_changes_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    new_email: Mapped[str] = mapped_column(String(254))
    secret_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AccountRequest(Model):
    """What someone asked for on an account form that names an address (a reset link, a new
    code, a sign-up), stored the same way whether or not the address has an account; the
    mail sender acts on it and deletes it (services.account_requests)."""

    __tablename__ = "account_requests"
    __table_args__ = (
        CheckConstraint("kind IN ('reset', 'verify', 'register')", name="kind_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    email: Mapped[str] = mapped_column(String(254))
    # register: username, full_name, password_hash (already hashed in the request)
    payload: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
