"""The reminder setting on /account."""

from __future__ import annotations

from wtforms import RadioField
from wtforms.validators import InputRequired

from ...forms import AppForm


class ReminderForm(AppForm):
    reminders = RadioField(
        "Show reminders by email",
        choices=[
            ("on", "Send me a reminder the day before and shortly before each show"),
            ("off", "No reminders"),
        ],
        validators=[InputRequired(message="Choose whether you want reminders.")],
    )
