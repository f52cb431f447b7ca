"""Seat map, holds, checkout, my bookings and cancellation."""
