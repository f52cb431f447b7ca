"""Accounts: registration, email verification, log-in checks, password reset and change.

Every public function that writes is one unit of work (write_transaction): it commits on
success and rolls back on any exception. Secrets (verification codes, link tokens, reset
tokens) are never stored: only an HMAC of them, keyed with the app's SECRET_KEY, so a
leaked database can't be used to brute-force a 6-digit code offline.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import Select, func, literal, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ...extensions import db
from ...models import AccountToken, EmailChange, Role, User
from ..errors import Conflict, DomainError
from ..mail.outbox import queue_email
from ..transaction import race_point, write_transaction
from ..wallet.wallet import open_wallet
from .account_requests import queue_account_request
from .sessions import end_user_sessions

GENERIC_LOGIN_ERROR = "Email/username or password is incorrect."
INVALID_CODE = "That code is not valid or has expired. Check the latest email or ask for a new one."
INVALID_LINK = "This link is not valid any more. It may have expired or been used already."
MAX_CODE_ATTEMPTS = 5
MIN_PASSWORD_LENGTH = 10
LONG_PASSWORD_LENGTH = 16
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,32}$")

# A short list of the passwords attackers try first (lower-cased). The length and
# character-class rules already refuse most of the well-known lists; these are the ones
# that would otherwise pass.
COMMON_PASSWORDS = frozenset(
    {
        "password123!",
        "password1234",
        "password12345",
        "passw0rd123!",
        "p@ssw0rd123",
        "p@ssword123",
        "qwerty12345!",
        "qwertyuiop1!",
        "qwerty123456",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "zaq12wsxcde3",
        "iloveyou123!",
        "welcome123!",
        "welcome12345",
        "letmein12345",
        "letmein123!",
        "admin123456!",
        "administrator1",
        "changeme123!",
        "abc123456789",
        "abcd1234!@#$",
        "football123!",
        "baseball123!",
        "sunshine123!",
        "princess123!",
        "dragon123456",
        "monkey123456",
        "trustno1trustno1",
        "superman123!",
        "starwars123!",
        "summer2024!!",
        "summer2025!!",
        "winter2025!!",
        "winter2026!!",
        "filmsphere123",
        "filmsphere123!",
        "cinema123456!",
        "correcthorsebatterystaple",
        "correct-horse-battery-staple",
    }
)


class WeakPassword(DomainError):
    """The new password breaks one of the strength rules; the message says which."""


class InvalidInput(DomainError):
    """A field (email, username, name) is not acceptable; the message says why."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class AccountExists(Conflict):
    """Only for programmatic callers (CLI, demo); the web form never reveals this."""


class InvalidCredentials(DomainError):
    status = 401


class WrongPassword(DomainError):
    """The current password given to change it is not right."""


class InvalidToken(DomainError):
    """A code or link that is wrong, expired, used, or has had too many attempts."""


# --- validation -------------------------------------------------------------------


