"""Quick pick: the best block of free seats for a party, as pure functions (no database).

The rule, in one sentence: the party gets the free seats side by side in one row whose
centre is nearest the sweet spot — two thirds of the way back from the screen, in the middle
of the row — leaving no seat empty on its own; only when no such block is free are they
split across an aisle, and only when no block of either kind avoids it is a seat left on
its own (and then only where the seat rules allow it, as checkout will).

In detail:
- A *block* is `party` free seats of one row in consecutive grid columns: no gap (aisle),
  broken seat, taken seat or seat of another kind between them. A *split* block is the
  same but crosses exactly one aisle (the columns between are empty, no seat there).
- Kinds: no category means ordinary seats (standard, premium and VIP, mixed); "standard",
  "premium" or "vip" means only that category; "wheelchair" means a block with exactly one
  wheelchair space whose other seats are companion seats beside it (the companion rule of
  seat_rules) or ordinary seats. Other picks never take a wheelchair space or a companion
  seat.
- Distance: row A (grid row 0) is nearest the screen. The sweet spot's row is two thirds
  of the way from the front row to the back row; its column is the middle of the block's
  row (halfway between the row's first and last seat). A block's centre is its row and the
  mean column of its seats; the distance is straight-line, one row counting as much as one
  seat. Exact integer arithmetic.
- Order: blocks that leave no seat alone and don't cross an aisle, then split blocks that
  leave no seat alone, then blocks that leave a seat alone (contiguous, then split). Within
  each, nearest first; ties go to the row nearer the sweet spot, then the front row, then
  the leftmost block. A block the single-empty-seat rule refuses (`stranded_seats`, the
  rule checkout enforces) is never offered.
- Cells in state "chosen" are seats the customer already holds and keeps: a block never
  includes them, and they count as occupied when judging what the block leaves alone.
  Checkout judges the whole basket; a caller that re-picks passes those seats as free.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from ...models import SeatCategory
from .seat_rules import ORDINARY, SeatCell, left_alone, lonely_companions, stranded_seats

MAX_PARTY = 10
QuickPickCategory = Literal["standard", "premium", "vip", "wheelchair"]
CATEGORIES: tuple[QuickPickCategory, ...] = ("standard", "premium", "vip", "wheelchair")
_NOUNS = {"standard": "standard ", "premium": "premium ", "vip": "VIP ", "wheelchair": ""}


@dataclass(frozen=True)
class Block:
    """A block of seats in one row, left to right."""

    seat_ids: tuple[int, ...]
    labels: tuple[str, ...]
    grid_row: int
    split: bool  # crosses an aisle: no block side by side was free
    leaves_alone: tuple[str, ...]  # seats it leaves empty on their own (a last resort)


@dataclass(frozen=True)
class QuickPick:
    """The best block, or why there is none."""

    block: Block | None
    reason: str | None = None

    @property
    def note(self) -> str | None:
        """What the customer should be told about a block that isn't the usual kind."""
        if self.block is not None and self.block.split:
            return (
                f"No {len(self.block.seat_ids)} seats side by side were free, so your seats "
                "are split across the aisle."
            )
        return None


@dataclass(frozen=True)
class Shortfall:
    """Why no block fits the party, and what is left: the sentence for the customer and
    the numbers a client asks its next question with."""

    reason: str
    largest_block: int  # the most seats together a quick pick would hold now (0: none)
    free_seats: int  # free seats of the kind asked for
    held_seats: int  # seats of that kind in others' baskets: they may come back

    @property
    def sold_out(self) -> bool:
        return self.free_seats == 0 and self.held_seats == 0

    @property
    def worth_waiting(self) -> bool:
        """Nothing fits now, but seats in others' baskets may come back."""
        return self.largest_block == 0 and self.held_seats > 0


