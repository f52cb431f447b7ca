"""Quick pick on fixed layouts: the documented best block, or a clear reason for none."""

from __future__ import annotations

import pytest

from filmsphere.services.booking.quick_pick import pick_best, ranked_blocks, shortfall
from filmsphere.services.booking.seat_rules import SeatCell

from .test_seat_rules import row

# The ticket-rush screen: 10 rows of 20 seats with two aisles; A–E standard, F–I premium,
# J VIP. Row A is nearest the screen, so the sweet spot is row G (two thirds back).
STANDARD = "S_S_S_S_.S_S_S_S_S_S_S_S_S_S_S_S_.S_S_S_S_"
PREMIUM = STANDARD.replace("S", "P")
VIP = STANDARD.replace("S", "V")
RUSH = [STANDARD] * 5 + [PREMIUM] * 4 + [VIP]


def house(*lines: str) -> list[SeatCell]:
    """Rows from pictures (see test_seat_rules.row), row A first: '_' free, '#' taken,
    '*' the customer's own; S P V W C X are the categories, '.' an aisle."""
    cells: list[SeatCell] = []
    for grid_row, line in enumerate(lines):
        cells += row(line, grid_row=grid_row, label=chr(ord("A") + grid_row))
    return cells


def best(cells: list[SeatCell], party: int, category: str | None = None) -> tuple[str, ...]:
    pick = pick_best(cells, party, category)  # type: ignore[arg-type]
    assert pick.block is not None, pick.reason
    return pick.block.labels


def reason(cells: list[SeatCell], party: int, category: str | None = None) -> str:
    pick = pick_best(cells, party, category)  # type: ignore[arg-type]
    assert pick.block is None, pick.block
    assert pick.reason
    return pick.reason


def test_an_empty_house_gets_the_middle_of_the_row_two_thirds_back() -> None:
    assert best(house(*RUSH), 2) == ("G10", "G11")
    assert best(house(*RUSH), 4) == ("G9", "G10", "G11", "G12")


def test_equally_good_blocks_go_to_the_leftmost() -> None:
    # G9–G11 and G10–G12 are both half a seat from the middle of the row.
    assert best(house(*RUSH), 3) == ("G9", "G10", "G11")


def test_equally_far_rows_go_to_the_one_nearer_the_sweet_spot_then_the_front() -> None:
    # Four rows of five: the sweet spot is row C, column 3 (C3).
    rows = ["S#S#S#S#S#", "S#S#S_S#S#", "S#S#S#S_S#", "S#S#S_S#S#"]
    # C4 (one seat along in the sweet row) and B3 / D3 (one row off) are all one away.
    assert best(house(*rows), 1) == ("C4",)
    rows[2] = "S#S#S#S#S#"
    assert best(house(*rows), 1) == ("B3",)  # B3 and D3: the front one


def test_a_block_never_crosses_an_aisle_while_a_block_side_by_side_is_free() -> None:
    # The sweet row (B) has 3 + 3 seats around an aisle; row A further away has 4 together.
    rows = ["S_S_S_S_S#S#S#", "S_S_S_.S_S_S_", "S#S#S#.S#S#S#"]
    pick = pick_best(house(*rows), 4)
    assert pick.block is not None
    assert pick.block.labels == ("A1", "A2", "A3", "A4")
    assert not pick.block.split
    assert pick.note is None


def test_a_party_is_split_across_one_aisle_only_when_nothing_else_fits_and_is_told() -> None:
    pick = pick_best(house("S_S_S_.S_S_S_"), 4)
    assert pick.block is not None
    assert pick.block.split
    # Centred on the aisle (A2–A5) would leave A1 and A6 alone; A1–A4 and A3–A6 tie.
    assert pick.block.labels == ("A1", "A2", "A3", "A4")
    assert (
        pick.note == "No 4 seats side by side were free, so your seats are split across the aisle."
    )
    # Never across two aisles.
    assert reason(house("S_S_.S_S_.S_S_"), 5) == (
        "There aren't 5 seats together. Try fewer seats, or pick seats on the map."
    )


def test_a_broken_seat_ends_a_block_and_is_not_an_aisle() -> None:
    assert reason(house("S_S_S_X_S_S_S_"), 4) == (
        "There aren't 4 seats together. Try fewer seats, or pick seats on the map."
    )
    assert best(house("S_S_S_X_S_S_S_"), 3) == ("A1", "A2", "A3")


