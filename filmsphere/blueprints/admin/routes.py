"""Admin pages: films, screens, showtimes, bookings, users, coins, audit, reports."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
