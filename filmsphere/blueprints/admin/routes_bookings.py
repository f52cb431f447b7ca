"""Admin bookings: search, detail with tickets and money, cancel with a 100 % refund."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ...refusals import renders_refusals
from ...security import admin_required
from ...services.booking.admin_bookings import booking_detail, search_bookings
from .base import actor_id, arg_date, bp, message_page, now
from .forms import ReasonForm


@bp.get("/bookings")
@admin_required
def bookings() -> str:
    """Search bookings by reference, customer (email or username), film title or show
    number, and show date; 50 a page, `page` a cursor (a forged one is a 400)."""
    filters = {
        "reference": request.args.get("reference", ""),
        "customer": request.args.get("customer", ""),
        "show": request.args.get("show", ""),
        "day": arg_date("date"),
    }
    searched = any(v not in (None, "") for v in filters.values())
    result = search_bookings(**filters, cursor=request.args.get("page"))  # type: ignore[arg-type]
    return render_template("admin/bookings.html", result=result, filters=filters, searched=searched)


@bp.get("/bookings/<int:booking_id>")
@renders_refusals(message_page("Booking"))
@admin_required
def booking(booking_id: int) -> tuple[str, int]:
    """One booking: customer, show, tickets, and the ledger entries (charge, refunds)."""
    detail = booking_detail(booking_id)
    return render_template(
        "admin/booking.html", detail=detail, reason_form=ReasonForm(formdata=None)
    ), 200


@bp.post("/bookings/<int:booking_id>/cancel")
@renders_refusals(message_page("Cancel booking"))
@admin_required
def booking_cancel(booking_id: int) -> Response | tuple[str, int]:
    """Cancel every active ticket not used at the door with a 100 % refund and an email."""
    from ...services.booking.cancellation import cancel_booking_by_admin

    form = ReasonForm()
    if not form.validate():
        return render_template(
            "admin/message.html", title="Cancel booking", error=form.first_error()
        ), 422
    done = cancel_booking_by_admin(actor_id(), booking_id, now(), form.reason.data or "")
    message = f"Cancelled {done.tickets} ticket(s) and refunded {done.refunded_coins} coins."
    if done.used_seats:
        message += f" Used at the door, kept and not refunded: {', '.join(done.used_seats)}."
    flash(message, "success")
    return redirect(url_for("admin.booking", booking_id=booking_id), 303)