def shortfall(
    cells: Iterable[SeatCell],
    party: int,
    category: QuickPickCategory | None,
    held: frozenset[int],
    comeback_minutes: int,
) -> Shortfall:
    """What to tell a party no block fits, from the cells the pick already read: the
    largest other party size a pick would seat together now, the free seats of the kind,
    and how many of them sit in others' baskets (`held`: seat ids of taken cells that are
    held, not sold; they are back within `comeback_minutes` at the latest if unpaid).
    Pure; raises ValueError like pick_best."""
    house = _House(cells)
    _check(party, category)
    kind = [c for row in house.rows.values() for c in row if _of_kind(c, category)]
    free = sum(1 for c in kind if c.state == "free")
    in_baskets = sum(1 for c in kind if c.state == "taken" and c.seat_id in held)
    largest = next(
        (
            n
            for n in range(min(free, MAX_PARTY), 0, -1)
            if n != party and next(_ranked(house, _candidates(house, n, category), n), None)
        ),
        0,
    )
    noun = _NOUNS.get(category or "", "")
    if largest:
        if largest > party:  # the single-empty-seat rule refuses every smaller block
            reason = (
                f"Every choice of {party} {noun}seat{'s' if party != 1 else ''} would leave a "
                f"single seat on its own; {largest} together are free."
            )
        elif free >= party:
            reason = f"No {party} {noun}seats together; the most together now is {largest}."
        elif largest < free:
            reason = f"Only {free} {noun}seats are free; the most together now is {largest}."
        else:
            reason = f"Only {free} {noun}seat{'s are' if free != 1 else ' is'} free."
        reason += f" Ask for {largest}, or pick seats on the map."
    elif free == 0 and in_baskets:
        reason = (
            f"Every {noun}seat left is in someone's basket right now: seats may come back "
            f"within {comeback_minutes} minutes. The seat map shows them the moment they do."
        )
    elif free == 0:
        reason = (
            "Sold out: every seat of this show is sold."
            if category is None
            else f"Every {noun or 'wheelchair '}seat of this show is sold."
        )
    else:
        tried = bool(_candidates(house, party, category))
        reason = _why_none(house, party, category, tried=tried)
    return Shortfall(reason, largest, free, in_baskets)


def pick_best(
    cells: Iterable[SeatCell], party: int, category: QuickPickCategory | None = None
) -> QuickPick:
    """The best block for a party of `party` (1–MAX_PARTY) in `category`, or a reason in
    words when none fits. Raises ValueError for a party size or category out of range."""
    house = _House(cells)
    candidates = _candidates(house, party, category)
    best = next(_ranked(house, candidates, party), None)
    if best is not None:
        return QuickPick(best)
    return QuickPick(None, _why_none(house, party, category, tried=bool(candidates)))


def ranked_blocks(
    cells: Iterable[SeatCell], party: int, category: QuickPickCategory | None = None
) -> Iterator[Block]:
    """Every block that fits, best first, computed lazily: a caller that loses a seat of
    its block in a race takes the next one (skipping blocks with the lost seat) without
    ranking the house again. Raises ValueError like pick_best."""
    house = _House(cells)
    return _ranked(house, _candidates(house, party, category), party)


class _House:
    """The cells by row, and the sweet spot's row (scaled by 3 to stay in integers)."""

    def __init__(self, cells: Iterable[SeatCell]) -> None:
        rows: dict[int, list[SeatCell]] = {}
        for cell in cells:
            rows.setdefault(cell.grid_row, []).append(cell)
        self.rows = {r: sorted(row, key=lambda c: c.grid_col) for r, row in rows.items()}
        front, back = (min(rows), max(rows)) if rows else (0, 0)
        self.sweet_row_x3 = 3 * front + 2 * (back - front)


@dataclass(frozen=True)
class _Candidate:
    key: tuple[bool, int, int, int, int]  # split, distance, then the tie-breaks
    grid_row: int
    start: int  # the block is house.rows[grid_row][start : start + party]


def _check(party: int, category: str | None) -> None:
    if not 1 <= party <= MAX_PARTY:
        raise ValueError(f"party must be 1 to {MAX_PARTY}, got {party}")
    if category is not None and category not in CATEGORIES:
        raise ValueError(f"unknown quick-pick category {category!r}")


def _usable(cell: SeatCell, category: str | None) -> bool:
    return cell.state == "free" and _of_kind(cell, category)


def _of_kind(cell: SeatCell, category: str | None) -> bool:
    if category is None:
        return cell.category in ORDINARY
    if category == SeatCategory.WHEELCHAIR:
        return cell.category in ORDINARY or cell.category in (
            SeatCategory.WHEELCHAIR,
            SeatCategory.COMPANION,
        )
    return cell.category == category


def _runs(row: list[SeatCell], category: str | None) -> list[tuple[int, int]]:
    """The row's runs of usable seats in consecutive columns: (first index in `row`,
    length). A run is also consecutive in `row`, so any block is a slice of it."""
    runs: list[tuple[int, int]] = []
    for index, cell in enumerate(row):
        if not _usable(cell, category):
            continue
        if runs and sum(runs[-1]) == index and row[index - 1].grid_col + 1 == cell.grid_col:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((index, 1))
    return runs


