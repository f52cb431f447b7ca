"""The public catalogue: home, films, showtimes by date, health check."""

from flask import Blueprint, render_template
from sqlalchemy import text

from ...extensions import db

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    """Now showing and the next 7 days."""
    return render_template("public/index.html")


@bp.get("/healthz")
def healthz() -> tuple[dict[str, str], int]:
    """Liveness with a database round trip; 503 when the database does not answer."""
    try:
        db.session.execute(text("SELECT 1")).scalar_one()
    except Exception:  # noqa: BLE001 - any database failure means "not healthy"
        db.session.rollback()
        return {"status": "error", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}, 200
