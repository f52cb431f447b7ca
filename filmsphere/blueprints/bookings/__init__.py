"""A customer's bookings: the list, the booking page with QR codes, its calendar, cancelling."""
