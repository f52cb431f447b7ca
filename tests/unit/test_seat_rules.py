"""The companion rule and the single-empty-seat rule, as pure functions."""

from __future__ import annotations

import pytest

from filmsphere.services.booking.seat_rules import (
    SeatCell,
    check_companions,
    check_single_seats,
    lonely_companions,
    stranded_seats,
)
from filmsphere.services.errors import SeatRuleViolation

CODES = {"S": "standard", "P": "premium", "V": "vip", "W": "wheelchair", "C": "companion"}
CODES["X"] = "broken"


def row(pattern: str, grid_row: int = 2, label: str = "C") -> list[SeatCell]:
    """Build one row from a picture: per cell a category code (S P V W C X or . for a gap)
    followed by a state: '_' free, '#' taken, '*' chosen. E.g. "S_S#S*..S_"."""
    cells: list[SeatCell] = []
    col = number = 0
    i = 0
    while i < len(pattern):
        code = pattern[i]
        if code == ".":
            col += 1
            i += 1
            continue
        mark = pattern[i + 1]
        state = {"_": "free", "#": "taken", "*": "chosen"}[mark]
        number += 1
        cells.append(
            SeatCell(number * 10 + grid_row, f"{label}{number}", grid_row, col, CODES[code], state)  # type: ignore[arg-type]
        )
        col += 1
        i += 2
    return cells


def labels(cells: list[SeatCell]) -> list[str]:
    return [c.label for c in cells]


def test_taking_seats_next_to_a_taken_one_is_fine() -> None:
    assert stranded_seats(row("S#S*S*S_S_S_")) == []


def test_leaving_one_seat_between_a_taken_seat_and_the_choice_is_refused() -> None:
    assert labels(stranded_seats(row("S#S_S*S*S_S_"))) == ["C2"]


def test_leaving_one_seat_at_the_row_end_is_refused() -> None:
    assert labels(stranded_seats(row("S_S*S*S_S_S_"))) == ["C1"]


def test_an_aisle_counts_as_the_row_end() -> None:
    assert labels(stranded_seats(row("S_S_S_..S_S*S*S_S_"))) == ["C4"]
    # the seat on the far side of the aisle is not affected by this choice
    assert stranded_seats(row("S_S_S_..S*S*S_S_")) == []


def test_a_broken_seat_counts_as_the_row_end() -> None:
    assert labels(stranded_seats(row("X_S_S*S*S_S_"))) == ["C2"]


def test_wheelchair_and_companion_places_count_as_the_row_end() -> None:
    assert labels(stranded_seats(row("W_C_S_S*S*S_S_"))) == ["C3"]


def test_a_seat_already_alone_before_the_purchase_is_not_its_fault() -> None:
    assert stranded_seats(row("S#S_S#S*S*S_S_")) == []


def test_different_categories_next_to_each_other_form_one_segment() -> None:
    assert labels(stranded_seats(row("S_P*P*S_S_"))) == ["C1"]


def test_filling_the_gap_exactly_is_fine() -> None:
    assert stranded_seats(row("S#S*S*S#")) == []


def test_unavoidable_single_seat_is_allowed() -> None:
    # Three free seats between two taken ones, the customer wants two: whatever two they
    # pick, one is left alone, and the row offers nothing else.
    assert stranded_seats(row("S#S*S*S_S#")) == []
    assert stranded_seats(row("S#S*S_S*S#")) == []


def test_exemption_does_not_apply_when_another_choice_exists() -> None:
    # Same gap of three, but the row also has a run of four where two seats fit cleanly.
    assert labels(stranded_seats(row("S#S*S*S_S#..S_S_S_S_"))) == ["C4"]


def test_exemption_is_per_row_and_counts_seats_in_that_row() -> None:
    # Two free seats only (a run of two): one seat wanted always strands the other.
    assert stranded_seats(row("S#S*S_S#")) == []
    # With a single free seat elsewhere in the row, taking that one avoids stranding.
    assert labels(stranded_seats(row("S#S*S_S#..S_"))) == ["C3"]


def test_rows_are_judged_separately() -> None:
    cells = row("S_S*S*S_S_", grid_row=0, label="A") + row("S*S*S_S_", grid_row=1, label="B")
    assert labels(stranded_seats(cells)) == ["A1"]


def test_check_names_the_stranded_seat() -> None:
    with pytest.raises(SeatRuleViolation) as info:
        check_single_seats(row("S_S_S_S_S*S*S_S#"))
    assert info.value.message == (
        "That would leave seat C7 empty on its own. Pick C7 too, or move one seat along."
    )


def test_companion_needs_an_adjacent_chosen_wheelchair_space() -> None:
    assert lonely_companions(row("W*C*S_")) == []
    assert lonely_companions(row("S_C*W*")) == []
    assert labels(lonely_companions(row("W_C*S_"))) == ["C2"]
    # a gap between them means they are not adjacent
    assert labels(lonely_companions(row("W*.C*"))) == ["C2"]


def test_companion_of_another_row_does_not_count() -> None:
    cells = row("W*S_", grid_row=0, label="A") + row("C*S_", grid_row=1, label="B")
    assert labels(lonely_companions(c for c in cells if c.state == "chosen")) == ["B1"]


def test_check_companions_explains_itself() -> None:
    with pytest.raises(SeatRuleViolation) as info:
        check_companions(c for c in row("W_C*") if c.state == "chosen")
    assert "C2 is a companion seat" in info.value.message
