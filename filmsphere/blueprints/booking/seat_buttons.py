"""The rows of seat buttons of the seat grid, built in Python with cached per-seat markup.

The grid is re-rendered after every click and poll, and it is 200+ buttons with two URLs
each: a Jinja loop with url_for per seat cost ~10 ms per response. A seat's markup depends
only on its SeatView (which carries its state), whether the viewer can click, and the
URL prefix, so each distinct button is built once and reused (an LRU bounds the memory).
The output is byte-identical to the loop it replaces in templates/booking/_seat_grid.html.
"""

from __future__ import annotations

from functools import lru_cache

from flask import request, url_for
from markupsafe import Markup, escape

from ...services.booking.seatmap import SeatMap, SeatView

GAP = '\n                <span class="seat-gap" aria-hidden="true"></span>'


def seat_rows_html(sm: SeatMap, interactive: bool) -> Markup:
    """All `.seat-row` groups of the grid (label, buttons and gaps, label), in order."""
    show_id = sm.show.id
    root = request.script_root
    parts: list[str] = []
    for label, cells in sm.rows:
        head, tail = _row_ends(label)
        parts.append(head)
        for seat in cells:
            parts.append(GAP if seat is None else _button(seat, show_id, interactive, root))
        parts.append(tail)
    return Markup("".join(parts))


def seat_button_html(seat: SeatView, show_id: int, *, oob: bool = False) -> Markup:
    """One interactive seat's button, as the grid draws it; `oob` swaps it out of band."""
    html = _button(seat, show_id, True, request.script_root)
    if oob:
        html = html.replace("<button ", '<button hx-swap-oob="true" ', 1)
    return Markup(html)


@lru_cache(maxsize=256)
def _row_ends(label: str) -> tuple[str, str]:
    name = escape(label)
    head = (
        f'\n          <div class="seat-row" role="group" aria-label="Row {name}">'
        f'\n            <span class="row-label" aria-hidden="true">{name}</span>'
    )
    tail = (
        f'\n            <span class="row-label" aria-hidden="true">{name}</span>\n          </div>'
    )
    return head, tail


@lru_cache(maxsize=16384)
def _button(seat: SeatView, show_id: int, interactive: bool, script_root: str) -> str:
    # script_root is part of the cache key: url_for's result depends on it.
    del script_root
    if interactive and seat.state in ("free", "mine"):
        url = escape(url_for("booking.toggle_seat", show_id=show_id, seat_id=seat.id))
        pressed = "true" if seat.state == "mine" else "false"
        action = (
            f' aria-pressed="{pressed}" formaction="{url}" hx-post="{url}" hx-target="#seat-grid"'
            ' hx-swap="outerHTML" hx-sync="closest .seat-grid:replace"'
        )
    else:
        action = " disabled"
    return (
        f'\n                <button type="submit" id="seat-{seat.id}" class="seat'
        f' seat-{escape(seat.category)} is-{escape(seat.state)}"'
        f'\n                  aria-label="{escape(seat.accessible_name)}"'
        f' data-row="{seat.grid_row}" data-col="{seat.grid_col}"{action}>'
        f'\n                  <span class="seat-number" aria-hidden="true">{seat.number}</span>'
        "\n                </button>"
    )
