"""The film filter form: a plain GET form (no CSRF: it changes nothing)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from wtforms import SearchField, SelectField, SelectMultipleField, StringField
from wtforms.validators import Length, Optional

from ...forms import AppForm
from ...services.catalogue.catalogue import FilterOptions, MovieFilters, parse_day


class MovieFilterForm(AppForm):
    class Meta:
        csrf = False

    q = SearchField("Search films", validators=[Optional(), Length(max=100)])
    genre = SelectMultipleField("Genres", choices=[], validate_choice=True)
    language = SelectField("Language", choices=[], default="", validate_choice=True)
    rating = SelectField("Age rating", choices=[], default="", validate_choice=True)
    # Parsed by catalogue.parse_day, which gives the 400 message for bad dates.
    date = StringField("Showing on", validators=[Optional(), Length(max=20)])

    def __init__(self, *args: Any, options: FilterOptions, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.genre.choices = [(g, g) for g in options.genres]
        self.language.choices = [("", "Any language")] + [(x, x) for x in options.languages]
        self.rating.choices = [("", "Any rating")] + [(x, x) for x in options.ratings]

    def filters(self, today: dt.date) -> MovieFilters:
        """The validated filters as the catalogue's search value; BadDate (400) for a date
        that can't be read."""
        return MovieFilters(
            q=(self.q.data or "").strip(),
            genres=tuple(self.genre.data or ()),
            language=self.language.data or "",
            rating=self.rating.data or "",
            day=parse_day(self.date.data, today) if self.date.data else None,
        )

    def first_error(self) -> str:
        labels = {"genre": "genre", "language": "language", "rating": "age rating"}
        for name, errors in self.errors.items():
            if name in labels:
                return f"That {labels[name]} is not in the programme. Clear the filters and retry."
            field = getattr(self, name)
            return f"{field.label.text}: {errors[0]}"
        return "The filters could not be read."
