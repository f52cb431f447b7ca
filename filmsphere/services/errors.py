"""Domain exceptions raised by services; views turn them into messages and status codes."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .booking.quick_pick import Shortfall


class DomainError(Exception):
    """A refusal the user can act on. `status` is the HTTP status a view should answer."""

    status = 422

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status = 404


class Forbidden(DomainError):
    status = 403


class Conflict(DomainError):
    status = 409


class SeatUnavailable(Conflict):
    """Someone else holds or bought the seat, or it is not sellable."""


class SeatTaken(SeatUnavailable):
    """Someone else was faster: the seat is held by another customer, or sold."""


class SeatRuleViolation(DomainError):
    """The choice of seats breaks a seat rule (limit, companion, single empty seat)."""


class HoldExpired(Conflict):
    """The customer's holds ran out before checkout."""


class InsufficientCoins(DomainError):
    """The wallet can't pay."""


class ShowNotBookable(Conflict):
    """The show started, finished or was cancelled."""


class ShowOverlap(Conflict):
    """The screen already has a show at that time."""

    def __init__(self, message: str, free_screens: list[str] | None = None) -> None:
        super().__init__(message)
        self.free_screens = free_screens or []


class AlreadyPaid(Conflict):
    """The seats were paid a moment ago by another checkout of the same customer (a second
    tab): nothing more is charged; `reference` is the booking they are in."""

    def __init__(self, reference: str) -> None:
        super().__init__(
            f"Already paid: these seats are in booking {reference}, paid in another tab or "
            "window. Nothing more was charged."
        )
        self.reference = reference


class AlreadyDone(Conflict):
    """The action was already carried out (a second cancel, a second check-in)."""


class RateLimited(DomainError):
    status = 429


class NoSeatsTogether(Conflict):
    """Quick pick found no block of seats for the party (the message says why; the
    shortfall, when known, says what is left: quick_pick.Shortfall)."""

    def __init__(self, message: str, shortfall: Shortfall | None = None) -> None:
        super().__init__(message)
        self.shortfall = shortfall
