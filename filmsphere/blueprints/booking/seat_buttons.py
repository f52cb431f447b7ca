"""Seat rows and buttons as the macros in templates/booking/_seat_buttons.html draw them,
each distinct one rendered once (and each distinct grid of rows joined once).

A poll or a page draws 200+ buttons, and Jinja costs ~6 µs a macro call and ~1.5 µs a
loop step (the whole grid ~1.3 ms through macros, ~0.4 ms with cached buttons, against
~0.1 ms for cached markup). A button depends only on its SeatView (one shared object per
seat and state, rebuilt when the layout or prices change) and on whether the viewer can
click, and a row only on its cells, so each is rendered once and reused (LRUs bound the
memory: ~11 MB of rows and ~8 MB of grids at most). The macros are read once per
process: after editing them, restart the server (template auto-reload does not reach
these caches)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from flask import get_template_attribute
from markupsafe import Markup

from ...services.booking.seatmap import SeatView

TEMPLATE = "booking/_seat_buttons.html"


@lru_cache(maxsize=16384)
def seat_button(seat: SeatView, interactive: bool, oob: bool = False) -> Markup:
    """One seat's button; `oob` swaps it out of band (a click's delta)."""
    return Markup(get_template_attribute(TEMPLATE, "seat_button")(seat, interactive, oob))


def seat_rows(rows: Sequence[tuple[str, Sequence[SeatView | None]]], interactive: bool) -> Markup:
    """Every row of the grid, each on a line of its own: one cached Markup per distinct
    grid (a map polled by many viewers is drawn once; a row a customer's own seats change
    comes from the row cache)."""
    return _rows(tuple((label, tuple(cells)) for label, cells in rows), interactive)


@lru_cache(maxsize=256)
def _rows(rows: tuple[tuple[str, tuple[SeatView | None, ...]], ...], interactive: bool) -> Markup:
    return Markup("").join(Markup("\n") + _row(label, cells, interactive) for label, cells in rows)


@lru_cache(maxsize=4096)
def _row(label: str, cells: tuple[SeatView | None, ...], interactive: bool) -> Markup:
    return Markup(get_template_attribute(TEMPLATE, "seat_row")(label, cells, interactive))
