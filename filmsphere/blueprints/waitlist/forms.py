"""The waitlist form (CSRF is checked globally by CSRFProtect)."""

from __future__ import annotations

from wtforms import BooleanField, IntegerField
from wtforms.validators import InputRequired, NumberRange

from ...forms import AppForm
from ...services.quick_pick import MAX_PARTY


class JoinWaitlistForm(AppForm):
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
