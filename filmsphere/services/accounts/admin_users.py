"""Admin user management: search, roles, deactivation, coin adjustments; all audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from ...extensions import db
from ...models import LedgerEntry, LedgerKind, Role, TopUp, User, Wallet
from ..booking.admin_bookings import users_matching
from ..errors import AlreadyDone, Conflict, DomainError, InsufficientCoins, NotFound
from ..locks import lock_wallet
from ..ops.audit import record_audit
from ..paging import Key, Page, keyset_page
from ..transaction import race_point
from ..wallet.wallet import post_entry
from .sessions import end_user_sessions

MAX_ADJUSTMENT = 1_000_000
PAGE_SIZE = 50


@dataclass(frozen=True)
class UserRow:
    user: User
    balance_coins: int | None


@dataclass(frozen=True)
class UserDetail:
    user: User
    wallet: Wallet | None
    ledger: list[LedgerEntry]
    topups: list[TopUp]


def search_users(
    q: str = "", role: str = "", cursor: str | None = None, page_size: int = PAGE_SIZE
) -> Page[UserRow]:
    """The page `cursor` names of the users whose email, username or name contains q
    (case-insensitive; a trigram index on PostgreSQL), newest first. Reads only; raises
    BadCursor."""
    query = select(User, Wallet.balance_coins).outerjoin(Wallet, Wallet.user_id == User.id)
    if q.strip():
        matching = users_matching(q, User.email, User.username, User.full_name)
        query = query.join(matching, matching.c.id == User.id)
    if role in {r.value for r in Role}:
        query = query.where(User.role == role)
    page = keyset_page(
        query, [Key(User.id, int)], lambda r: [r[0].id], cursor, page_size, descending=True
    )
    return page.with_rows([UserRow(u, b) for u, b in page.rows])


def user_detail(user_id: int, ledger_limit: int = 200) -> UserDetail:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("That user does not exist.")
    wallet = db.session.scalar(select(Wallet).where(Wallet.user_id == user.id))
    ledger = (
        list(
            db.session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.wallet_id == wallet.id)
                .order_by(LedgerEntry.id.desc())
                .limit(ledger_limit)
            )
        )
        if wallet
        else []
    )
    topups = list(
        db.session.scalars(select(TopUp).where(TopUp.user_id == user.id).order_by(TopUp.id.desc()))
    )
    return UserDetail(user, wallet, ledger, topups)


def _lock_user(user_id: int) -> User:
    """FOR NO KEY UPDATE: the id never changes, and rows referencing the user (audit,
    ledger) only take KEY SHARE locks, so they don't queue behind this one."""
    user = db.session.scalars(
        select(User)
        .where(User.id == user_id)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if user is None:
        raise NotFound("That user does not exist.")
    return user


def _other_active_admins(user_id: int) -> int:
    """Active admins other than user_id, counted with every admin row locked so two
    concurrent demotions can't both see "one other admin left"."""
    ids = db.session.scalars(
        select(User.id)
        .where(User.role == Role.ADMIN, User.is_active_account.is_(True))
        .order_by(User.id)
        .with_for_update(key_share=True)
    ).all()
    return sum(1 for i in ids if i != user_id)


def change_role(actor_id: int, user_id: int, role: str, now: datetime) -> User:
    """Set a user's role, audited, in one transaction. The last active admin can't be
    demoted (admin rows are locked for the count). Raises NotFound, DomainError (unknown
    role), AlreadyDone, Conflict (last admin)."""
    if role not in {r.value for r in Role}:
        raise DomainError("Choose customer, staff or admin.")
    from ..transaction import write_transaction

    with write_transaction():
        others = _other_active_admins(user_id) if role != Role.ADMIN else 0
        user = _lock_user(user_id)
        if user.role == role:
            raise AlreadyDone(f"{user.username} is already {role}.")
        race_point("admin.after_admin_count")
        if user.role == Role.ADMIN and role != Role.ADMIN and others == 0:
            raise Conflict(f"{user.username} is the last admin: make someone else admin first.")
        before = {"role": user.role}
        user.role = role
        record_audit(
            actor_id=actor_id,
            action="user.role",
            target_type="user",
            target_id=user.id,
            now=now,
            before=before,
            after={"role": role},
        )
    return user


def set_active(actor_id: int, user_id: int, active: bool, now: datetime) -> User:
    """Deactivate (can't log in; every log-in session of the user ends) or
    reactivate a user, audited. Admins can't deactivate themselves or the last active
    admin, nor reactivate an account its owner closed. Raises NotFound, AlreadyDone,
    Conflict."""
    from ..transaction import write_transaction

    with write_transaction():
        others = _other_active_admins(user_id) if not active else 0
        user = _lock_user(user_id)
        if user.is_active_account == active:
            raise AlreadyDone(
                f"{user.username} is already {'active' if active else 'deactivated'}."
            )
        if active and user.closed_at is not None:
            raise Conflict("Its owner closed this account; it can't be reactivated.")
        if not active and user.id == actor_id:
            raise Conflict("You can't deactivate your own account.")
        if not active and user.role == Role.ADMIN and others == 0:
            raise Conflict(f"{user.username} is the last admin and can't be deactivated.")
        user.is_active_account = active
        if not active:
            end_user_sessions(user.id)
        record_audit(
            actor_id=actor_id,
            action="user.reactivate" if active else "user.deactivate",
            target_type="user",
            target_id=user.id,
            now=now,
            before={"is_active": not active},
            after={"is_active": active},
        )
    return user


def adjust_coins(
    actor_id: int, user_id: int, amount_coins: int, reason: str, now: datetime
) -> LedgerEntry:
    """Add (positive) or remove (negative) coins as an admin_adjustment ledger entry with
    the reason, under the wallet lock, audited, one transaction. Raises DomainError (zero,
    too large, no reason), NotFound (user or wallet), InsufficientCoins (balance would go
    below zero)."""
    from ..transaction import write_transaction

    reason = " ".join(reason.split())
    if not reason:
        raise DomainError("Give a reason for the adjustment.")
    if amount_coins == 0:
        raise DomainError("The adjustment can't be zero.")
    if abs(amount_coins) > MAX_ADJUSTMENT:
        raise DomainError(f"Adjust by at most {MAX_ADJUSTMENT:,} coins at a time.")
    with write_transaction():
        if db.session.get(User, user_id) is None:
            raise NotFound("That user does not exist.")
        wallet = lock_wallet(user_id)
        before = wallet.balance_coins
        if before + amount_coins < 0:
            raise InsufficientCoins(
                f"The balance is {before} coins, so at most {before} coins can be removed."
            )
        entry = post_entry(
            wallet,
            LedgerKind.ADMIN_ADJUSTMENT,
            amount_coins,
            now,
            actor_id=actor_id,
            reason=reason,
        )
        record_audit(
            actor_id=actor_id,
            action="wallet.adjust",
            target_type="user",
            target_id=user_id,
            now=now,
            before={"balance_coins": before},
            after={
                "balance_coins": wallet.balance_coins,
                "amount_coins": amount_coins,
                "reason": reason,
                "ledger_entry_id": entry.id,
            },
        )
    return entry
