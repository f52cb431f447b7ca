"""API errors as application/problem+json (RFC 9457), worded like the pages."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, json, request
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

from ...errors import MESSAGES, TITLES
from ...refusals import status_and_message
from ...services.errors import DomainError

PROBLEM_JSON = "application/problem+json"
API_PREFIX = "/api/"


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX)


def problem(status: int, detail: str | None = None, **extra: Any) -> Response:
    """A problem response: the status's title, the sentence the page would show, and any
    extension members (e.g. `errors` for invalid fields, `quote` for a changed quote)."""
    title = TITLES.get(status) or HTTP_STATUS_CODES.get(status, "Error")
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail or MESSAGES.get(status, title),
    }
    body.update(extra)
    response = current_app.response_class(json.dumps(body), status, mimetype=PROBLEM_JSON)
    response.headers["Cache-Control"] = "no-store"
    return response


def from_domain_error(error: DomainError, **extra: Any) -> Response:
    """A domain refusal through the app's one mapping (refusals.status_and_message: 404
    NotFound, 403 Forbidden, 409 Conflict and its kinds, 422 rule violations, 401
    InvalidToken, 429 RateLimited), the pages' sentence as the detail."""
    status, message = status_and_message(error)
    response = problem(status, message, **extra)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="FilmSphere API"'
    return response


def from_http_exception(error: HTTPException) -> Response:
    """Werkzeug's aborts (routing 404/405, request-guard 400, the limiter's 429, webargs'
    400/422 with the invalid fields in `errors`)."""
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    extra: dict[str, Any] = {}
    detail = None
    if "messages" in data:
        extra["errors"] = data["messages"]
        detail = "Some of the request's fields are missing or invalid: see errors."
    elif status == 429:
        detail = MESSAGES[429]
    elif error.description and error.description != type(error).description:
        detail = error.description
    response = problem(status, detail, **extra)
    for header, value in error.get_headers():
        if header in ("Allow", "Retry-After", "WWW-Authenticate"):
            response.headers[header] = value
    return response
