"""A customer's bookings: the list, the booking page with QR codes, calendar, cancel, send."""
