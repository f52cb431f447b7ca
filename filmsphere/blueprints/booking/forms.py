"""The checkout form (CSRF is checked globally by CSRFProtect)."""

from __future__ import annotations

from wtforms import HiddenField
from wtforms.validators import DataRequired, Length, Regexp

from ...forms import AppForm


class CheckoutForm(AppForm):
    """The basket's "Pay N coins" button. The one-time token makes a double submit land on
    the same booking instead of charging twice."""

    class Meta:
        csrf = False  # CSRFProtect already checked the request

    checkout_token = HiddenField(
        validators=[
            DataRequired("The payment form is incomplete. Reload the page and try again."),
            Length(min=16, max=64),
            Regexp(r"^[A-Za-z0-9_-]+$"),
        ]
    )
    # The seat ids the basket showed: if another tab paid them first, say which booking.
    seats = HiddenField(validators=[Length(max=200), Regexp(r"^[0-9,]*$")])

    def seen_seat_ids(self) -> list[int]:
        return [int(part) for part in (self.seats.data or "").split(",") if 0 < len(part) < 10]
