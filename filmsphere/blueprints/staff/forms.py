"""The check-in form: a typed or scanned ticket code and, optionally, the show at the door."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length

from ...forms import AppForm
from ...services.door.checkin import ShowOption

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

    def __init__(self, *args: Any, shows: Iterable[ShowOption], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.show_id.choices = [(ANY_SHOW, "Any show starting today")] + [
            (option.id, option.label) for option in shows
        ]

    def preselect(self, show_id: int | None) -> None:
        """Start on `show_id` when it is on today's list, otherwise on any show."""
        listed = show_id in dict(self.show_id.choices or [])
        self.show_id.data = show_id if listed else ANY_SHOW

    def chosen_show(self) -> int | None:
        """The show the door is checking in for; None for any show starting today."""
        return self.show_id.data if self.show_id.data != ANY_SHOW else None