def password_problems(password: str, username: str = "", email: str = "") -> list[str]:
    """Every strength rule the password breaks, as sentences a user can act on."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < 3 and len(password) < LONG_PASSWORD_LENGTH:
        problems.append(
            "Mix at least three of: lower-case letters, capitals, digits and symbols "
            f"(or use {LONG_PASSWORD_LENGTH} characters or more)."
        )
    lowered = password.lower()
    local_part = email.split("@", 1)[0].lower() if email else ""
    if (username and username.lower() in lowered) or (
        len(local_part) >= 3 and local_part in lowered
    ):
        problems.append("Don't put your username or email address in your password.")
    if lowered in COMMON_PASSWORDS:
        problems.append("That password is too common; choose one that is harder to guess.")
    return problems


def check_password_strength(password: str, username: str = "", email: str = "") -> None:
    """Raise WeakPassword (422) listing every broken rule."""
    problems = password_problems(password, username, email)
    if problems:
        raise WeakPassword(" ".join(problems))


def normalize_email(email: str) -> str:
    """The normalised address, or InvalidInput. Deliverability (DNS) is not checked."""
    try:
        info = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"Enter a valid email address ({exc}).", "email") from exc
    return str(info.normalized)


def check_username(username: str) -> str:
    username = username.strip()
    if not USERNAME_RE.fullmatch(username):
        raise InvalidInput(
            "Usernames are 3 to 32 characters: letters, digits, '_', '.' and '-'.", "username"
        )
    return username


def check_full_name(full_name: str) -> str:
    full_name = " ".join(full_name.split())
    if not 1 <= len(full_name) <= 120:
        raise InvalidInput("Enter your name (at most 120 characters).", "full_name")
    return full_name


def hash_password(password: str) -> str:
    """werkzeug's default (scrypt) unless PASSWORD_HASH_METHOD says otherwise (only the
    test config does). Slow on purpose: call it outside write transactions."""
    method = current_app.config.get("PASSWORD_HASH_METHOD")
    return (
        generate_password_hash(password, method=method)
        if method
        else generate_password_hash(password)
    )


# --- secrets ----------------------------------------------------------------------


def _digest(kind: str, secret: str) -> str:
    """HMAC of a secret, tagged by kind ('c' code, 'l' verify link, 'r' reset link).

    The tag prefix keeps codes and links apart in the one secret_hash column.
    """
    key = str(current_app.config["SECRET_KEY"]).encode()
    mac = hmac.new(key, f"{kind}:{secret}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{mac}"


def _code_digest(user_id: int, code: str) -> str:
    # Codes are short, so the user id is mixed in: two users may get the same code.
    return _digest("c", f"{user_id}:{code}")


def _base_url() -> str:
    return str(current_app.config["BASE_URL"]).rstrip("/")


@dataclass(frozen=True)
class VerificationSecrets:
    code: str
    link: str


def _retire_tokens(user_id: int, purpose: str, now: datetime) -> None:
    """Mark every unused token of the user for `purpose` ('verify': codes and links;
    'reset': reset links) as used."""
    db.session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user_id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )


def _set_password(
    user: User, password_hash: str, now: datetime, keep_session: str | None = None
) -> None:
    """Replace the password. Everything that stood for the old one dies with it: every
    reset link issued so far, every pending change of address and every log-in session
    but `keep_session`. Runs inside the
    caller's transaction, under the user's row lock; every password change goes here."""
    user.password_hash = password_hash
    _retire_tokens(user.id, "reset", now)
    # A change of address asked for with the old password must not outlive it.
    db.session.execute(
        update(EmailChange)
        .where(EmailChange.user_id == user.id, EmailChange.used_at.is_(None))
        .values(used_at=now)
    )
    end_user_sessions(user.id, keep=keep_session)


def _issue_verification(user: User, now: datetime) -> VerificationSecrets:
    """Replace the user's verification code and link (old ones stop working)."""
    _retire_tokens(user.id, "verify", now)
    code = f"{secrets.randbelow(1_000_000):06d}"
    token = secrets.token_urlsafe(32)
    expires = now + timedelta(minutes=int(current_app.config["VERIFY_CODE_MINUTES"]))
    for secret_hash in (_code_digest(user.id, code), _digest("l", token)):
        db.session.add(
            AccountToken(
                user_id=user.id,
                purpose="verify",
                secret_hash=secret_hash,
                created_at=now,
                expires_at=expires,
            )
        )
    link = f"{_base_url()}/auth/verify?token={token}"
    queue_email(
        kind="verify_email",
        to=user.email,
        now=now,
        name=user.full_name,
        code=code,
        link=link,
        minutes=current_app.config["VERIFY_CODE_MINUTES"],
    )
    return VerificationSecrets(code=code, link=link)


# --- registration -----------------------------------------------------------------


def _find_by_email(email: str) -> User | None:
    return db.session.scalars(select(User).where(func.lower(User.email) == email.lower())).first()


def _find_by_username(username: str) -> User | None:
    return db.session.scalars(
        select(User).where(func.lower(User.username) == username.lower())
    ).first()


def _new_user(
    email: str, username: str, full_name: str, password_hash: str, role: Role, now: datetime
) -> User:
    user = User(
        email=email,
        username=username,
        full_name=full_name,
        password_hash=password_hash,
        role=role,
        is_active_account=True,
        created_at=now,
    )
    db.session.add(user)
    db.session.flush()
    open_wallet(user.id, int(current_app.config["SIGNUP_GRANT_COINS"]), now)
    return user


def _clean_fields(email: str, username: str, full_name: str, password: str) -> tuple[str, str, str]:
    email = normalize_email(email)
    username = check_username(username)
    full_name = check_full_name(full_name)
    check_password_strength(password, username, email)
    return email, username, full_name


def register_user(email: str, username: str, full_name: str, password: str, now: datetime) -> User:
    """Create a customer with a wallet (signup grant as its first ledger entry) and queue
    the verification email, in one transaction.

    For programmatic callers (demo data, CLI): raises InvalidInput/WeakPassword (422) and
    AccountExists (409) when the email or username is taken. The web form uses
    submit_registration(), which never reveals that an account exists.
    """
    return _create_account(email, username, full_name, password, Role.CUSTOMER, now)


