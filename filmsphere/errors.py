"""Error pages: a clear message and the right status, never a stack trace."""

from __future__ import annotations

import time

from flask import Flask, Response, make_response, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from .extensions import db, limiter
from .htmx import is_partial_request

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
}

MESSAGES = {
    400: "The request could not be understood.",
    403: "You don't have permission to open this page.",
    404: "There is nothing at this address.",
    405: "That action isn't available here.",
    413: "The upload is larger than we accept.",
    429: "Too many attempts. Please wait a minute and try again.",
    500: "Something went wrong on our side. Nothing was changed; please try again.",
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

    @app.errorhandler(InternalServerError)
    def server_error(error: Exception) -> tuple[str, int]:
        db.session.rollback()
        return render_error(500)
