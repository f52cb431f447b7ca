"""POST /account/reminders: turn show reminders on or off (htmx: the panel; else 303)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ...htmx import is_partial_request
from ...services.mail.reminders import set_reminders
from .forms import ReminderForm

bp = Blueprint("reminders", __name__)


@bp.post("/account/reminders")
@login_required
def update() -> ResponseReturnValue:
    """Save the reminder choice. A missing or unknown choice is 422 with the panel."""
    form = ReminderForm()
    status, message = 422, None
    if form.validate_on_submit():
        enabled = set_reminders(current_user.id, form.reminders.data == "on")
        status = 200
        message = (
            "Reminders are on: we email you the day before and shortly before each show."
            if enabled
            else "Reminders are off: we won't email you before your shows."
        )
    if not is_partial_request():
        if message:
            flash(message, "success")
        else:
            flash(form.reminders.errors[0] if form.reminders.errors else "Try again.", "error")
        return redirect(url_for("auth.account"), 303)
    body = render_template(
        "reminders/_reminder_setting.html", reminder_form=form, reminder_message=message
    )
    return body, status
