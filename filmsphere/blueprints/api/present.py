"""Service results as the API's JSON shapes (the response schemas in schemas.py)."""

from __future__ import annotations

from typing import Any

from ...models import Booking, Movie
from ...services.booking.booking_page import BookingPage
from ...services.booking.cancellation import RefundQuote
from ...services.booking.seatmap import Basket, SeatMap, SeatView
from ...services.catalogue.catalogue import ShowSlot
from ...services.door.checkin import CheckInResult
from ...services.wallet.wallet_page import WalletPage


def film(movie: Movie, next_show_at: Any = None) -> dict[str, Any]:
    return {
        "id": movie.id,
        "title": movie.title,
        "description": movie.description,
        "duration_minutes": movie.duration_minutes,
        "age_rating": movie.age_rating,
        "language": movie.language,
        "release_date": movie.release_date,
        "genres": sorted(g.name for g in movie.genres),
        "next_show_at": next_show_at,
    }


def show_slot(slot: ShowSlot) -> dict[str, Any]:
    show = slot.show
    return {
        "id": show.id,
        "starts_at": show.starts_at,
        "ends_at": show.ends_at,
        "screen": show.screen.name,
        "bookable": slot.bookable,
        "from_coins": slot.from_coins,
    }


def seat(view: SeatView) -> dict[str, Any]:
    return {
        "id": view.id,
        "label": view.label,
        "row": view.row_label,
        "number": view.number,
        "category": view.category,
        "price_coins": view.price_coins,
        "grid_row": view.grid_row,
        "grid_col": view.grid_col,
        "state": view.state,
        "name": view.accessible_name,
    }


def basket(value: Basket | None) -> dict[str, Any]:
    assert value is not None  # an API caller is always a signed-in customer
    return {
        "seats": [seat(s) for s in value.seats],
        "total_coins": value.total_coins,
        "balance_coins": value.balance_coins,
        "balance_after_coins": value.balance_after_coins,
        "expires_at": value.expires_at,
        "warning": value.warning,
    }


def seat_map(view: SeatMap) -> dict[str, Any]:
    return {
        "show_id": view.show.id,
        "bookable": view.bookable,
        "not_bookable_reason": view.not_bookable_reason,
        "columns": view.columns,
        "rows": [
            {"label": label, "seats": [seat(c) if c is not None else None for c in cells]}
            for label, cells in view.rows
        ],
        "legend": [
            {"category": i.category, "label": i.label, "price_coins": i.price_coins}
            for i in view.legend
        ],
        "basket": basket(view.basket),
    }


def booking_summary(booking: Booking) -> dict[str, Any]:
    show = booking.show
    return {
        "reference": booking.reference,
        "status": booking.status,
        "show_id": show.id,
        "film": show.movie.title,
        "screen": show.screen.name,
        "starts_at": show.starts_at,
        "total_coins": booking.total_coins,
        "created_at": booking.created_at,
    }


def booking(page: BookingPage) -> dict[str, Any]:
    return booking_summary(page.booking) | {
        "refunded_coins": page.refunded_coins,
        "cancellable": page.cancellable,
        "tickets": [
            {
                "id": card.id,
                "seat_label": card.seat_label,
                "row": card.row_label,
                "number": card.number,
                "category": card.category,
                "price_coins": card.price_coins,
                "status": card.status,
                "refund_coins": card.refund_coins,
                "checked_in_at": card.checked_in_at,
                "code": card.code,
            }
            for card in page.cards
        ],
    }


def quote(value: RefundQuote) -> dict[str, Any]:
    return {
        "reference": value.reference,
        "lines": [
            {
                "ticket_id": line.id,
                "seat_label": line.seat_label,
                "price_coins": line.price_coins,
                "refund_coins": line.refund_coins,
            }
            for line in value.lines
        ],
        "percent": value.percent,
        "refund_coins": value.refund_total,
        "policy": value.policy_text,
        "note": value.note,
    }


def wallet(page: WalletPage) -> dict[str, Any]:
    return {
        "balance_coins": page.balance_coins,
        "entries": [
            {
                "id": e.id,
                "kind": e.kind,
                "label": e.kind_label,
                "amount_coins": e.amount_coins,
                "balance_after_coins": e.balance_after_coins,
                "created_at": e.created_at,
                "booking_reference": e.booking_reference,
                "reason": e.reason,
            }
            for e in page.entries
        ],
        "next": page.next,
        "previous": page.previous,
    }


def check_in(result: CheckInResult) -> dict[str, Any]:
    """The door panel's facts; like the page, never the customer's name or email."""
    return {
        "outcome": result.outcome,
        "headline": result.headline,
        "detail": result.detail,
        "film": result.film,
        "starts_at": result.starts_at,
        "screen": result.screen,
        "seat_label": result.seat_label,
        "category": result.category,
        "checked_in_at": result.checked_in_at,
    }
