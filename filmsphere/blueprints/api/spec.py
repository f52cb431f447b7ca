"""The OpenAPI 3.1 document, generated from the API's routes and schemas (flask-smorest)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_smorest import Api
from werkzeug.routing import IntegerConverter

API_VERSION = "1.0.0"


class FilmSphereApi(Api):
    """flask-smorest's Api without its app-wide error handlers: they would answer every
    page's errors in JSON. The API blueprint renders its own problem+json."""

    def _register_error_handlers(self) -> None:
        return None


class RowIdConverter(IntegerConverter):
    """A database id in an API path. A number past the column's range names no row: it
    becomes 0 (no row has id 0), so the service answers 404 like for any unknown id.
    (Refusing it in the converter, as the pages' `int` does, makes Werkzeug answer a
    misleading 405 where the same path has several methods.)"""

    def to_python(self, value: str) -> int:
        number = int(value)
        return number if number <= 2**31 - 1 else 0


def register(app: Flask) -> None:
    """Register /api/v1 and its document at /api/v1/openapi.json (the docs page, /api/docs,
    is a page of the app: blueprints/api/docs.py)."""
    from .routes import bp

    app.config.update(
        API_TITLE="FilmSphere API",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.1.0",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    spec_kwargs: dict[str, Any] = {
        "security": [{"bearer": []}],
        "info": {
            "description": (
                "Everything a customer and a door scanner do at FilmSphere. Versioning: "
                "/api/v1 only grows (new endpoints, new optional fields); anything that "
                "would break a client comes as /api/v2, with v1 kept for at least 6 months."
            )
        },
    }
    app.url_map.converters["row_id"] = RowIdConverter
    api = FilmSphereApi(app, spec_kwargs=spec_kwargs)
    api.register_converter(RowIdConverter, lambda _: {"type": "integer", "minimum": 1})
    api.spec.components.security_scheme(
        "bearer", {"type": "http", "scheme": "bearer", "description": "A token from /account"}
    )
    api.register_blueprint(bp)
