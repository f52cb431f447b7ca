"""Screens and seat layouts: parse the layout text and generate seats."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from ...extensions import db
from ...models import LAYOUT_CODES, Screen, Seat, SeatCategory
from ..errors import Conflict, DomainError
from ..ops.audit import record_audit
from ..transaction import write_transaction

MAX_ROWS = 26
MAX_COLUMNS = 40
MAX_NAME_LENGTH = 60  # screens.name is VARCHAR(60)


@dataclass(frozen=True)
class SeatSpec:
    row_label: str
    number: int
    grid_row: int
    grid_col: int
    category: SeatCategory


def row_label(index: int) -> str:
    return chr(ord("A") + index)


def row_labels(row_count: int, row_a_at_back: bool = False) -> list[str]:
    """The letters of a layout's rows, in line order (the screen's end first): A, B, C…
    from the screen, or …C, B, A when the screen letters its rows from the back."""
    labels = [row_label(r) for r in range(row_count)]
    return labels[::-1] if row_a_at_back else labels


def parse_layout(layout: str, row_a_at_back: bool = False) -> list[SeatSpec]:
    """Turn layout text into seat specs. Rows are lines, the first one nearest the screen
    (grid row 0), lettered A from the screen (or from the back: `row_a_at_back`); seats
    are numbered from 1 per row, left to right, skipping gaps.

    Raises DomainError for unknown cell codes, too many rows or columns, or no seats.
    """
    lines = [line.rstrip() for line in layout.strip("\n").splitlines()]
    if not lines or not any(lines):
        raise DomainError("The layout has no rows.")
    if len(lines) > MAX_ROWS:
        raise DomainError(f"A screen can have at most {MAX_ROWS} rows.")
    labels = row_labels(len(lines), row_a_at_back)
    specs: list[SeatSpec] = []
    for r, line in enumerate(lines):
        if len(line) > MAX_COLUMNS:
            raise DomainError(f"Row {labels[r]} is longer than {MAX_COLUMNS} cells.")
        number = 0
        for c, code in enumerate(line):
            if code not in LAYOUT_CODES:
                raise DomainError(
                    f"Row {labels[r]}, cell {c + 1}: unknown code {code!r} "
                    f"(use {' '.join(LAYOUT_CODES)})."
                )
            category = LAYOUT_CODES[code]
            if category is None:
                continue
            number += 1
            specs.append(SeatSpec(labels[r], number, r, c, category))
    if not specs:
        raise DomainError("The layout has no seats.")
    return specs


def screen_name(name: str) -> str:
    """The name as stored (trimmed). Raises DomainError when it is empty or too long."""
    name = name.strip()
    if not name:
        raise DomainError("A screen needs a name.")
    if len(name) > MAX_NAME_LENGTH:
        raise DomainError(f"A screen name can have at most {MAX_NAME_LENGTH} characters.")
    return name


def create_screen(name: str, layout: str, now: datetime, actor_id: int | None = None) -> Screen:
    """Create a screen and all its seats in one transaction; when an admin (`actor_id`)
    creates it, the audit row is written in the same transaction.

    Raises DomainError for a bad layout and Conflict when the name is taken.
    """
    specs = parse_layout(layout)
    name = screen_name(name)
    with write_transaction() as session:
        _refuse_taken_name(name, None)
        screen = Screen(name=name, layout=grid_layout(layout_grid(layout)), created_at=now)
        session.add(screen)
        session.flush()
        session.add_all(_new_seat(screen.id, s) for s in specs)
        if actor_id is not None:
            record_audit(
                actor_id=actor_id,
                action="screen.create",
                target_type="screen",
                target_id=screen.id,
                now=now,
                after=_screen_snapshot(screen) | {"seats": len(specs)},
            )
    return screen


def sellable_seat_count(screen_id: int) -> int:
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(Seat)
            .where(
                Seat.screen_id == screen_id,
                Seat.is_active.is_(True),
                Seat.category != SeatCategory.BROKEN,
            )
        )
        or 0
    )


# --- Admin: layout editing (issue 5) -------------------------------------------------

# The order a click cycles a cell through in the layout editor.
CYCLE = ["S", "P", "V", "W", "C", ".", "X"]
CODE_NAMES = {
    "S": "standard",
    "P": "premium",
    "V": "VIP",
    "W": "wheelchair space",
    "C": "companion seat",
    ".": "gap",
    "X": "broken",
}


def layout_grid(layout: str) -> list[list[str]]:
    """Layout text as a rectangular grid of codes (short rows padded with gaps)."""
    lines = [line.rstrip() for line in layout.strip("\n").splitlines()] or [""]
    width = max(len(line) for line in lines)
    return [list(line.ljust(width, ".")) for line in lines]


def grid_layout(grid: list[list[str]]) -> str:
    return "\n".join("".join(row) for row in grid)


def resize_layout(layout: str, rows: int, columns: int) -> str:
    """Grow or shrink the grid, keeping existing cells; new cells are standard seats."""
    rows = max(1, min(rows, MAX_ROWS))
    columns = max(1, min(columns, MAX_COLUMNS))
    grid = layout_grid(layout) if layout.strip() else []
    out = []
    for r in range(rows):
        old = grid[r] if r < len(grid) else []
        out.append([old[c] if c < len(old) else "S" for c in range(columns)])
    return grid_layout(out)


def cycle_cell(layout: str, row: int, col: int) -> str:
    """The layout with one cell moved to the next code in CYCLE (out of range: unchanged)."""
    grid = layout_grid(layout)
    if 0 <= row < len(grid) and 0 <= col < len(grid[row]):
        code = grid[row][col]
        grid[row][col] = CYCLE[(CYCLE.index(code) + 1) % len(CYCLE)] if code in CYCLE else "S"
    return grid_layout(grid)


@dataclass(frozen=True)
class AffectedBooking:
    reference: str
    booking_id: int
    show_id: int
    starts_at: datetime
    seat_label: str


class LayoutConflict(Conflict):
    """The layout change would move or remove seats sold for future shows."""

    def __init__(self, message: str, affected: list[AffectedBooking]) -> None:
        super().__init__(message)
        self.affected = affected


def _screen_snapshot(screen: Screen) -> dict[str, object]:
    return {"name": screen.name, "layout": screen.layout, "is_active": screen.is_active}


def _refuse_taken_name(name: str, screen_id: int | None) -> None:
    query = select(func.count()).select_from(Screen).where(func.lower(Screen.name) == name.lower())
    if screen_id is not None:
        query = query.where(Screen.id != screen_id)
    if db.session.scalar(query):
        raise Conflict(f"There is already a screen called {name!r}.")


def _new_seat(screen_id: int, spec: SeatSpec) -> Seat:
    return Seat(
        screen_id=screen_id,
        row_label=spec.row_label,
        number=spec.number,
        grid_row=spec.grid_row,
        grid_col=spec.grid_col,
        category=spec.category,
    )


def update_layout(actor_id: int, screen_id: int, name: str, layout: str, now: datetime) -> Screen:
    """Rename a screen and/or change its layout, regenerating its seats in one transaction.

    Locks the screen row (FOR UPDATE; SQLite: BEGIN IMMEDIATE). A seat "changes" when its
    cell becomes a gap or another category, or its row/number label moves. If any changing
    seat has an active ticket for a scheduled show that has not started yet, nothing is
    changed and LayoutConflict lists the affected bookings. Otherwise: unchanged seats are
    kept; changed seats that ever had a ticket are retired (is_active false, kept for
    history) and replaced; never-sold changed seats are updated in place or deleted; live
    holds on changed seats are dropped. The screen's layout_version moves on (it keys the
    seat maps' layout caches). Audited.
    Raises NotFound, DomainError (bad layout), Conflict (name taken), LayoutConflict.
    """
    from ...models import Booking, SeatHold, Show, ShowStatus, Ticket, TicketStatus
    from ..errors import NotFound

    parse_layout(layout)  # a bad layout is refused before any lock is taken
    name = screen_name(name)
    with write_transaction() as session:
        screen = session.scalars(
            select(Screen).where(Screen.id == screen_id).with_for_update()
        ).one_or_none()
        if screen is None:
            raise NotFound("That screen does not exist.")
        specs = parse_layout(layout, screen.row_a_at_back)
        _refuse_taken_name(name, screen.id)
        before = _screen_snapshot(screen)
        wanted = {(s.grid_row, s.grid_col): s for s in specs}
        # The seats locked (ascending id) before their holds: the order sales lock them in.
        current = {
            (seat.grid_row, seat.grid_col): seat
            for seat in session.scalars(
                select(Seat)
                .where(Seat.screen_id == screen.id, Seat.is_active.is_(True))
                .order_by(Seat.id)
                .with_for_update()
            )
        }
        changed = [
            seat
            for cell, seat in current.items()
            if (spec := wanted.get(cell)) is None
            or (spec.row_label, spec.number, str(spec.category))
            != (seat.row_label, seat.number, seat.category)
        ]
        changed_ids = [seat.id for seat in changed]
        if changed_ids:
            # Holds go first: a checkout paying for a held seat that is about to change
            # waits on these rows and then finds its hold gone, so no sale can slip in
            # between the ticket check below and the seat change.
            session.execute(delete(SeatHold).where(SeatHold.seat_id.in_(changed_ids)))
            rows = session.execute(
                select(
                    Booking.reference,
                    Booking.id,
                    Show.id,
                    Show.starts_at,
                    Seat.row_label,
                    Seat.number,
                )
                .join(Ticket, Ticket.booking_id == Booking.id)
                .join(Show, Show.id == Ticket.show_id)
                .join(Seat, Seat.id == Ticket.seat_id)
                .where(
                    Ticket.seat_id.in_(changed_ids),
                    Ticket.status == TicketStatus.ACTIVE,
                    Show.status == ShowStatus.SCHEDULED,
                    Show.starts_at > now,
                )
                .order_by(Show.starts_at, Booking.reference, Seat.row_label, Seat.number)
            ).all()
            if rows:
                affected = [
                    AffectedBooking(ref, bid, sid, starts, f"{row}{num}")
                    for ref, bid, sid, starts, row, num in rows
                ]
                refs = sorted({a.reference for a in affected})
                raise LayoutConflict(
                    "Tickets are sold for future shows on seats this change would move, break "
                    f"or remove (bookings {', '.join(refs)}). Cancel or move those bookings "
                    "first, or leave those seats as they are.",
                    affected,
                )
            sold = set(
                session.scalars(
                    select(Ticket.seat_id).where(Ticket.seat_id.in_(changed_ids)).distinct()
                )
            )
            for seat in changed:
                if seat.id in sold:
                    seat.is_active = False
                    session.flush()  # free the active-cell unique index before re-adding
                    spec = wanted.get((seat.grid_row, seat.grid_col))
                    if spec is not None:
                        session.add(_new_seat(screen.id, spec))
                elif (spec := wanted.get((seat.grid_row, seat.grid_col))) is not None:
                    seat.row_label = spec.row_label
                    seat.number = spec.number
                    seat.category = spec.category
                else:
                    session.delete(seat)
        session.add_all(
            _new_seat(screen.id, spec) for cell, spec in wanted.items() if cell not in current
        )
        screen.name = name
        screen.layout = grid_layout(layout_grid(layout))
        screen.layout_version += 1
        session.flush()
        record_audit(
            actor_id=actor_id,
            action="screen.update",
            target_type="screen",
            target_id=screen.id,
            now=now,
            before=before,
            after=_screen_snapshot(screen) | {"changed_seats": len(changed_ids)},
        )
    return screen


def list_screens() -> list[tuple[Screen, int, int]]:
    """Every screen with its sellable seat count and upcoming show count, by name."""
    from ...models import Show, ShowStatus

    sellable = (
        select(Seat.screen_id, func.count().label("n"))
        .where(Seat.is_active.is_(True), Seat.category != SeatCategory.BROKEN)
        .group_by(Seat.screen_id)
        .subquery()
    )
    upcoming = (
        select(Show.screen_id, func.count().label("n"))
        .where(Show.status == ShowStatus.SCHEDULED)
        .group_by(Show.screen_id)
        .subquery()
    )
    rows = db.session.execute(
        select(Screen, func.coalesce(sellable.c.n, 0), func.coalesce(upcoming.c.n, 0))
        .outerjoin(sellable, sellable.c.screen_id == Screen.id)
        .outerjoin(upcoming, upcoming.c.screen_id == Screen.id)
        .order_by(func.lower(Screen.name))
    ).all()
    return [(s, int(a), int(b)) for s, a, b in rows]


@dataclass(frozen=True)
class PreviewCell:
    row: int
    col: int
    code: str
    name: str
    number: int | None  # seat number in its row; None for a gap
    category: str | None  # SeatCategory value; None for a gap


def preview_rows(layout: str, row_a_at_back: bool = False) -> list[tuple[str, list[PreviewCell]]]:
    """The editor's grid: each row's label and its cells, seats lettered and numbered as
    parse_layout would (gaps skipped)."""
    rows = []
    grid = layout_grid(layout)
    labels = row_labels(len(grid), row_a_at_back)
    for r, codes in enumerate(grid):
        number = 0
        cells = []
        for c, code in enumerate(codes):
            seat_number = None
            if LAYOUT_CODES.get(code) is not None:
                number += 1
                seat_number = number
            category = LAYOUT_CODES.get(code)
            cells.append(
                PreviewCell(
                    r,
                    c,
                    code,
                    CODE_NAMES.get(code, "unknown"),
                    seat_number,
                    str(category) if category is not None else None,
                )
            )
        rows.append((labels[r], cells))
    return rows
