"""Forms of the exchange flow (CSRF is checked globally by CSRFProtect)."""

from __future__ import annotations

from wtforms import IntegerField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from ... import MAX_DB_INT
from ...forms import AppForm

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
