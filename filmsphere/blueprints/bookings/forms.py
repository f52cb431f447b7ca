"""The cancellation form (CSRF is checked globally by CSRFProtect)."""

from __future__ import annotations

from wtforms import BooleanField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget

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