def submit_registration(
    email: str, username: str, full_name: str, password: str, now: datetime
) -> None:
    """The web sign-up: check the fields, hash the password and queue the request; the
    mail sender completes it (complete_registration). The request does the same work, in
    the same time, whether or not the email or username is taken, so neither its answer
    nor its timing tells who has an account. Raises InvalidInput/WeakPassword (422) for
    bad input; commits."""
    email, username, full_name = _clean_fields(email, username, full_name, password)
    queue_account_request(
        "register",
        email,
        now,
        username=username,
        full_name=full_name,
        password_hash=hash_password(password),
    )


def complete_registration(
    email: str, now: datetime, *, username: str, full_name: str, password_hash: str
) -> User | None:
    """A queued sign-up, inside the caller's transaction: the new user (wallet, grant,
    verification email), or None when nothing was created because
    - the email is registered: its owner gets a "someone tried to register" note;
    - the username is taken (email new): the new address gets a note asking for another
      username. Saying "username taken" on the page would be kinder, but only if it were
      said for every taken username whatever the email; we chose the safe option and keep
      the page identical in every case, so nothing at all is learnt from the response.
    A concurrent sign-up for the same email or username makes the insert raise
    IntegrityError (PostgreSQL; SQLite serialises writers): the caller rolls back and
    tries again, when the lookups find the account and send the right note."""
    existing = _find_by_email(email)
    if existing is not None:
        _queue_attempt_note(existing.email, existing.full_name, "email", now)
        return None
    if _find_by_username(username) is not None:
        _queue_attempt_note(email, full_name, "username", now, username=username)
        return None
    race_point("accounts.before_register")
    user = _new_user(email, username, full_name, password_hash, Role.CUSTOMER, now)
    _issue_verification(user, now)
    return user


def _queue_attempt_note(
    to: str, full_name: str, reason: str, now: datetime, username: str = ""
) -> None:
    queue_email(
        kind="register_attempt",
        to=to,
        now=now,
        full_name=full_name,
        reason=reason,
        username=username,
    )


def create_admin(email: str, username: str, full_name: str, password: str, now: datetime) -> User:
    """Create a verified administrator with a wallet. Raises InvalidInput/WeakPassword
    (422) or AccountExists (409); commits."""
    return _create_account(email, username, full_name, password, Role.ADMIN, now)


def _create_account(
    email: str, username: str, full_name: str, password: str, role: Role, now: datetime
) -> User:
    """A new account with its wallet, in one transaction: a customer gets the verification
    email, an administrator (created from the command line) is verified at once."""
    email, username, full_name = _clean_fields(email, username, full_name, password)
    password_hash = hash_password(password)
    try:
        with write_transaction():
            if _find_by_email(email) or _find_by_username(username):
                raise AccountExists("An account with that email address or username exists.")
            user = _new_user(email, username, full_name, password_hash, role, now)
            if role == Role.ADMIN:
                user.email_verified_at = now
            else:
                _issue_verification(user, now)
    except IntegrityError as exc:  # a concurrent registration won the unique index
        raise AccountExists("An account with that email address or username exists.") from exc
    return user


# --- verification -----------------------------------------------------------------


def verify_email(
    now: datetime,
    *,
    code: str | None = None,
    token: str | None = None,
    user_id: int | None = None,
) -> User:
    """Mark the email verified with the 6-digit code of `user_id` or with the link token.
    Codes and links are single use and expire; a code allows MAX_CODE_ATTEMPTS wrong
    tries, counted under the token's row lock (the count is committed even though
    InvalidToken is raised). Using one secret retires the other. Raises InvalidToken
    (422); commits."""
    failure: InvalidToken | None = None
    with write_transaction():
        if token:
            row = db.session.scalars(
                select(AccountToken)
                .where(AccountToken.secret_hash == _digest("l", token))
                .with_for_update()
            ).first()
            if row is None or row.purpose != "verify" or row.used_at or row.expires_at <= now:
                raise InvalidToken(INVALID_LINK)
            user = db.session.get(User, row.user_id)
        else:
            user = db.session.get(User, user_id) if user_id is not None else None
            if user is None or not code:
                raise InvalidToken(INVALID_CODE)
            row = _live_code_row(user.id, now)
            if row is None:
                raise InvalidToken(INVALID_CODE)
            if not hmac.compare_digest(row.secret_hash, _code_digest(user.id, code.strip())):
                row.attempts += 1
                left = MAX_CODE_ATTEMPTS - row.attempts
                if left <= 0:
                    row.used_at = now  # burnt: brute force ends here
                    failure = InvalidToken(
                        "Too many wrong codes. Ask for a new code below and use the newest one."
                    )
                else:
                    failure = InvalidToken(
                        f"That code is not right. {left} attempt{'s' if left != 1 else ''} left."
                    )
        if failure is None:
            assert user is not None
            if user.email_verified_at is None:
                user.email_verified_at = now
            _retire_tokens(user.id, "verify", now)
    if failure is not None:
        raise failure
    assert user is not None
    return user


