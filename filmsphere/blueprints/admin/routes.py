"""Admin pages: films, screens, showtimes, bookings, users, coins, mail, audit, reports.

Every route is admin-only (security.admin_required): visitors are sent to log in, other
roles get 403. The route modules below all register on the one `bp`.
"""

from __future__ import annotations

from flask import Response, abort, render_template

from ...clock import local_today
from ...refusals import renders_refusals
from ...security import admin_required
from ...services.errors import DomainError
from ...services.ops.reports import (
    Period,
    build_report,
    make_period,
    report_table,
    table_keys,
    to_csv,
)
from .base import arg_date, bp


def _period() -> Period:
    return make_period(arg_date("from"), arg_date("to"), local_today())


def _period_refused(error: DomainError) -> tuple[str, int]:
    return render_template("admin/dashboard.html", report=None, error=error.message), 422


@bp.get("/")
@renders_refusals(_period_refused)
@admin_required
def dashboard() -> tuple[str, int] | str:
    """Reports for a period (default the last 30 local days): revenue, occupancy, top
    films, bookings and cancellations, as charts and the same numbers as tables."""
    period = _period()
    report = build_report(period)
    return render_template(
        "admin/dashboard.html",
        report=report,
        chart_data=report.chart_data(),
        error=None,
    )


@bp.get("/reports/<key>.csv")
@admin_required
def report_csv(key: str) -> Response:
    """One dashboard table as a CSV download, complete for the period."""
    if key not in table_keys():
        abort(404)
    period = _period()
    table = report_table(period, key)
    filename = f"filmsphere-{key}-{period.first.isoformat()}-{period.last.isoformat()}.csv"
    return Response(
        to_csv(table),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# Route modules register on `bp` when imported.
from . import (  # noqa: E402, F401
    routes_audit,
    routes_bookings,
    routes_films,
    routes_mail,
    routes_screens,
    routes_shows,
    routes_users,
)

__all__ = ["bp"]
