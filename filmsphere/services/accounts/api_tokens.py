"""Personal API tokens: create (secret shown once), list, revoke, and authenticate."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from ...extensions import db
from ...models import ApiToken, Role, User
from ..errors import DomainError, Forbidden, NotFound
from ..transaction import write_transaction

# What a token may do: `read` the catalogue and the owner's bookings and wallet, `book`
# (hold, pay, cancel), `check-in` tickets at the door (staff and admins only).
SCOPES = ("read", "book", "check-in")
TOKEN_PREFIX = "fs_"
MAX_TOKENS_PER_USER = 20
# Writing last_used_at on every call would make every read a write; a minute is precise
# enough for "last used" and costs one UPDATE per token per minute at most.
LAST_USED_PRECISION = timedelta(minutes=1)
UNAUTHENTICATED = "Send a valid API token: Authorization: Bearer <token>."


class InvalidToken(DomainError):
    """No token, an unknown or revoked one, or its account is deactivated."""

    status = 401


class MissingScope(Forbidden):
    """The token lacks the scope the endpoint needs."""


@dataclass(frozen=True)
class TokenIdentity:
    """Who an API call acts for: the token's owner, their role and the token's scopes."""

    token_id: int
    user_id: int
    role: str
    verified: bool
    scopes: frozenset[str]


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once; only its hash is stored


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def _clean_scopes(scopes: list[str], role: str) -> list[str]:
    chosen = [s for s in SCOPES if s in set(scopes)]
    if not chosen:
        raise DomainError("Pick at least one scope for the token.")
    if "check-in" in chosen and role not in (Role.STAFF, Role.ADMIN):
        raise Forbidden("Only staff can create tokens that check tickets in.")
    return chosen


def create_token(user_id: int, name: str, scopes: list[str], now: datetime) -> NewToken:
    """Create a token for the user with a 32-byte random secret; store only its SHA-256.

    Guarantees: the secret is returned once and never stored; `check-in` only for staff
    and admins; at most MAX_TOKENS_PER_USER live tokens. One write transaction (the user
    row is locked, so two creations can't both pass the limit). Raises DomainError (no
    name, no scope, too many tokens), Forbidden (check-in for a customer). Commits."""
    name = " ".join(name.split())
    if not name or len(name) > 60:
        raise DomainError("Give the token a name of 1 to 60 characters.")
    with write_transaction() as session:
        user = session.scalars(select(User).where(User.id == user_id).with_for_update()).one()
        chosen = _clean_scopes(scopes, user.role)
        live = session.scalar(
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
        )
        if (live or 0) >= MAX_TOKENS_PER_USER:
            raise DomainError(
                f"You have {MAX_TOKENS_PER_USER} tokens already. Revoke one you no longer use."
            )
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken(
            user_id=user_id,
            name=name,
            scopes=" ".join(chosen),
            token_hash=hash_secret(secret),
            created_at=now,
        )
        session.add(token)
    return NewToken(token, secret)


def list_tokens(user_id: int) -> list[ApiToken]:
    """The user's live tokens, newest first. Reads only."""
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .order_by(ApiToken.id.desc())
        )
    )


def revoke_token(user_id: int, token_id: int, now: datetime) -> None:
    """Revoke one of the user's tokens: from the next request on it answers 401.

    Raises NotFound for an unknown, already revoked or another user's token. Commits."""
    with write_transaction() as session:
        result = session.execute(
            update(ApiToken)
            .where(
                ApiToken.id == token_id,
                ApiToken.user_id == user_id,
                ApiToken.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFound("There is no such token on your account.")


def authenticate(secret: str, now: datetime) -> TokenIdentity:
    """The identity a bearer secret stands for. Looked up by the secret's SHA-256 (an
    index lookup on a hash leaks nothing about the secret) and compared in constant time.
    Records the use (at most once per LAST_USED_PRECISION). Raises InvalidToken for an
    unknown or revoked token and for a deactivated account."""
    digest = hash_secret(secret)
    row = db.session.execute(
        select(ApiToken.id, ApiToken.token_hash, ApiToken.scopes, ApiToken.last_used_at, User)
        .join(User, User.id == ApiToken.user_id)
        .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        raise InvalidToken(UNAUTHENTICATED)
    user: User = row.User
    if not user.is_active_account:
        raise InvalidToken(UNAUTHENTICATED)
    identity = TokenIdentity(
        token_id=row.id,
        user_id=user.id,
        role=user.role,
        verified=user.is_verified,
        scopes=frozenset(row.scopes.split()),
    )
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        with write_transaction() as session:
            session.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
    return identity
