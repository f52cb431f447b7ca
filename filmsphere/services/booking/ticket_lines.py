"""One ticket as pages, emails and refund quotes show it: its seat, category, price and
refund; the booking page's card and the email's line add what only they need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from ...models import Ticket


@dataclass(frozen=True)
class TicketLine:
    id: int
    row_label: str
    number: int
    seat_label: str
    category: str
    price_coins: int
    refund_coins: int | None

    @classmethod
    def of(cls, ticket: Ticket, **extra: Any) -> Self:
        """The line of `ticket`; `extra` sets a subclass's own fields or overrides the
        refund (a quote's, not yet the ticket's)."""
        fields: dict[str, Any] = {
            "id": ticket.id,
            "row_label": ticket.seat.row_label,
            "number": ticket.seat.number,
            "seat_label": ticket.seat.label,
            "category": ticket.category,
            "price_coins": ticket.price_coins,
            "refund_coins": ticket.refund_coins,
        }
        return cls(**(fields | extra))

    @property
    def accessible_seat(self) -> str:
        return f"Row {self.row_label}, seat {self.number}"
