"""Forms for quick pick, checkout and the waitlist (CSRF is checked globally by
CSRFProtect)."""

from __future__ import annotations

from typing import cast

from wtforms import BooleanField, HiddenField, IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from ...forms import AppForm
from ...services.booking.quick_pick import MAX_PARTY, QuickPickCategory


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


class JoinWaitlistForm(AppForm):
    """Join a show's waitlist: how many seats, and whether they must be together."""

    class Meta:
        csrf = False

    party_size = IntegerField(
        "How many seats",
        validators=[
            InputRequired(f"Say how many seats: 1 to {MAX_PARTY}."),
            NumberRange(min=1, max=MAX_PARTY, message=f"A party is 1 to {MAX_PARTY} people."),
        ],
    )
    adjacent = BooleanField("Seats together")


# Quick pick's kinds of seat (also drawn on every seat map page, without building a form).
QUICK_PICK_KINDS = (
    SelectChoice("", "Any seats"),
    SelectChoice("standard", "Standard"),
    SelectChoice("premium", "Premium"),
    SelectChoice("vip", "VIP"),
    SelectChoice("wheelchair", "Wheelchair space + companion"),
)


class QuickPickForm(AppForm):
    """Quick pick: how many seats together, and optionally which kind."""

    class Meta:
        csrf = False  # CSRFProtect already checked the request

    count = IntegerField(
        "Number of seats",
        default=2,
        validators=[InputRequired(), NumberRange(1, MAX_PARTY)],
    )
    category = SelectField(
        "Kind",
        choices=list(QUICK_PICK_KINDS),
        default="",
        validate_choice=True,
    )

    def chosen_category(self) -> QuickPickCategory | None:
        value = self.category.data or None
        return cast("QuickPickCategory | None", value)