def test_wheelchair_space_with_companion_seats_beside_it() -> None:
    cells = house("W_C_C_W_.S_S_S_S_")
    assert best(cells, 1, "wheelchair") == ("A4",)
    assert best(cells, 2, "wheelchair") == ("A3", "A4")  # companion + space, nearer the middle
    # Three: a companion seat needs its own wheelchair space beside it (W C C is refused),
    # so companion + space and one seat across the aisle (ties W + two seats across it).
    pick = pick_best(cells, 3, "wheelchair")
    assert pick.block is not None
    assert (pick.block.labels, pick.block.split) == (("A3", "A4", "A5"), True)
    only_spaces = house("W_C_C_W_")
    assert reason(only_spaces, 3, "wheelchair") == (
        "No free wheelchair space has 2 free seats next to it. Try a smaller party, or pick "
        "seats on the map."
    )
    assert reason(house("W#C_C_W#"), 2, "wheelchair") == "No wheelchair space is free in this show."


def test_other_picks_never_take_wheelchair_spaces_or_companion_seats() -> None:
    cells = house("W_C_S_S_")
    assert best(cells, 2) == ("A3", "A4")
    assert reason(cells, 3) == "Only 2 seats are free in this show."


def test_a_category_is_kept_even_when_other_rows_are_nearer_the_sweet_spot() -> None:
    cells = house(*RUSH)
    assert best(cells, 2, "premium") == ("G10", "G11")
    assert best(cells, 2, "vip") == ("J10", "J11")
    assert best(cells, 2, "standard") == ("E10", "E11")


def test_a_nearly_full_show_gets_the_last_block() -> None:
    full = "S#S#S#S#.S#S#S#S#S#S#S#S#S#S#S#S#.S#S#S#S#"
    rows = [full] * 10
    rows[0] = "S_S_S_S#.S#S#S#S#S#S#S#S#S#S#S#S#.S#S#S#S#"
    rows[6] = "S#S#S#S#.S#S#S#S#S#S_S#S#S#S#S#S#.S#S#S#S#"
    assert best(house(*rows), 3) == ("A1", "A2", "A3")


def test_no_block_left_gives_a_clear_reason() -> None:
    scattered = house("S_S#S_S#S_", "S#S_S#S_S#")
    assert reason(scattered, 2) == (
        "There aren't 2 seats together. Try fewer seats, or pick seats on the map."
    )
    assert reason(house("S#S_S#"), 2) == "Only 1 seat is free in this show."
    assert reason(house("S#S#"), 1) == "No seats are free in this show."
    assert reason(house("S_S_P#P#"), 1, "premium") == "No premium seats are free in this show."


def held_ids(cells: list[SeatCell], *labels: str) -> frozenset[int]:
    """The seat ids of taken cells that are in someone's basket (held, not sold)."""
    return frozenset(c.seat_id for c in cells if c.label in labels)


def test_a_refusal_names_the_largest_block_left_and_the_free_seats() -> None:
    cells = house("S_S_S_S#S_S_S#S#", "S#S_S_.S_S#S#")
    short = shortfall(cells, 4, None, held_ids(cells, "A4", "B1"), 10)
    assert (short.largest_block, short.free_seats, short.held_seats) == (3, 8, 2)
    assert short.reason == (
        "No 4 seats together; the most together now is 3. Ask for 3, or pick seats on the map."
    )
    assert not short.sold_out and not short.worth_waiting
    # Fewer free than the party: said, with what fits together.
    short = shortfall(house("S_S#S_S_S#"), 4, None, frozenset(), 10)
    assert (short.largest_block, short.free_seats) == (2, 3)
    assert short.reason == (
        "Only 3 seats are free; the most together now is 2. Ask for 2, or pick seats on the map."
    )
    short = shortfall(house("S#S_S_S#"), 3, None, frozenset(), 10)
    assert short.reason == "Only 2 seats are free. Ask for 2, or pick seats on the map."