_NO_CODE = "c:" + "0" * 64  # as long as a real code's digest, matches none


def verify_email_by_address(email: str, code: str, now: datetime) -> User:
    """Someone logged out gives an address and a code. Whether or not the address has an
    account waiting, a wrong code costs the same work: one read (the live code of the
    address) and one HMAC, and nothing is written, so neither the answer (InvalidToken
    with INVALID_CODE, 422) nor its timing tells whether the address has an account.
    Wrong codes are counted per address by the route's rate limit instead of on the code.
    The right code verifies as verify_email() does (under its locks; commits)."""
    try:
        address = normalize_email(email)
    except InvalidInput:
        address = ""
    live_code = (
        _newest_live_code(
            select(AccountToken.user_id, AccountToken.secret_hash)
            .join(User, User.id == AccountToken.user_id)
            .where(func.lower(User.email) == address.lower()),
            now,
        )
    ).subquery()
    # Always one row (NULLs when the address has no code waiting): the same answer shape.
    one = select(literal(1).label("one")).subquery()
    row = db.session.execute(
        select(live_code.c.user_id, live_code.c.secret_hash).select_from(
            one.outerjoin(live_code, true())
        )
    ).one()
    owner = row.user_id or 0
    stored = row.secret_hash or _NO_CODE
    right = hmac.compare_digest(stored, _code_digest(owner, code.strip()))
    db.session.rollback()  # end the read: nothing was written
    if not right:
        raise InvalidToken(INVALID_CODE)
    return verify_email(now, code=code, user_id=owner)


def _newest_live_code(query: Select[Any], now: datetime) -> Select[Any]:
    """`query` narrowed to the newest verification code that can still be used."""
    return (
        query.where(
            AccountToken.purpose == "verify",
            AccountToken.secret_hash.like("c:%"),
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > now,
            AccountToken.attempts < MAX_CODE_ATTEMPTS,
        )
        .order_by(AccountToken.id.desc())
        .limit(1)
    )


def _live_code_row(user_id: int, now: datetime) -> AccountToken | None:
    """The newest unused, unexpired verification code of the user, locked."""
    return db.session.scalars(
        _newest_live_code(
            select(AccountToken).where(AccountToken.user_id == user_id), now
        ).with_for_update()
    ).first()


def resend_verification(now: datetime, *, user_id: int | None = None, email: str = "") -> None:
    """Send a fresh code and link (old ones stop working). For the signed-in `user_id`,
    at once when the address isn't verified yet. For an `email` typed by someone logged
    out, the request is queued the same way whether or not the address has an account
    (send_verification_code does the rest, out of the request). Commits."""
    if user_id is None:
        try:
            address = normalize_email(email)
        except InvalidInput:
            return
        queue_account_request("verify", address, now)
        return
    with write_transaction():
        user = db.session.get(User, user_id)
        if user is not None and user.email_verified_at is None and user.is_active_account:
            _issue_verification(user, now)


def send_verification_code(email: str, now: datetime) -> None:
    """A queued request for a new code, inside the caller's transaction: sent when an
    active account with this address still needs verifying; otherwise nothing."""
    user = _find_by_email(email)
    if user is not None and user.email_verified_at is None and user.is_active_account:
        _issue_verification(user, now)


# --- log-in -----------------------------------------------------------------------

_DUMMY_HASH: str | None = None


