"""The cancellation, exchange and send-a-ticket forms (CSRF is checked globally by
CSRFProtect)."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    RadioField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange
from wtforms.widgets import CheckboxInput, ListWidget

from ... import MAX_DB_INT
from ...forms import AppForm


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


MAX_COINS = 10**9


class PickShowForm(AppForm):
    """The show to pick new seats in."""

    class Meta:
        csrf = False

    show_id = IntegerField(
        validators=[DataRequired("Pick a show."), NumberRange(min=1, max=MAX_DB_INT)]
    )


class ConfirmExchangeForm(PickShowForm):
    """The confirm button of the review page: the coins it quoted (signed: negative means
    the customer pays), so a changed quote is refused instead of applied."""

    expected_net = IntegerField(
        validators=[
            InputRequired("The exchange form is incomplete. Review it again."),
            NumberRange(min=-MAX_COINS, max=MAX_COINS),
        ]
    )


class SendTicketForm(AppForm):
    """Which ticket of a booking goes to which friend's address."""

    ticket_id = RadioField(
        "Ticket", coerce=int, validators=[InputRequired(message="Pick the ticket to send.")]
    )
    email = EmailField(
        "Your friend's email address",
        validators=[
            InputRequired(message="Enter your friend's email address."),
            Length(max=254),
        ],
    )
