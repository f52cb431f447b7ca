"""Admin forms. CSRF is checked globally by CSRFProtect, so the forms don't repeat it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from ...clock import cinema_tz, local_today
from ...forms import AppForm

MAX_DAYS_AHEAD = 730


class AdminForm(AppForm):
    class Meta:
        csrf = False  # CSRFProtect already refused a POST without a valid token


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class FilmForm(AdminForm):
    title = StringField("Title", validators=[DataRequired(), Length(max=200)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    duration_minutes = IntegerField(
        "Duration (minutes)", validators=[InputRequired(), NumberRange(min=1, max=600)]
    )
    age_rating = StringField("Age rating", validators=[DataRequired(), Length(max=8)])
    language = StringField("Language", validators=[DataRequired(), Length(max=40)])
    release_date = DateField("Release date", validators=[Optional()])
    genres = MultiCheckboxField("Genres", choices=[], validate_choice=False)
    new_genres = StringField(
        "New genres (comma separated)", validators=[Optional(), Length(max=200)]
    )
    poster_hue = IntegerField(
        "Generated poster colour (hue 0–359)",
        default=220,
        validators=[Optional(), NumberRange(min=0, max=359)],
    )


class PosterForm(AdminForm):
    poster = FileField("Poster image (PNG, JPEG or WebP)", validators=[FileRequired()])


class ScreenForm(AdminForm):
    name = StringField("Screen name", validators=[DataRequired(), Length(max=60)])
    layout = TextAreaField("Layout (one line per row)", validators=[DataRequired()])


class ShowForm(AdminForm):
    movie_id = SelectField("Film", coerce=int, validators=[InputRequired()])
    screen_id = SelectField("Screen", coerce=int, validators=[InputRequired()])
    start_date = DateField("Date", validators=[InputRequired()])
    start_time = TimeField("Start time", validators=[InputRequired()])
    base_price_coins = IntegerField(
        "Base price (coins)", validators=[InputRequired(), NumberRange(min=1, max=100_000)]
    )

    def validate_start_date(self, field: DateField) -> None:
        if field.data is not None and field.data > local_today() + timedelta(days=MAX_DAYS_AHEAD):
            raise ValidationError(f"Schedule at most {MAX_DAYS_AHEAD} days ahead.")

    def starts_at(self) -> datetime:
        """The validated local date and time as a UTC instant."""
        assert self.start_date.data is not None and self.start_time.data is not None
        local = datetime.combine(self.start_date.data, self.start_time.data, tzinfo=cinema_tz())
        return local.astimezone(UTC)


class ReasonForm(AdminForm):
    """Cancelling refunds and emails customers at once: the admin ticks a box first."""

    reason = StringField("Reason (sent to customers)", validators=[Optional(), Length(max=300)])
    confirm = BooleanField(
        "I understand: tickets are refunded in full, customers are emailed, and this "
        "can't be undone",
        validators=[DataRequired(message="Tick the box to confirm the cancellation.")],
    )

    def first_error(self) -> str:
        return next(iter(e for errors in self.errors.values() for e in errors), "Invalid input.")


class RoleForm(AdminForm):
    role = SelectField(
        "Role",
        choices=[
            SelectChoice("customer", "Customer"),
            SelectChoice("staff", "Staff"),
            SelectChoice("admin", "Admin"),
        ],
        validators=[InputRequired()],
    )


class CoinAdjustForm(AdminForm):
    amount_coins = IntegerField(
        "Coins (+ to add, − to remove)",
        validators=[InputRequired(), NumberRange(min=-1_000_000, max=1_000_000)],
    )
    reason = StringField("Reason", validators=[DataRequired(), Length(max=300)])
