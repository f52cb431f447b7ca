"""Booking: seat holds and quick pick, the seat map, checkout, cancellation, exchange,
waitlist and transfers."""
