"""Admin mail: pending and failed messages with their tries and errors; resend a failed one."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ...refusals import renders_refusals
from ...security import admin_required
from ...services.errors import DomainError
from ...services.mail.admin_mail import list_undelivered, outbox_health, resend_message
from .base import actor_id, bp, now


def _render_mail(status_code: int = 200, error: str | None = None) -> tuple[str, int]:
    filters = {
        "status": request.args.get("status", ""),
        "q": request.args.get("q", ""),
    }
    at = now()
    result = list_undelivered(
        at, status=filters["status"], q=filters["q"], cursor=request.args.get("page")
    )
    return (
        render_template(
            "admin/mail.html",
            result=result,
            filters=filters,
            health=outbox_health(at),
            error=error,
        ),
        status_code,
    )


@bp.get("/mail")
@admin_required
def mail() -> tuple[str, int]:
    """Undelivered mail, newest first: filters status (pending/failed), q (recipient),
    `page` (a cursor); with how mail is flowing (oldest wait, recent failures)."""
    return _render_mail()


def _resend_refused(error: DomainError) -> Any:
    return _render_mail(error.status, error.message)


@bp.post("/mail/<int:message_id>/resend")
@renders_refusals(_resend_refused)
@admin_required
def mail_resend(message_id: int) -> Response | tuple[str, int]:
    """Queue a failed message again (audited); 404 unknown, 409 not failed or its link
    expired."""
    message = resend_message(actor_id(), message_id, now())
    flash(f"Message {message.id} to {message.to_address} is queued again.", "success")
    return redirect(url_for("admin.mail", status="failed"), 303)
