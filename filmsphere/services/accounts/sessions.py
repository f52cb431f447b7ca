"""Log-in sessions kept on the server, so logging out really ends them.

flask-login keeps the user's id in the signed session cookie and, with "keep me logged
in", in a signed remember cookie. Both would stay valid after logout if they carried only
the user id. Here the id they carry is a session key, `<user id>:<session id>:<secret>`;
the server keeps the session's row with a SHA-256 of the secret. Each request loads the
user and checks the session in one query (load_user; a seat-map poll makes the same check
inside its one read instead, LIVE_SESSION_USER_ID); logging out deletes the row, so a
copied session or remember cookie is refused from then on. Ending every session of a user
("log out everywhere", password change or reset, deactivation) deletes all their rows.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import bindparam, delete, func, select

from ...extensions import db
from ...models import Role, User, UserSession
from ...models.user import role_at_least
from ..driver import hot
from ..transaction import execute_core, write_transaction


@dataclass(frozen=True)
class SignedInUser(UserMixin):
    """The signed-in user (flask-login's current_user): a frozen copy of the columns read
    with the session check. A view's commit expires ORM objects; this copy has nothing to
    reload, so templates never query for the user after a commit."""

    id: int
    email: str
    username: str
    full_name: str
    role: str
    email_verified_at: datetime | None
    created_at: datetime
    reminders_enabled: bool
    session_key: str

    @classmethod
    def of(cls, user: User, session_key: str) -> SignedInUser:
        return cls(**{name: getattr(user, name) for name in _COPIED}, session_key=session_key)

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    def has_role(self, role: Role | str) -> bool:
        return role_at_least(self.role, role)

    def get_id(self) -> str:
        """flask-login's id, kept in the session and the remember cookie: the session key,
        so that ending the server-side session refuses both cookies."""
        return self.session_key


_COPIED = (
    "id",
    "email",
    "username",
    "full_name",
    "role",
    "email_verified_at",
    "created_at",
    "reminders_enabled",
)

# What makes a session key good: its row, unexpired, of an active account. Bound
# parameters session_id, user_id, secret_hash, now (see key_parameters).
_LIVE_SESSION = (
    UserSession.id == bindparam("session_id"),
    UserSession.user_id == bindparam("user_id"),
    UserSession.secret_hash == bindparam("secret_hash"),
    UserSession.expires_at > bindparam("now"),
    User.is_active_account.is_(True),
)
# Built once: every request runs it, and rebuilding the statement (its cache key) each
# time costs more CPU than running it.
_USER_BY_SESSION = hot(
    select(*(getattr(User, name) for name in _COPIED))
    .select_from(User)
    .join(UserSession, UserSession.user_id == User.id)
    .where(*_LIVE_SESSION)
)
# The signed-in user's columns, labelled for joining into another statement (the seat map
# page's one read, seatmap.py): signed_in_user_from() builds the user from them.
USER_COLUMNS = tuple(getattr(User, name).label(f"user_{name}") for name in _COPIED)
# The same check as a column of another statement (a poll's one read, seatmap.py): the
# user id when the key is good, else NULL.
LIVE_SESSION_USER_ID = (
    select(UserSession.user_id)
    .join(User, User.id == UserSession.user_id)
    .where(*_LIVE_SESSION)
    .scalar_subquery()
)


@dataclass(frozen=True)
class SessionKey:
    user_id: int
    session_id: int
    secret: str

    def __str__(self) -> str:
        return f"{self.user_id}:{self.session_id}:{self.secret}"

    @property
    def secret_hash(self) -> str:
        return _hash(self.secret)

    @classmethod
    def parse(cls, raw: Any) -> SessionKey | None:
        """The key in a cookie, or None for anything else (an older format included)."""
        if not isinstance(raw, str):
            return None
        parts = raw.split(":")
        if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()) or not parts[2]:
            return None
        return cls(int(parts[0]), int(parts[1]), parts[2])


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def lifetime(remember: bool) -> timedelta:
    """How long a log-in lasts on the server: REMEMBER_DAYS with "keep me logged in"
    (as long as the remember cookie), otherwise SESSION_HOURS (the cookie itself ends
    when the browser closes; the row must not outlive it for ever)."""
    config = current_app.config
    if remember:
        return timedelta(days=int(config["REMEMBER_DAYS"]))
    return timedelta(hours=int(config["SESSION_HOURS"]))


def start_session(user: User, remember: bool, now: datetime) -> str:
    """Record a new log-in for `user`. Commits; returns the session's key (hand
    `SignedInUser.of(user, key)` to flask-login's login_user)."""
    secret = secrets.token_urlsafe(32)
    with write_transaction():
        row = UserSession(
            user_id=user.id,
            secret_hash=_hash(secret),
            created_at=now,
            expires_at=now + lifetime(remember),
        )
        db.session.add(row)
        db.session.flush()
        return str(SessionKey(user.id, row.id, secret))


def load_user(raw_key: str, now: datetime) -> SignedInUser | None:
    """The active user whose live session `raw_key` names, in one query; None when the
    session was ended, has expired, or the key is not one (reads only)."""
    key = SessionKey.parse(raw_key)
    if key is None:
        return None
    row = execute_core(_USER_BY_SESSION, key_parameters(key, now)).one_or_none()
    return None if row is None else SignedInUser(**row._mapping, session_key=raw_key)


def signed_in_user_from(row: Any, raw_key: str) -> SignedInUser | None:
    """The user read with the session check inside another statement (USER_COLUMNS, the
    viewer NULL unless the session `raw_key` names is live): what load_user would give."""
    if row.viewer_id is None:
        return None
    return SignedInUser(
        **{name: getattr(row, f"user_{name}") for name in _COPIED}, session_key=raw_key
    )


def key_parameters(key: SessionKey, now: datetime) -> dict[str, Any]:
    """The bound parameters of the live-session check (LIVE_SESSION_USER_ID) for `key`."""
    return {
        "session_id": key.session_id,
        "user_id": key.user_id,
        "secret_hash": key.secret_hash,
        "now": now,
    }


def end_session(raw_key: str | None) -> None:
    """Log this session out on the server: its cookies stop working. Commits."""
    key = SessionKey.parse(raw_key)
    if key is None:
        return
    with write_transaction():
        db.session.execute(
            delete(UserSession).where(
                UserSession.id == key.session_id,
                UserSession.user_id == key.user_id,
                UserSession.secret_hash == key.secret_hash,
            )
        )


def end_user_sessions(user_id: int, keep: str | None = None) -> None:
    """Delete every session of the user but `keep` (a key), inside the caller's
    transaction (password change and reset, deactivation)."""
    statement = delete(UserSession).where(UserSession.user_id == user_id)
    kept = SessionKey.parse(keep)
    if kept is not None:
        statement = statement.where(UserSession.id != kept.session_id)
    db.session.execute(statement)


def log_out_everywhere(user_id: int) -> None:
    """End every session of the user, this one included. Commits."""
    with write_transaction():
        end_user_sessions(user_id)


def count_sessions(user_id: int, now: datetime) -> int:
    """How many live log-ins the user has (reads only)."""
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(UserSession.user_id == user_id, UserSession.expires_at > now)
        )
        or 0
    )


def delete_expired_sessions(now: datetime) -> int:
    """Cron: delete sessions that have expired (they are refused already). Commits."""
    with write_transaction():
        result: Any = db.session.execute(
            delete(UserSession)
            .where(UserSession.expires_at <= now)
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount or 0)
