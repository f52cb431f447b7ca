"""Seat map, holds, checkout, my bookings and cancellation."""

from flask import Blueprint

bp = Blueprint("booking", __name__)
