"""Seat rules as pure functions: the companion rule and the single-empty-seat rule.

Both work on plain `SeatCell` values so they can be unit-tested without a database; the
holds and checkout services build the cells under their locks and call these.

Single-empty-seat rule, as implemented:
- A row is split into *segments*: runs of ordinary seats (standard, premium, VIP) in
  consecutive grid columns. A gap (aisle), a broken seat, a wheelchair space or a companion
  seat ends a segment, like the row's end: nobody but a wheelchair user and their companion
  can fill those, so they don't count as places a lone seat could be sold next to.
- *Taken* means sold (active ticket) or held by another customer with a live hold. The
  customer's own seats being bought are *chosen*; everything else is *free*.
- A purchase strands a seat when a maximal run of free seats of length two or more becomes
  a run of exactly one. Lone seats that were already alone before the purchase are not the
  purchase's fault and never block it.
- Exemption ("unless no other choice avoids it"): per row, with the same number of chosen
  ordinary seats in that row, if no choice among that row's currently free seats avoids
  stranding one, the purchase is allowed. Within one free run of length L, taking k seats
  can avoid a lone seat for every k except k = L - 1, so the check is a small subset sum.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ...models import SeatCategory
from ..errors import SeatRuleViolation

CellState = Literal["free", "taken", "chosen"]
ORDINARY = frozenset({SeatCategory.STANDARD, SeatCategory.PREMIUM, SeatCategory.VIP})


@dataclass(frozen=True)
class SeatCell:
    seat_id: int
    label: str
    grid_row: int
    grid_col: int
    category: str
    state: CellState


def _segments(row: list[SeatCell]) -> list[list[SeatCell]]:
    """Runs of ordinary seats in consecutive columns (row sorted by grid_col)."""
    segments: list[list[SeatCell]] = []
    current: list[SeatCell] = []
    previous_col: int | None = None
    for cell in row:
        if cell.category not in ORDINARY:
            if current:
                segments.append(current)
            current, previous_col = [], None
            continue
        if previous_col is not None and cell.grid_col != previous_col + 1:
            segments.append(current)
            current = []
        current.append(cell)
        previous_col = cell.grid_col
    if current:
        segments.append(current)
    return segments


def _free_runs(segment: list[SeatCell], *, chosen_is_free: bool) -> list[list[SeatCell]]:
    runs: list[list[SeatCell]] = []
    current: list[SeatCell] = []
    for cell in segment:
        free = cell.state == "free" or (chosen_is_free and cell.state == "chosen")
        if free:
            current.append(cell)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _row_can_avoid(run_lengths: list[int], seats: int) -> bool:
    """Can `seats` seats be taken from these free runs without leaving any run of one
    that was longer before? Within a run of L >= 2 every count but L - 1 works."""
    reachable = {0}
    for length in run_lengths:
        options = [k for k in range(length + 1) if k != length - 1] if length >= 2 else [0, length]
        reachable = {r + k for r in reachable for k in options if r + k <= seats}
    return seats in reachable


def _rows(cells: Iterable[SeatCell]) -> list[list[SeatCell]]:
    """The cells grouped by grid row, rows in order, each sorted by grid column."""
    rows: dict[int, list[SeatCell]] = defaultdict(list)
    for cell in cells:
        rows[cell.grid_row].append(cell)
    return [sorted(rows[grid_row], key=lambda c: c.grid_col) for grid_row in sorted(rows)]


def _row_left_alone(row: list[SeatCell]) -> tuple[list[SeatCell], list[int]]:
    """For one row (sorted by column): the seats the chosen ones leave alone, and the
    lengths of the free runs before the purchase (what the exemption weighs)."""
    left: list[SeatCell] = []
    run_lengths: list[int] = []
    for segment in _segments(row):
        for before in _free_runs(segment, chosen_is_free=True):
            run_lengths.append(len(before))
            if len(before) < 2:
                continue
            for after in _free_runs(before, chosen_is_free=False):
                if len(after) == 1:
                    left.append(after[0])
    return left, run_lengths


def left_alone(cells: Iterable[SeatCell]) -> list[SeatCell]:
    """Seats the chosen seats would leave empty on their own, before the exemption: every
    run of two or more free seats that the purchase turns into a run of exactly one.
    Sorted by row, then column."""
    return [seat for row in _rows(cells) for seat in _row_left_alone(row)[0]]


def stranded_seats(cells: Iterable[SeatCell]) -> list[SeatCell]:
    """Seats the chosen seats would leave empty on their own, excluding rows where no
    other choice of the same number of seats avoids it. Sorted by row, then column."""
    stranded: list[SeatCell] = []
    for row in _rows(cells):
        chosen = sum(1 for c in row if c.state == "chosen" and c.category in ORDINARY)
        if not chosen:
            continue
        row_stranded, run_lengths = _row_left_alone(row)
        if row_stranded and _row_can_avoid(run_lengths, chosen):
            stranded.extend(row_stranded)
    return stranded


def stranded_message(seat: SeatCell) -> str:
    return (
        f"That would leave seat {seat.label} empty on its own. "
        f"Pick {seat.label} too, or move one seat along."
    )


def stranded_hint(seat: SeatCell) -> str:
    """The basket's early warning: paying is refused until no seat is left on its own."""
    return (
        f"Your seats leave seat {seat.label} empty on its own. Pick {seat.label} too, or "
        "move one seat along, before you pay."
    )


def check_single_seats(cells: Iterable[SeatCell]) -> None:
    """Raise SeatRuleViolation naming the first seat the purchase would strand."""
    stranded = stranded_seats(cells)
    if stranded:
        raise SeatRuleViolation(stranded_message(stranded[0]))


def lonely_companions(chosen: Iterable[SeatCell]) -> list[SeatCell]:
    """Companion seats among the chosen cells (other states are ignored) without a chosen
    wheelchair space right next to them: same row, the grid column just left or right (a
    gap in between means not adjacent)."""
    chosen = [c for c in chosen if c.state == "chosen"]
    wheelchairs = {
        (c.grid_row, c.grid_col) for c in chosen if c.category == SeatCategory.WHEELCHAIR
    }
    return [
        c
        for c in chosen
        if c.category == SeatCategory.COMPANION
        and (c.grid_row, c.grid_col - 1) not in wheelchairs
        and (c.grid_row, c.grid_col + 1) not in wheelchairs
    ]


def companion_message(seat: SeatCell) -> str:
    return (
        f"Seat {seat.label} is a companion seat: it can only be booked together with the "
        "wheelchair space next to it. Pick the wheelchair space first."
    )


def check_companions(chosen: Iterable[SeatCell]) -> None:
    """Raise SeatRuleViolation when a chosen companion seat has no chosen wheelchair
    space beside it."""
    lonely = lonely_companions(chosen)
    if lonely:
        raise SeatRuleViolation(companion_message(lonely[0]))
