"""Staff pages: ticket check-in at the door."""

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