def _burn_time(password: str) -> None:
    """Check against a dummy hash so an unknown login costs as long as a wrong password."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None or not _DUMMY_HASH.startswith(
        current_app.config.get("PASSWORD_HASH_METHOD") or "scrypt"
    ):
        _DUMMY_HASH = hash_password(secrets.token_hex(8))
    check_password_hash(_DUMMY_HASH, password)


def authenticate(login: str, password: str, now: datetime) -> User:
    """The active user whose email or username (case-insensitive) is `login` and whose
    password matches. Every failure, a deactivated account included, raises the same
    InvalidCredentials message. Reads only."""
    login = login.strip()
    user = None
    if login:
        user = db.session.scalars(
            select(User)
            .where(
                or_(
                    func.lower(User.email) == login.lower(),
                    func.lower(User.username) == login.lower(),
                )
            )
            .order_by(User.id)
        ).first()
    if user is None:
        _burn_time(password)
        raise InvalidCredentials(GENERIC_LOGIN_ERROR)
    if not check_password_hash(user.password_hash, password) or not user.is_active_account:
        raise InvalidCredentials(GENERIC_LOGIN_ERROR)
    return user


# --- passwords ----------------------------------------------------------------------


def change_password(
    user_id: int,
    current_password: str,
    new_password: str,
    now: datetime,
    keep_session: str | None = None,
) -> User:
    """Check the current password and set the new one: every other log-in session of the
    user ends (`keep_session`, the caller's, goes on) and every reset link issued before
    stops working. Raises WrongPassword or WeakPassword (422); commits."""
    user = db.session.get(User, user_id)
    if user is None or not check_password_hash(user.password_hash, current_password):
        raise WrongPassword("Your current password is not right.")
    check_password_strength(new_password, user.username, user.email)
    password_hash = hash_password(new_password)
    with write_transaction():
        user = db.session.scalars(select(User).where(User.id == user_id).with_for_update()).one()
        _set_password(user, password_hash, now, keep_session=keep_session)
    return user


def request_password_reset(email: str, now: datetime) -> None:
    """Ask for a reset link for `email`. The request is queued the same way whether or
    not an account has the address (send_reset_link does the rest, out of the request),
    so the answer and its timing are the same either way. Commits."""
    try:
        address = normalize_email(email)
    except InvalidInput:
        return
    queue_account_request("reset", address, now)


def send_reset_link(email: str, now: datetime) -> None:
    """A queued reset request, inside the caller's transaction: email a single-use link
    when an active account has this address (earlier unused links stop working);
    otherwise do nothing."""
    user = _find_by_email(email)
    if user is None or not user.is_active_account:
        return
    _retire_tokens(user.id, "reset", now)
    token = secrets.token_urlsafe(32)
    minutes = int(current_app.config["RESET_TOKEN_MINUTES"])
    db.session.add(
        AccountToken(
            user_id=user.id,
            purpose="reset",
            secret_hash=_digest("r", token),
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    queue_email(
        kind="password_reset",
        to=user.email,
        now=now,
        name=user.full_name,
        username=user.username,
        link=f"{_base_url()}/auth/reset/{token}",
        minutes=minutes,
    )


def reset_token_valid(token: str, now: datetime) -> bool:
    """Whether the reset link can still be used (reads only; doesn't consume it)."""
    row = db.session.scalars(
        select(AccountToken).where(AccountToken.secret_hash == _digest("r", token))
    ).first()
    return bool(row and row.purpose == "reset" and row.used_at is None and row.expires_at > now)


def reset_password(token: str, new_password: str, now: datetime) -> User:
    """Set a new password with a reset link: single use (the token row is locked and
    marked used; like every other reset link of the user, since the password changed),
    refused after it expires or once the password changed. Every log-in session of the
    user ends and, since the link proves the address, the email counts as verified.
    Raises InvalidToken or WeakPassword (422); commits."""
    # Check and hash before the write transaction: scrypt is slow, the lock should not be.
    if not reset_token_valid(token, now):
        raise InvalidToken(INVALID_LINK)
    row = db.session.scalars(
        select(AccountToken).where(AccountToken.secret_hash == _digest("r", token))
    ).one()
    owner = db.session.get(User, row.user_id)
    assert owner is not None
    check_password_strength(new_password, owner.username, owner.email)
    password_hash = hash_password(new_password)
    with write_transaction():
        row = db.session.scalars(
            select(AccountToken)
            .where(AccountToken.secret_hash == _digest("r", token))
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if row.used_at or row.expires_at <= now:
            raise InvalidToken(INVALID_LINK)
        user = db.session.scalars(
            select(User)
            .where(User.id == row.user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
        if not user.is_active_account:
            raise InvalidToken(INVALID_LINK)
        race_point("accounts.before_reset")
        row.used_at = now
        _set_password(user, password_hash, now)
        if user.email_verified_at is None:
            user.email_verified_at = now
    return user