def test_the_largest_block_is_one_the_pick_would_hold() -> None:
    # Split across an aisle when nothing side by side is as large, as the pick would.
    assert shortfall(house("S#S_S_.S_S_S#"), 5, None, frozenset(), 10).largest_block == 4
    # Larger than the party when the single-empty-seat rule refuses every smaller block.
    short = shortfall(house("S#S_S_S#"), 1, None, frozenset(), 10)
    assert short.largest_block == 2
    assert short.reason == (
        "Every choice of 1 seat would leave a single seat on its own; 2 together are free. "
        "Ask for 2, or pick seats on the map."
    )
    # Only a category's seats count, free and held.
    cells = house("S_S_S_S_", "P_P#P#P#")
    short = shortfall(cells, 2, "premium", held_ids(cells, "B2", "B3"), 10)
    assert (short.largest_block, short.free_seats, short.held_seats) == (1, 1, 2)


def test_every_seat_left_in_a_basket_says_they_may_come_back() -> None:
    cells = house("S#S#S#S#", "S#S#S#S#")
    short = shortfall(cells, 2, None, held_ids(cells, "A2", "B3"), 10)
    assert (short.largest_block, short.free_seats, short.held_seats) == (0, 0, 2)
    assert short.worth_waiting and not short.sold_out
    assert short.reason == (
        "Every seat left is in someone's basket right now: seats may come back within 10 "
        "minutes. The seat map shows them the moment they do."
    )


def test_nothing_free_and_nothing_held_is_sold_out() -> None:
    cells = house("S#S#S#S#", "W#C#S#S#")
    short = shortfall(cells, 1, None, frozenset(), 10)
    assert short.sold_out and not short.worth_waiting
    assert (short.largest_block, short.free_seats, short.held_seats) == (0, 0, 0)
    assert short.reason == "Sold out: every seat of this show is sold."
    assert shortfall(house("S_P#"), 1, "premium", frozenset(), 10).reason == (
        "Every premium seat of this show is sold."
    )


def test_a_block_that_leaves_a_seat_alone_is_passed_over() -> None:
    # Free A2–A6: the middle three (A3–A5) would leave A2 and A6 alone.
    cells = house("S#S_S_S_S_S_S#")
    assert best(cells, 3) == ("A2", "A3", "A4")
    assert ("A3", "A4", "A5") not in [b.labels for b in ranked_blocks(cells, 3)]


def test_leaving_a_seat_alone_is_a_last_resort_where_the_rules_allow_it() -> None:
    # Row B is nearer the sweet spot, but any 2 of its 3 free seats leave one alone.
    # (A2–A3 would leave A1 and A4 alone: refused.)
    cells = house("S_S_S_S_S#", "S#S_S_S_S#")
    assert best(cells, 2) == ("A3", "A4")
    pick = pick_best(house("S#S#S#S#S#", "S#S_S_S_S#"), 2)
    assert pick.block is not None
    assert (pick.block.labels, pick.block.leaves_alone) == (("B2", "B3"), ("B4",))


def test_splitting_across_an_aisle_comes_before_leaving_a_seat_alone() -> None:
    pick = pick_best(house("S#S_S_S_S#", "S_.S_S#S#S#"), 2)
    assert pick.block is not None
    assert (pick.block.labels, pick.block.split, pick.block.leaves_alone) == (
        ("B1", "B2"),
        True,
        (),
    )


def test_no_block_when_the_single_seat_rule_refuses_every_one() -> None:
    # 4 free, taken, 2 free: any 3 of the four leave one alone, and 1 + 2 would not.
    assert reason(house("S_S_S_S_S#S_S_"), 3) == (
        "Every block of 3 seats together would leave a single seat on its own. Pick seats "
        "on the map instead."
    )


def test_the_customers_own_seats_are_kept_out_of_the_block_and_count_as_taken() -> None:
    assert best(house("S_S_S*S_S_"), 2) == ("A1", "A2")


def test_ranked_blocks_lets_a_race_loser_take_the_next_best_block() -> None:
    blocks = ranked_blocks(house(*RUSH), 2)
    first = next(blocks)
    assert first.labels == ("G10", "G11")
    assert next(blocks).labels == ("G9", "G10")
    lost = first.seat_ids[0]  # someone else was faster to G10
    assert next(b for b in blocks if lost not in b.seat_ids).labels == ("G11", "G12")
    assert pick_best(house(*RUSH), 2).block == first


@pytest.mark.parametrize(("party", "category"), [(0, None), (11, None), (2, "balcony")])
def test_party_size_and_category_are_checked(party: int, category: str | None) -> None:
    with pytest.raises(ValueError):
        pick_best(house(STANDARD), party, category)  # type: ignore[arg-type]
