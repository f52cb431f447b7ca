"""Admin screens: list, create, and the seat-layout editor (htmx, works without JS)."""

from __future__ import annotations

import re
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ... import MAX_DB_INT
from ...extensions import db
from ...htmx import is_partial_request
from ...models import Screen
from ...refusals import renders_refusals
from ...security import admin_required
from ...services.catalogue import screens as screen_service
from ...services.errors import DomainError
from .base import actor_id, bp, now

DEFAULT_LAYOUT = screen_service.resize_layout("", 6, 10)
# Bounded digit runs: int() of a longer one would be slow or refused outright.
_WHOLE = re.compile(r"[+-]?[0-9]{1,19}")
_CELL = re.compile(r"([0-9]{1,4})-([0-9]{1,4})")  # row-column of the cell to cycle


@bp.get("/screens")
@admin_required
def screens() -> str:
    """Every screen with its sellable seats and upcoming shows."""
    return render_template("admin/screens.html", rows=screen_service.list_screens())


def _editor_context(layout: str, screen: Screen | None, name: str, **extra: Any) -> dict[str, Any]:
    grid = screen_service.layout_grid(layout)
    return {
        "screen": screen,
        "name": name,
        "layout": layout,
        "rows": screen_service.preview_rows(layout, screen.row_a_at_back if screen else False),
        "row_count": len(grid),
        "column_count": len(grid[0]) if grid else 0,
        "codes": [(code, screen_service.CODE_NAMES[code]) for code in screen_service.CYCLE],
        "cycle": screen_service.CYCLE,
        "codes_map": screen_service.CODE_NAMES,
        "error": None,
        "affected": [],
        **extra,
    }


def _render_editor(context: dict[str, Any], status: int = 200) -> tuple[str, int]:
    return render_template("admin/screen_form.html", **context), status


def _edited_layout() -> str:
    """The submitted layout after the editor's action: `resize` (or an empty layout) applies
    rows × seats per row, `cell=r-c` cycles that cell's category. Unreadable input is drawn
    as the nearest layout the editor can show, never refused."""
    layout = (request.form.get("layout") or "").replace("\r", "")
    if "resize" in request.form or not layout.strip():
        rows, columns = _form_int("rows") or 1, _form_int("columns") or 1
        layout = screen_service.resize_layout(
            _safe(layout) if layout.strip() else "", rows, columns
        )
    else:
        layout = _safe(layout)
    cell = _CELL.fullmatch(request.form.get("cell", ""))
    if cell:
        layout = screen_service.cycle_cell(layout, int(cell[1]), int(cell[2]))
    return screen_service.grid_layout(screen_service.layout_grid(layout))


@bp.post("/screens/editor")
@admin_required
def screen_editor() -> tuple[str, int]:
    """Compute the edited layout and draw it; nothing is saved (so 200, not 303).
    htmx gets the editor fragment; without JS the whole form page comes back with the new
    layout. It is a POST so the CSRF token never lands in a URL."""
    screen_id = _form_int("screen_id")
    screen = db.session.get(Screen, screen_id) if screen_id else None
    name = request.form.get("name", screen.name if screen else "")
    context = _editor_context(_edited_layout(), screen, name, focus=request.form.get("cell", ""))
    if is_partial_request():
        return render_template("admin/_layout_editor.html", **context), 200
    return _render_editor(context)


def _layout_refused(error: DomainError) -> tuple[str, int]:
    """The editor again with the submitted layout and the refusal (a layout conflict
    also lists the affected bookings)."""
    screen_id = (request.view_args or {}).get("screen_id")
    screen = db.session.get(Screen, screen_id) if screen_id is not None else None
    name = (request.form.get("name") or "").strip()
    layout = (request.form.get("layout") or "").replace("\r", "")
    extra: dict[str, Any] = {"error": error.message}
    if isinstance(error, screen_service.LayoutConflict):
        extra["affected"] = error.affected
    return _render_editor(_editor_context(_safe(layout), screen, name, **extra), error.status)


@bp.route("/screens/new", methods=["GET", "POST"])
@renders_refusals(_layout_refused)
@admin_required
def screen_new() -> Response | tuple[str, int]:
    """Create a screen from the editor's layout; seats are generated in one transaction."""
    if request.method == "GET":
        return _render_editor(_editor_context(DEFAULT_LAYOUT, None, ""))
    name = (request.form.get("name") or "").strip()
    layout = (request.form.get("layout") or "").replace("\r", "")
    screen = screen_service.create_screen(name, layout, now(), actor_id=actor_id())
    flash(f"{screen.name} was created with its seats.", "success")
    return redirect(url_for("admin.screen_edit", screen_id=screen.id), 303)


def _form_int(name: str) -> int | None:
    """A whole number from the form; None when missing, malformed or beyond the database's
    integers (an id that large can't exist, and PostgreSQL would refuse to compare it)."""
    raw = (request.form.get(name) or "").strip()
    if not _WHOLE.fullmatch(raw):
        return None
    value = int(raw)
    return value if -MAX_DB_INT <= value <= MAX_DB_INT else None


def _safe(layout: str) -> str:
    """A layout the editor can draw even when the submitted text was invalid."""
    cleaned = "\n".join(
        "".join(ch if ch in screen_service.CYCLE else "." for ch in line.upper())[
            : screen_service.MAX_COLUMNS
        ]
        for line in layout.strip("\n").splitlines()[: screen_service.MAX_ROWS]
    )
    return cleaned if cleaned.strip() else DEFAULT_LAYOUT


@bp.route("/screens/<int:screen_id>", methods=["GET", "POST"])
@renders_refusals(_layout_refused)
@admin_required
def screen_edit(screen_id: int) -> Response | tuple[str, int]:
    """Rename a screen or change its layout. Refused (409, with the affected bookings) when
    seats sold for future shows would move, break or disappear."""
    screen = db.session.get(Screen, screen_id)
    if screen is None:
        return render_template(
            "admin/message.html", title="Screen", error="That screen does not exist."
        ), 404
    if request.method == "GET":
        return _render_editor(_editor_context(screen.layout, screen, screen.name))
    name = (request.form.get("name") or "").strip()
    layout = (request.form.get("layout") or "").replace("\r", "")
    screen_service.update_layout(actor_id(), screen_id, name, layout, now())
    flash("The screen was saved.", "success")
    return redirect(url_for("admin.screen_edit", screen_id=screen_id), 303)
