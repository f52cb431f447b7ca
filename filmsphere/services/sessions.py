"""Log-in sessions kept on the server, so logging out really ends them.

flask-login keeps the user's id in the signed session cookie and, with "keep me logged
in", in a signed remember cookie. Both would stay valid after logout if they carried only
the user id. Here the id they carry is a session key, `<user id>:<session id>:<secret>`;
the server keeps the session's row with a SHA-256 of the secret. Each request loads the
user and checks the session in one query (load_user); logging out deletes the row, so a
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
from sqlalchemy import bindparam, delete, func, select

from ..extensions import db
from ..models import User, UserSession
from .transaction import write_transaction

# Built once: every request runs it, and rebuilding the statement (its cache key) each
# time costs more CPU than running it.
_USER_BY_SESSION = (
    select(User)
    .join(UserSession, UserSession.user_id == User.id)
    .where(
        UserSession.id == bindparam("session_id"),
        UserSession.user_id == bindparam("user_id"),
        UserSession.secret_hash == bindparam("secret_hash"),
        UserSession.expires_at > bindparam("now"),
        User.is_active_account.is_(True),
    )
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
    """Record a new log-in for `user` and give the object its key (User.get_id()).
    Commits; returns the key."""
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
        key = str(SessionKey(user.id, row.id, secret))
    user.session_key = key
    return key


def load_user(raw_key: str, now: datetime) -> User | None:
    """The active user whose live session `raw_key` names, in one query; None when the
    session was ended, has expired, or the key is not one (reads only)."""
    key = SessionKey.parse(raw_key)
    if key is None:
        return None
    user = db.session.execute(
        _USER_BY_SESSION,
        {
            "session_id": key.session_id,
            "user_id": key.user_id,
            "secret_hash": key.secret_hash,
            "now": now,
        },
    ).scalar_one_or_none()
    if user is not None:
        user.session_key = raw_key
    return user


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
