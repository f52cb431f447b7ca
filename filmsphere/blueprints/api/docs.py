"""/api/docs: the API's OpenAPI document made readable (Swagger UI, vendored, no CDN)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("api_docs", __name__)


@bp.get("/api/docs")
def docs() -> str:
    """The reference of /api/v1, drawn in the browser from /api/v1/openapi.json."""
    return render_template("api/docs.html")
