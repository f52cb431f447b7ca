"""Forms for sending a ticket to a friend."""

from __future__ import annotations

from wtforms import EmailField, RadioField
from wtforms.validators import InputRequired, Length

from ...forms import AppForm


class SendTicketForm(AppForm):
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
