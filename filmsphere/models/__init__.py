"""Typed SQLAlchemy models, one module per aggregate."""

from .api import ApiToken, IdempotencyKey
from .audit import AuditEntry
from .booking import Booking, BookingStatus, SeatHold, Ticket, TicketStatus
from .catalogue import Genre, Movie, movie_genres
from .exchange import BookingExchange
from .outbox import OutboxMessage
from .reminder import BookingReminder, ReminderKind
from .report_day import ReportDay, ReportDayRevenue, ReportShowSales
from .screen import LAYOUT_CODES, SEAT_CELL_COLUMNS, Screen, Seat, SeatCategory
from .show import Show, ShowStatus
from .transfer import TicketTransfer, TransferredTicket, TransferStatus
from .types import UTCDateTime, utcnow
from .user import AccountRequest, AccountToken, EmailChange, Role, User, UserSession
from .waitlist import WaitlistEntry, WaitlistStatus
from .wallet import LedgerEntry, LedgerKind, TopUp, TopUpStatus, Wallet

__all__ = [
    "LAYOUT_CODES",
    "AccountRequest",
    "AccountToken",
    "ApiToken",
    "AuditEntry",
    "Booking",
    "BookingExchange",
    "BookingReminder",
    "BookingStatus",
    "EmailChange",
    "Genre",
    "IdempotencyKey",
    "LedgerEntry",
    "LedgerKind",
    "Movie",
    "OutboxMessage",
    "ReminderKind",
    "ReportDay",
    "ReportDayRevenue",
    "ReportShowSales",
    "Role",
    "Screen",
    "SEAT_CELL_COLUMNS",
    "Seat",
    "SeatCategory",
    "SeatHold",
    "Show",
    "ShowStatus",
    "Ticket",
    "TicketStatus",
    "TicketTransfer",
    "TopUp",
    "TopUpStatus",
    "TransferStatus",
    "TransferredTicket",
    "UTCDateTime",
    "User",
    "UserSession",
    "WaitlistEntry",
    "WaitlistStatus",
    "Wallet",
    "movie_genres",
    "utcnow",
]
