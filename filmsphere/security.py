"""Role decorators, security headers and the `next` address a log-in returns to."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, request, session
from flask_login import current_user, login_required

from .models import Role

F = TypeVar("F", bound=Callable[..., Any])


def role_required(role: Role) -> Callable[[F], F]:
    """Visitors are sent to log in; signed-in users below `role` get 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.has_role(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


staff_required = role_required(Role.STAFF)
admin_required = role_required(Role.ADMIN)


def content_security_policy() -> str:
    return _policy(bool(current_app.config.get("STRIPE_SECRET_KEY")))


@cache  # every response sends it: built once per setting
def _policy(stripe: bool) -> str:
    form_action = "'self'"
    if stripe:
        form_action += " https://checkout.stripe.com"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "connect-src 'self'",
            "media-src 'self' blob:",
            "manifest-src 'self'",
            "worker-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
            f"form-action {form_action}",
        ]
    )


# The same on every response (a view may set its own first).
_FIXED_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(self), geolocation=()"),
)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        # One pass over the headers a view set, then appends: every response passes here,
        # and a lookup per header (Headers scans its list each time) cost a 304 poll more
        # than a tenth of its CPU.
        headers = response.headers
        present = {name.lower() for name, _ in headers.items()}
        if "content-security-policy" not in present:
            headers.add("Content-Security-Policy", content_security_policy())
        for name, value in _FIXED_HEADERS:
            if name.lower() not in present:
                headers.add(name, value)
        if request.is_secure and "strict-transport-security" not in present:
            headers.add("Strict-Transport-Security", "max-age=31536000")
        # Fragments and full pages share URLs: caches must key on the htmx header.
        if "vary" in present:
            response.vary.add("HX-Request")
        else:
            headers.add("Vary", "HX-Request")
        if request.endpoint != "static" and "cache-control" not in present:
            headers.add("Cache-Control", "no-store" if _is_private() else "no-cache")
        return response


# Where flask-login keeps the log-in's id (a session key, services/sessions.py) in the
# signed session cookie.
LOGIN_KEY = "_user_id"


def preload_user(session_key: str, user: Any) -> None:
    """Hand flask-login the user a view already read along with the session check (the
    seat map page's one statement; None: that session is not live), so that loading
    current_user doesn't query again. For this request and this session key only."""
    g.filmsphere_preloaded_user = (session_key, user)


def preloaded_user(session_key: str) -> tuple[bool, Any]:
    """(True, the user or None) when a view preloaded the user of `session_key`."""
    preloaded = g.get("filmsphere_preloaded_user")
    if preloaded is not None and preloaded[0] == session_key:
        return True, preloaded[1]
    return False, None


def remember_cookie_sent() -> bool:
    """Whether the request carries flask-login's "keep me logged in" cookie."""
    return current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") in request.cookies


def _is_private() -> bool:
    """Whether the response belongs to a signed-in visitor. Read from the session and the
    remember cookie, not by loading the user: a response that never needed the account
    must not fail on it (while the database is down, every response would)."""
    return LOGIN_KEY in session or remember_cookie_sent()


# A `next` address goes back into a Location header (percent-encoded in the log-in URL,
# up to three times longer): keep the header far below nginx's 4 KB proxy buffer.
MAX_NEXT_LENGTH = 512


def local_path(target: str | None) -> str | None:
    """`target` if it is a path on this site of at most MAX_NEXT_LENGTH characters, else
    None: never another site (open redirect), never a header too long for a proxy."""
    if not target or len(target) > MAX_NEXT_LENGTH:
        return None
    target = target.strip()
    parts = urlsplit(target)
    if (
        target.startswith("/")
        and not target.startswith("//")
        and "\\" not in target
        and not parts.scheme
        and not parts.netloc
        and target.isprintable()
    ):
        return target
    return None


def next_here() -> str | None:
    """This request's address as a `next` to come back to after logging in: the path and
    query, or just the path when that makes it too long, or nothing."""
    return local_path(request.full_path.rstrip("?")) or local_path(request.path)


def verified_required(view: F) -> F:
    """Logged in and with a verified email address; otherwise off to verify it first."""

    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_verified:
            from flask import flash, redirect, url_for

            flash("Please verify your email address before booking.", "warning")
            return redirect(url_for("auth.verify", next=next_here()))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
