"""Admin audit log: every admin action with before and after, filtered and paginated."""

from __future__ import annotations

from flask import render_template, request

from ...security import admin_required
from ...services.ops.admin_audit import audit_actions, list_audit
from .base import arg_date, bp


@bp.get("/audit")
@admin_required
def audit() -> str:
    """Audit rows newest first; filters: actor, action, from, to (local dates); `page` is
    a cursor (a forged one is a 400)."""
    filters = {
        "actor": request.args.get("actor", ""),
        "action": request.args.get("action", ""),
        "date_from": arg_date("from"),
        "date_to": arg_date("to"),
    }
    result = list_audit(**filters, cursor=request.args.get("page"))  # type: ignore[arg-type]
    return render_template(
        "admin/audit.html", result=result, filters=filters, actions=audit_actions()
    )
