"""What a ticket rush needs from the server: the rush benchmark's customers against a model.

    .venv/bin/python bench/rush_model.py                       # the default sweep
    .venv/bin/python bench/rush_model.py --capacity 165 860 --think 0 0.5 --customers 250

The same `Customer` code as `bench/booking_rush.py` (same seat choices, re-planning,
abandons, cancellations, single-empty-seat rule) runs on simulated time against an
in-memory seat map served by a model server: `--slots` requests in service at once, each
taking slots / capacity seconds, the rest waiting in one queue (first come, first served).
A request changes the seat map when its service ends, and its answer carries the grid as
it is then, as the app's does. No HTTP, no database, no CPU contention: it answers "if the
server handled N requests per second, how fast would this rush sell out, at what latency,
and how many requests would each seat cost?" Set `--capacity` to the rush benchmark's
measured requests per second to check the model against the real thing.

Simplifications: service time does not depend on the kind of request (a lost click costs
what a sale costs, roughly true of the app); holds never expire within a rush; every
customer has enough coins.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import selectors
import statistics
import sys
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking_rush import LAYOUT, Customer, Reply, Stats  # noqa: E402
from filmsphere.services.booking.quick_pick import ranked_blocks, shortfall  # noqa: E402
from filmsphere.services.booking.seat_rules import SeatCell, stranded_seats  # noqa: E402

CATEGORY = {"S": "standard", "P": "premium", "V": "vip"}
SHOW_ID = 1


class _JumpingSelector(selectors.DefaultSelector):
    """No I/O ever happens here: waiting for the next timer moves the clock to it."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout:
            self.now += timeout
        return []


class SimulatedTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose clock only moves when every task waits: sleeps cost no time."""

    def __init__(self) -> None:
        self._jumping = _JumpingSelector()
        super().__init__(self._jumping)

    def time(self) -> float:
        return self._jumping.now


class SeatMapModel:
    """The show's seats and who holds or bought them; answers like the app's routes."""

    def __init__(self, on_sold_out: asyncio.Event) -> None:
        self.cells: dict[int, SeatCell] = {}
        for grid_row, line in enumerate(LAYOUT.splitlines()):
            number = 0
            for grid_col, code in enumerate(line):
                if code == ".":
                    continue
                number += 1
                seat_id = len(self.cells) + 1
                label = f"{chr(ord('A') + grid_row)}{number}"
                self.cells[seat_id] = SeatCell(
                    seat_id, label, grid_row, grid_col, CATEGORY[code], "free"
                )
        self.held: dict[int, int] = {}  # seat id -> customer
        self.sold: dict[int, str] = {}  # seat id -> booking reference
        self.bookings: dict[str, list[int]] = {}
        self.on_sold_out = on_sold_out
        self.sold_at: list[tuple[float, int]] = []

    def answer(self, user: int, method: str, path: str, form: dict[str, str] | None) -> Reply:
        parts = path.strip("/").split("/")
        if parts[0] == "bookings":
            if method == "GET":
                return Reply(200, {}, '<input name="quoted" value="quote">')
            for seat_id in self.bookings.pop(parts[1], []):
                del self.sold[seat_id]
            return Reply(303, {}, "")
        if parts[-1] == "seats":
            return self._grid(user, 200)
        if parts[-1] == "checkout":
            return self._checkout(user)
        if parts[-1] == "quick-pick":
            return self._quick_pick(user, int((form or {})["count"]))
        seat_id = int(parts[-1])
        holder = self.held.get(seat_id)
        if holder == user:
            del self.held[seat_id]
        elif holder is not None or seat_id in self.sold:
            return self._grid(user, 409)
        else:
            self.held[seat_id] = user
        return self._grid(user, 200)

    def _mine(self, user: int) -> list[int]:
        return [seat_id for seat_id, holder in self.held.items() if holder == user]

    def _stranded(self, user: int) -> str | None:
        if user not in self.held.values():
            return None
        as_rule_sees = {"mine": "chosen", "taken": "taken", "free": "free"}
        cells = [
            replace(c, state=as_rule_sees[self._state(user, c.seat_id)])
            for c in self.cells.values()
        ]
        stranded = stranded_seats(cells)
        return stranded[0].label if stranded else None

    def _state(self, user: int, seat_id: int) -> str:
        """The seat as `user` sees it on the grid: mine, taken or free."""
        holder = self.held.get(seat_id)
        if holder == user:
            return "mine"
        return "taken" if holder is not None or seat_id in self.sold else "free"

    def _quick_pick(self, user: int, party: int) -> Reply:
        """The app's quick pick: the best block by services/booking/quick_pick.py's rule instead of
        the customer's seats, or the refusal with what is left (as data, Retry-After)."""
        states = {"mine": "free", "free": "free", "taken": "taken"}
        cells = [
            replace(c, state=states[self._state(user, c.seat_id)]) for c in self.cells.values()
        ]
        block = next(ranked_blocks(cells, party), None)
        if block is not None:
            for seat_id in self._mine(user):
                del self.held[seat_id]
            self.held.update((seat_id, user) for seat_id in block.seat_ids)
            return self._grid(user, 200)
        others = frozenset(s for s, holder in self.held.items() if holder != user)
        short = shortfall(cells, party, None, others, 10)
        answer = self._grid(user, 409)
        data = (
            f'data-largest-block="{short.largest_block}" data-free-seats="{short.free_seats}" '
            f'data-held-seats="{short.held_seats}"'
        )
        headers = {"retry-after": "4"} if short.worth_waiting else {}
        return Reply(409, headers, answer.text + data)

    def _checkout(self, user: int) -> Reply:
        mine = self._mine(user)
        if not mine:
            return Reply(422, {}, "You have no seats held for this show.")
        lonely = self._stranded(user)
        if lonely:
            return Reply(422, {}, f"Pick {lonely} too, or move one seat along.")
        reference = f"R{len(self.bookings) + len(self.sold) + 1}-{user}"
        self.bookings[reference] = mine
        for seat_id in mine:
            del self.held[seat_id]
            self.sold[seat_id] = reference
        self.sold_at.append((asyncio.get_running_loop().time(), len(self.sold)))
        if len(self.sold) == len(self.cells):
            self.on_sold_out.set()
        return Reply(204, {"hx-redirect": f"/bookings/{reference}"}, "")

    def _grid(self, user: int, status: int) -> Reply:
        # The app's grid: a seat's place is its cell in its row (gaps fill the aisles).
        grid: dict[int, dict[int, str]] = {}
        for c in self.cells.values():
            state = self._state(user, c.seat_id)
            grid.setdefault(c.grid_row, {})[c.grid_col] = (
                f'<button id="seat-{c.seat_id}" class="seat seat-{c.category} is-{state}" '
                f'aria-label="Row {c.label[0]}, seat {c.label[1:]}">'
            )
        buttons = []
        for _, row in sorted(grid.items()):
            gap = '<span class="seat-gap"></span>'
            cells = "".join(row.get(col, gap) for col in range(max(row) + 1))
            buttons.append(f'<div class="seat-row">{cells}</div>')
        lonely = self._stranded(user)
        warning = f"Pick {lonely} too" if lonely else ""
        token = '<input name="checkout_token" value="t">'
        return Reply(status, {}, "\n".join(buttons) + warning + token)


