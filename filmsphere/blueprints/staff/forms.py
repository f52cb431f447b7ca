"""The check-in form: a typed or scanned ticket code and, optionally, the show at the door."""

from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from ...forms import AppForm

ANY_SHOW = 0


class CheckInForm(AppForm):
    class Meta:
        csrf = False  # CSRFProtect already checked the request

    show_id = SelectField(
        "Checking in for",
        coerce=int,
        default=ANY_SHOW,
        validate_choice=True,
    )
    code = StringField(
        "Ticket code",
        validators=[
            DataRequired("Scan a ticket or type the code printed under its QR."),
            Length(max=200, message="That is far too long for a ticket code."),
        ],
    )
