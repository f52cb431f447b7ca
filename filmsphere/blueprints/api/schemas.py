"""Request and response shapes of the API (marshmallow): validated on the way in,
published in the OpenAPI document."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from ...services.booking.quick_pick import CATEGORIES

MAX_ID = 2**31 - 1
Id = lambda **kw: fields.Integer(validate=validate.Range(1, MAX_ID), **kw)  # noqa: E731


# ----------------------------------------------------------------- requests


class FilmQuery(Schema):
    q = fields.String(load_default="", validate=validate.Length(max=100))
    genre = fields.List(fields.String(validate=validate.Length(max=40)), load_default=list)
    language = fields.String(load_default="", validate=validate.Length(max=40))
    rating = fields.String(load_default="", validate=validate.Length(max=8))
    date = fields.String(load_default="", metadata={"description": "YYYY-MM-DD, cinema time"})
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(1, 400),
        metadata={"description": "`next` or `previous` of a page you got; none: the first"},
    )


class DayQuery(Schema):
    date = fields.String(load_default="", metadata={"description": "YYYY-MM-DD; default today"})


class CursorQuery(Schema):
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(1, 200),
        metadata={"description": "`next` or `previous` of a page you got; none: the first"},
    )


class BookingsQuery(CursorQuery):
    list = fields.String(
        load_default="upcoming",
        validate=validate.OneOf(["upcoming", "past"]),
        metadata={"description": "upcoming (soonest first) or past and cancelled (latest first)"},
    )


class QuoteQuery(Schema):
    ticket_id = fields.List(
        Id(),
        load_default=None,
        metadata={"description": "Tickets to cancel (repeat the parameter); none: all"},
    )


class CheckoutHeaders(Schema):
    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        required=True,
        validate=validate.Length(1, 200),
        metadata={"description": "A new random key per checkout; retries send the same one"},
    )


class CheckoutBody(Schema):
    seat_ids = fields.List(
        Id(),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "The seats your basket showed (tells a second payer apart)"},
    )


class QuickPickBody(Schema):
    """How many seats together (1-10) and, optionally, only one kind of seat."""

    count = fields.Integer(required=True, validate=validate.Range(1, 10))
    category = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(CATEGORIES),
        metadata={"description": "Only these seats; wheelchair: a space with companion seats"},
    )


class CancelBody(Schema):
    ticket_ids = fields.List(Id(), load_default=None, allow_none=True, validate=validate.Length(1))
    expected_refund_coins = fields.Integer(
        required=True,
        validate=validate.Range(0, 10**9),
        metadata={"description": "refund_coins of the quote you showed the customer"},
    )


class CheckInBody(Schema):
    code = fields.String(required=True, validate=validate.Length(1, 200))
    show_id = Id(load_default=None, allow_none=True)


# ----------------------------------------------------------------- responses


class Problem(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.Dict()
    quote = fields.Dict()
    booking_reference = fields.String()


class ShowSummary(Schema):
    id = fields.Integer(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    screen = fields.String(required=True)
    bookable = fields.Boolean(required=True)
    from_coins = fields.Integer(required=True)


class Film(Schema):
    id = fields.Integer(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    duration_minutes = fields.Integer(required=True)
    age_rating = fields.String(required=True)
    language = fields.String(required=True)
    release_date = fields.Date(allow_none=True)
    genres = fields.List(fields.String(), required=True)
    next_show_at = fields.DateTime(allow_none=True)


class FilmPage(Schema):
    items = fields.List(fields.Nested(Film), required=True)
    next = fields.String(allow_none=True, required=True)
    previous = fields.String(allow_none=True, required=True)


class FilmDetail(Film):
    shows = fields.List(fields.Nested(ShowSummary), required=True)


class FilmShows(Schema):
    film = fields.Nested(Film, required=True)
    shows = fields.List(fields.Nested(ShowSummary), required=True)


class DayShows(Schema):
    date = fields.Date(required=True)
    films = fields.List(fields.Nested(FilmShows), required=True)


class SeatOut(Schema):
    id = fields.Integer(required=True)
    label = fields.String(required=True)
    row = fields.String(required=True)
    number = fields.Integer(required=True)
    category = fields.String(required=True)
    price_coins = fields.Integer(required=True)
    grid_row = fields.Integer(
        required=True, metadata={"description": "0 is the row nearest the screen"}
    )
    grid_col = fields.Integer(required=True, metadata={"description": "0 is the left end"})
    state = fields.String(
        required=True, validate=validate.OneOf(["free", "mine", "taken", "broken"])
    )
    name = fields.String(required=True, metadata={"description": "The accessible name"})


class SeatRow(Schema):
    label = fields.String(required=True)
    seats = fields.List(
        fields.Nested(SeatOut, allow_none=True),
        required=True,
        metadata={"description": "Grid cells left to right; null is an aisle or gap"},
    )


class Basket(Schema):
    seats = fields.List(fields.Nested(SeatOut), required=True)
    total_coins = fields.Integer(required=True)
    balance_coins = fields.Integer(required=True)
    balance_after_coins = fields.Integer(required=True)
    expires_at = fields.DateTime(allow_none=True, required=True)
    warning = fields.String(allow_none=True, required=True)


class LegendEntry(Schema):
    category = fields.String(required=True)
    label = fields.String(required=True)
    price_coins = fields.Integer(required=True)


class SeatMapOut(Schema):
    show_id = fields.Integer(required=True)
    bookable = fields.Boolean(required=True)
    not_bookable_reason = fields.String(allow_none=True, required=True)
    columns = fields.Integer(required=True)
    rows = fields.List(fields.Nested(SeatRow), required=True)
    legend = fields.List(fields.Nested(LegendEntry), required=True)
    basket = fields.Nested(Basket, required=True)


class HoldOut(Schema):
    action = fields.String(required=True, validate=validate.OneOf(["held", "released"]))
    seat_label = fields.String(required=True)
    released_elsewhere = fields.Integer(required=True)
    basket = fields.Nested(Basket, required=True)


class QuickPickOut(Schema):
    seat_ids = fields.List(fields.Integer(), required=True)
    seat_labels = fields.List(fields.String(), required=True)
    note = fields.String(allow_none=True, required=True)
    released_elsewhere = fields.Integer(required=True)
    basket = fields.Nested(Basket, required=True)


class TicketOut(Schema):
    id = fields.Integer(required=True)
    seat_label = fields.String(required=True)
    row = fields.String(required=True)
    number = fields.Integer(required=True)
    category = fields.String(required=True)
    price_coins = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["active", "used", "cancelled"]))
    refund_coins = fields.Integer(allow_none=True, required=True)
    checked_in_at = fields.DateTime(allow_none=True, required=True)
    code = fields.String(
        allow_none=True, required=True, metadata={"description": "Signed code (the QR)"}
    )


class BookingSummary(Schema):
    reference = fields.String(required=True)
    status = fields.String(required=True)
    show_id = fields.Integer(required=True)
    film = fields.String(required=True)
    screen = fields.String(required=True)
    starts_at = fields.DateTime(required=True)
    total_coins = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)


class BookingOut(BookingSummary):
    refunded_coins = fields.Integer(required=True)
    cancellable = fields.Boolean(required=True)
    tickets = fields.List(fields.Nested(TicketOut), required=True)


class BookingPage(Schema):
    items = fields.List(fields.Nested(BookingSummary), required=True)
    next = fields.String(allow_none=True, required=True)
    previous = fields.String(allow_none=True, required=True)


class QuoteLine(Schema):
    ticket_id = fields.Integer(required=True)
    seat_label = fields.String(required=True)
    price_coins = fields.Integer(required=True)
    refund_coins = fields.Integer(required=True)


class QuoteOut(Schema):
    reference = fields.String(required=True)
    lines = fields.List(fields.Nested(QuoteLine), required=True)
    percent = fields.Integer(required=True)
    refund_coins = fields.Integer(required=True)
    policy = fields.String(required=True)
    note = fields.String(allow_none=True, required=True)


class LedgerEntryOut(Schema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    label = fields.String(required=True)
    amount_coins = fields.Integer(required=True)
    balance_after_coins = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    booking_reference = fields.String(allow_none=True, required=True)
    reason = fields.String(allow_none=True, required=True)


class WalletOut(Schema):
    balance_coins = fields.Integer(required=True)
    entries = fields.List(fields.Nested(LedgerEntryOut), required=True)
    next = fields.String(allow_none=True, required=True, metadata={"description": "older"})
    previous = fields.String(allow_none=True, required=True, metadata={"description": "newer"})


class CheckInOut(Schema):
    outcome = fields.String(required=True)
    headline = fields.String(required=True)
    detail = fields.String(required=True)
    film = fields.String(allow_none=True, required=True)
    starts_at = fields.DateTime(allow_none=True, required=True)
    screen = fields.String(allow_none=True, required=True)
    seat_label = fields.String(allow_none=True, required=True)
    category = fields.String(allow_none=True, required=True)
    checked_in_at = fields.DateTime(allow_none=True, required=True)