def _windows(row: list[SeatCell], party: int, category: str | None) -> Iterator[tuple[bool, int]]:
    """(split, first index in `row`) of every block of `party` usable seats in the row."""
    runs = _runs(row, category)
    for i, (first, length) in enumerate(runs):
        after, after_length = runs[i + 1] if i + 1 < len(runs) else (-1, 0)
        for start in range(first, first + length - party + 1):
            yield False, start
        # Only an aisle between two runs: neighbours in the row, yet not one run.
        if after == first + length:
            for left in range(max(1, party - after_length), min(length, party - 1) + 1):
                yield True, after - left


def _is_wheelchair_block(block: list[SeatCell]) -> bool:
    """Exactly one wheelchair space, and every companion seat beside a chosen one."""
    if sum(1 for c in block if c.category == SeatCategory.WHEELCHAIR) != 1:
        return False
    chosen = [
        SeatCell(c.seat_id, c.label, c.grid_row, c.grid_col, c.category, "chosen") for c in block
    ]
    return not lonely_companions(chosen)


def _candidates(house: _House, party: int, category: str | None) -> list[_Candidate]:
    """Every block of the party's size and kind: contiguous before split, nearest the
    sweet spot first."""
    _check(party, category)
    found: list[_Candidate] = []
    consecutive = party * (party - 1) // 2  # the column sum of a block, less party × first
    for grid_row, row in house.rows.items():
        # Distances scaled to integers: rows by 3 (the sweet spot is in thirds), columns
        # by 2 × party (a mean of `party` columns against a half-column row centre).
        row_x3 = 3 * grid_row - house.sweet_row_x3
        row_term = (2 * party * row_x3) ** 2
        ends = row[0].grid_col + row[-1].grid_col
        for split, start in _windows(row, party, category):
            if category == SeatCategory.WHEELCHAIR and not _is_wheelchair_block(
                row[start : start + party]
            ):
                continue
            if split:
                columns = sum(c.grid_col for c in row[start : start + party])
            else:
                columns = party * row[start].grid_col + consecutive
            distance = row_term + (3 * (2 * columns - party * ends)) ** 2
            key = (split, distance, abs(row_x3), grid_row, row[start].grid_col)
            found.append(_Candidate(key, grid_row, start))
    found.sort(key=lambda c: c.key)
    return found


def _judge(house: _House, block: list[SeatCell]) -> tuple[bool, tuple[str, ...]]:
    """(the seat rules allow it, the seats it leaves alone), on its row: the block chosen,
    the customer's own seats and everyone else's occupied."""
    chosen = {c.seat_id for c in block}
    row = [
        SeatCell(
            c.seat_id,
            c.label,
            c.grid_row,
            c.grid_col,
            c.category,
            "chosen" if c.seat_id in chosen else "free" if c.state == "free" else "taken",
        )
        for c in house.rows[block[0].grid_row]
    ]
    return not stranded_seats(row), tuple(c.label for c in left_alone(row))


def _ranked(house: _House, candidates: list[_Candidate], party: int) -> Iterator[Block]:
    last_resort: list[Block] = []
    for candidate in candidates:  # contiguous before split, nearest first within each
        seats = house.rows[candidate.grid_row][candidate.start : candidate.start + party]
        allowed, alone = _judge(house, seats)
        if not allowed:
            continue
        block = Block(
            seat_ids=tuple(c.seat_id for c in seats),
            labels=tuple(c.label for c in seats),
            grid_row=candidate.grid_row,
            split=candidate.key[0],
            leaves_alone=alone,
        )
        if alone:
            last_resort.append(block)
        else:
            yield block
    yield from last_resort


def _why_none(house: _House, party: int, category: str | None, *, tried: bool) -> str:
    free = [c for row in house.rows.values() for c in row if _usable(c, category)]
    noun = _NOUNS.get(category or "", "")
    if tried:  # blocks were there, and the single-empty-seat rule refused every one
        return (
            f"Every block of {party} {noun}seats together would leave a single seat on its "
            "own. Pick seats on the map instead."
        )
    if category == SeatCategory.WHEELCHAIR:
        if not any(c.category == SeatCategory.WHEELCHAIR for c in free):
            return "No wheelchair space is free in this show."
        others = party - 1
        return (
            f"No free wheelchair space has {others} free seat{'s' if others != 1 else ''} "
            "next to it. Try a smaller party, or pick seats on the map."
        )
    if len(free) < party:
        if not free:
            return f"No {noun}seats are free in this show."
        return (
            f"Only {len(free)} {noun}seat{'s are' if len(free) != 1 else ' is'} free in this show."
        )
    return f"There aren't {party} {noun}seats together. Try fewer seats, or pick seats on the map."
