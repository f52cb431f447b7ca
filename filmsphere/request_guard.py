"""Refuse text no page needs and PostgreSQL can't store, once, before any view runs."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask import Flask, abort, request

# NUL (PostgreSQL refuses it in text), the other C0 control characters a person can't
# type into a field (tab, line feed and carriage return stay allowed), and lone
# surrogates (not encodable as UTF-8).
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
MESSAGE = (
    "The address or a form field contains a character we can't accept (a control "
    "character such as NUL). Remove it and try again."
)


def has_forbidden_text(values: Iterable[str]) -> bool:
    """Whether any of these strings contains a character FORBIDDEN matches."""
    return any(FORBIDDEN.search(value) for value in values)


def _request_texts() -> Iterable[str]:
    yield request.path
    for key, value in request.args.items(multi=True):
        yield key
        yield value
    # Only bodies Werkzeug parses as forms: a JSON body (the Stripe webhook) is left unread.
    if request.mimetype in FORM_TYPES:
        for key, value in request.form.items(multi=True):
            yield key
            yield value
        for key, upload in request.files.items(multi=True):
            yield key
            yield upload.filename or ""


def register(app: Flask) -> None:
    @app.before_request
    def _refuse_forbidden_text() -> None:
        if has_forbidden_text(_request_texts()):
            abort(400, description=MESSAGE)
