"""Error pages: a clear message and the right status, never a stack trace."""

from __future__ import annotations

import logging
import time
from typing import Any

import psycopg
from flask import (
    Flask,
    Response,
    current_app,
    g,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import db, limiter, login_manager
from .htmx import is_partial_request

log = logging.getLogger(__name__)

# What an unreachable, restarting or shutting-down database raises (SQLAlchemy wraps the
# driver's errors; psycopg's own can surface from raw connection use).
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)

TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Too large",
    422: "Can't do that",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Back in a moment",
}

MESSAGES = {
    400: "The request could not be understood.",
    403: "You don't have permission to open this page.",
    404: "There is nothing at this address.",
    405: "That action isn't available here.",
    413: "The upload is larger than we accept.",
    429: "Too many attempts. Please wait a minute and try again.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
    503: "We can't reach our booking system for a moment. Please try again in a few seconds.",
}


def render_error(status: int, message: str | None = None) -> tuple[str, int]:
    template = "errors/_error.html" if is_partial_request() else "errors/error.html"
    return (
        render_template(
            template,
            status=status,
            title=TITLES.get(status, "Error"),
            message=message or MESSAGES.get(status, ""),
        ),
        status,
    )


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError) -> tuple[str, int]:
        return render_error(
            400, "Your form expired or was not sent from this site. Reload the page and retry."
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response | HTTPException:
        if error.code is None or error.code < 400:
            return error
        from .blueprints.api.problems import from_http_exception, is_api_request

        if is_api_request():  # no route matched, or the request guard refused it
            return from_http_exception(error)
        description = error.description if error.code in (400, 409, 422) else None
        if description and description == type(error).description:
            description = None
        response = make_response(render_error(error.code, description))
        # Keep protocol headers the exception carries (Allow on 405, Retry-After on 429).
        for name in ("Allow", "Retry-After", "WWW-Authenticate"):
            for header, value in error.get_headers():
                if header == name:
                    response.headers[name] = value
        return response

    @app.after_request
    def _retry_after(response: Response) -> Response:
        # Rate-limit headers are off (computing them on every response cost several per
        # cent of a worker's CPU in the ticket-rush benchmark); a 429 still says when to
        # come back.
        if response.status_code == 429 and "Retry-After" not in response.headers:
            current = limiter.current_limit
            if current is not None:
                wait = max(1, int(current.reset_at - time.time()))
                response.headers["Retry-After"] = str(wait)
        return response

    for exception in DATABASE_UNAVAILABLE:
        app.register_error_handler(exception, database_unavailable)

    @app.errorhandler(InternalServerError)
    def server_error(error: InternalServerError) -> Response | tuple[str, int]:
        # An error page that itself needed the database (e.g. a 404 for a signed-in user,
        # whose account is loaded to draw the menu) ends up here: still a 503.
        if isinstance(error.original_exception, DATABASE_UNAVAILABLE):
            return database_unavailable(error.original_exception)
        discard_session()
        from .blueprints.api.problems import is_api_request, problem

        if is_api_request():
            return problem(500)
        return render_error(500)


def database_unavailable(error: Exception) -> Response:
    """503 with Retry-After while the database can't be reached: a page (or, for htmx, a
    notice swapped into the flash region, leaving the target as it was) that needs no
    database. The failed transaction was never committed, so nothing is half done; the
    connection pool reconnects once the database is back (a dead connection is dropped,
    and one left idle is pinged first: pool.py)."""
    reason = (str(error).strip().splitlines() or [""])[0]
    log.warning(
        "database unavailable: %s %s: %s: %s",
        request.method,
        request.path,
        type(error).__name__,
        reason,
    )
    discard_session()
    # The signed-in user can't be loaded (or refreshed): draw the page as for a visitor,
    # without account links (the template leaves them out).
    g._login_user = login_manager.anonymous_user()
    message = MESSAGES[503]
    if is_partial_request():
        response = make_response(render_template("errors/_unavailable.html", message=message))
        # htmx swaps 503 (base.html's responseHandling) but only the notice, out of band:
        # a polling seat grid stays in place and carries on once the database is back.
        response.headers["HX-Reswap"] = "none"
    else:
        response = make_response(
            render_template(
                "errors/unavailable.html",
                title=TITLES[503],
                message=message,
                retry_url=_same_page_url(),
            )
        )
    response.status_code = 503
    response.headers["Retry-After"] = str(current_app.config["DATABASE_RETRY_AFTER_SECONDS"])
    response.headers["Cache-Control"] = "no-store"
    return response


def _same_page_url() -> str | None:
    """This page's URL, rebuilt from its route (never a raw path: `//host` would leave the
    site), for a GET; None for a form post, which the visitor re-sends from the form."""
    if request.method != "GET" or request.url_rule is None or request.endpoint is None:
        return None
    values: dict[str, Any] = {**request.args.to_dict(flat=False), **(request.view_args or {})}
    return url_for(request.endpoint, **values)


def discard_session() -> None:
    """End the request's transaction; if even the rollback fails (the connection is
    gone), invalidate the connection so the pool never hands it out again."""
    try:
        db.session.rollback()
    except DATABASE_UNAVAILABLE:
        db.session().invalidate()
