"""The admin blueprint object and helpers shared by its route modules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask_login import current_user

from ... import MAX_DB_INT
from ...models import utcnow
from ...services.errors import DomainError

bp = Blueprint("admin", __name__, url_prefix="/admin")

MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2999, 12, 31)


def now() -> datetime:
    return utcnow()


def actor_id() -> int:
    return int(current_user.id)


def arg_date(name: str) -> date | None:
    """A YYYY-MM-DD query argument; a malformed one is a 422 with a clear message."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = date.fromisoformat(raw)
    except ValueError:
        abort(422, description=f"{name!r} must be a date like 2026-05-31.")
    if not MIN_DATE <= value <= MAX_DATE:
        # Far-off years would overflow the day-boundary arithmetic.
        abort(422, description=f"{name!r} must be between {MIN_DATE} and {MAX_DATE}.")
    return value


def arg_int(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        abort(422, description=f"{name!r} must be a whole number.")
    if not 0 <= value <= MAX_DB_INT:
        abort(422, description=f"{name!r} is out of range.")
    return value


def message_page(title: str) -> Callable[[DomainError], tuple[str, int]]:
    """A refusal renderer (see refusals.renders_refusals): the admin message page with
    the service's sentence and status."""

    def render(error: DomainError) -> tuple[str, int]:
        return render_template("admin/message.html", title=title, error=error.message), (
            error.status
        )

    return render


def view_arg(name: str) -> Any:
    """A URL variable of the current request, for refusal renderers."""
    return (request.view_args or {})[name]


def form_status(form: Any) -> int:
    """200 for a first GET, 422 for a POST whose fields failed validation."""
    return 422 if request.method == "POST" and form.errors else 200
