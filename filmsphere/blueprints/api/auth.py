"""Bearer-token authentication for the API: no cookies, so no CSRF to forge."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import request
from flask_limiter.util import get_remote_address

from ...models import Role, utcnow
from ...services.accounts.api_tokens import (
    UNAUTHENTICATED,
    InvalidToken,
    MissingScope,
    TokenIdentity,
    authenticate,
)
from ...services.errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])
_IDENTITY = "filmsphere.api_identity"


def bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def rate_limit_key() -> str:
    """Per token (a hash of the presented secret: the limiter runs before authentication
    and must not cost a query), per client address without one."""
    secret = bearer_secret()
    if secret is None:
        return "api-anonymous:" + get_remote_address()
    return "api-token:" + hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def identity() -> TokenIdentity:
    """The caller, authenticated once per request. Session cookies are never read: a
    browser's log-in gives no access here. Raises InvalidToken (401)."""
    # Kept on the request, not on g: an app context may outlive one request.
    known: TokenIdentity | None = request.environ.get(_IDENTITY)
    if known is not None:
        return known
    secret = bearer_secret()
    if secret is None:
        raise InvalidToken(UNAUTHENTICATED)
    caller = authenticate(secret, utcnow())
    request.environ[_IDENTITY] = caller
    return caller


def scope_required(scope: str) -> Callable[[F], F]:
    """401 without a valid token, 403 when the token lacks `scope`; booking needs a
    verified address (as on the pages) and check-in the staff role (checked on every
    call, so a demoted member's tokens stop working)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            caller = identity()
            if scope not in caller.scopes:
                raise MissingScope(f"This token lacks the “{scope}” scope.")
            if scope == "book" and not caller.verified:
                raise Forbidden("Please verify your email address before booking.")
            if scope == "check-in" and caller.role not in (Role.STAFF, Role.ADMIN):
                raise Forbidden("Only staff can check tickets in.")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
