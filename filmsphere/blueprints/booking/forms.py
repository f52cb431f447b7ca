"""Forms for checkout and cancellation (CSRF is checked globally by CSRFProtect)."""

from __future__ import annotations

from wtforms import BooleanField, HiddenField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

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


class CancelForm(AppForm):
    """Which tickets of a booking to cancel; `confirm` is set by the final button only."""

    class Meta:
        csrf = False

    whole = BooleanField("Whole booking (every ticket)")
    tickets = SelectMultipleField(
        "Tickets to cancel",
        coerce=int,
        option_widget=CheckboxInput(),
        widget=ListWidget(prefix_label=False),
        validate_choice=True,
    )
    # Which selection the shown quote was for, so a no-JS confirm can't use a stale quote.
    quoted = StringField()
    confirm = StringField()

    def selected_ids(self, active_ids: list[int]) -> list[int] | None:
        """None for the whole booking, otherwise the ticked tickets (sorted). Ticked single
        tickets win over "Whole booking", so ticking one ticket never cancels them all."""
        chosen = sorted(set(self.tickets.data or []))
        if chosen:
            return None if chosen == sorted(active_ids) else chosen
        return None if self.whole.data else []


def selection_key(ticket_ids: list[int] | None, refund_total: int) -> str:
    """What the customer saw quoted: the tickets and the refund (e.g. "all:100")."""
    tickets = "all" if ticket_ids is None else ",".join(str(i) for i in ticket_ids)
    return f"{tickets}:{refund_total}"


def quoted_refund(key: str | None) -> int | None:
    """The refund total inside a selection key, or None when the key is malformed."""
    _, _, total = (key or "").rpartition(":")
    return int(total) if total.isdigit() and len(total) <= 9 else None