class ModelServer:
    """`slots` requests in service at once, each for slots / capacity seconds."""

    def __init__(self, model: SeatMapModel, capacity: float, slots: int) -> None:
        self.model = model
        self.service = slots / capacity
        self.slots = asyncio.Semaphore(slots)
        self.requests = 0


class ModelHttp:
    """Stands in for the customer's HTTP connection: the request waits for a slot, is
    served, and then changes the model."""

    def __init__(self, server: ModelServer, user: int) -> None:
        self.server, self.user = server, user

    async def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        htmx: bool = False,
        etag: str = "",  # the model answers the whole grid every time
    ) -> Reply:
        async with self.server.slots:
            await asyncio.sleep(self.server.service)
            self.server.requests += 1
            return self.server.model.answer(self.user, method, path, form)

    async def close(self) -> None:
        pass


async def _rush(args: Any, capacity: float, think: float) -> dict[str, Any]:
    sold_out = asyncio.Event()
    model = SeatMapModel(sold_out)
    server = ModelServer(model, capacity, args.slots)
    stats = Stats()
    customers = []
    for n in range(args.customers):
        customer = Customer(
            ("model", 0),
            SHOW_ID,
            f"c{n}",
            stats,
            random.Random(args.seed + n),
            args.abandon,
            args.cancel,
            think,
        )
        customer.http = ModelHttp(server, n)  # type: ignore[assignment]
        customer.view = Customer.parse(model.answer(n, "GET", "/seats", None).text)
        customers.append(customer)
    start, stop = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(c.run(start, stop)) for c in customers]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    start.set()
    with suppress(TimeoutError):  # not sold out within --duration: report what sold
        await asyncio.wait_for(sold_out.wait(), timeout=args.duration)
    elapsed = loop.time() - t0
    stop.set()
    await asyncio.wait(tasks, timeout=70)
    sold = len(model.sold)
    return {
        "sold": sold,
        "elapsed": elapsed,
        "per_minute": sold / elapsed * 60,
        "requests_per_seat": server.requests / max(sold, 1),
        "hold_p95": _p95(stats.hold),
        "hold_p50": statistics.median(stats.hold) if stats.hold else 0.0,
    }


def _p95(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[94]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--capacity",
        type=float,
        nargs="+",
        default=[165, 330, 860, 2000, 5000],
        help="requests per second the model server completes",
    )
    parser.add_argument("--think", type=float, nargs="+", default=[0, 0.25, 0.5, 1])
    parser.add_argument("--customers", type=int, default=250)
    parser.add_argument("--slots", type=int, default=2, help="requests in service at once")
    parser.add_argument("--duration", type=float, default=300, help="simulated time bound, s")
    parser.add_argument("--abandon", type=float, default=0.10)
    parser.add_argument("--cancel", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    print(
        f"{args.customers} customers, 200 seats, {args.slots} requests in service at once; "
        "think = mean pause before each click (uniform 0..2x)"
    )
    print(
        f"{'capacity req/s':>14} {'think s':>7} {'sold':>5} {'sell-out s':>10} "
        f"{'tickets/min':>11} {'req/seat':>8} {'hold p50 ms':>11} {'hold p95 ms':>11}"
    )
    for capacity in args.capacity:
        for think in args.think:
            loop = SimulatedTimeLoop()
            try:
                r = loop.run_until_complete(_rush(args, capacity, think))
            finally:
                loop.close()
            print(
                f"{capacity:>14.0f} {think:>7.2f} {r['sold']:>5} {r['elapsed']:>10.1f} "
                f"{r['per_minute']:>11,.0f} {r['requests_per_seat']:>8.1f} "
                f"{r['hold_p50'] * 1000:>11.0f} {r['hold_p95'] * 1000:>11.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
