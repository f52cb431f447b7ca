"""The top-up form: a pack id and a per-form nonce; never a price."""

from __future__ import annotations

from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ...forms import AppForm


class TopUpForm(AppForm):
    # CSRF is enforced app-wide by CSRFProtect; the form only validates the fields.
    class Meta:
        csrf = False

    pack = StringField("Coin pack", validators=[DataRequired(), Length(max=32)])
    nonce = HiddenField(validators=[Optional(), Length(max=64)])
