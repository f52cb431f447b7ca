"""Ticket QR codes and calendar files for a customer's bookings."""

from flask import Blueprint

bp = Blueprint("tickets", __name__)
