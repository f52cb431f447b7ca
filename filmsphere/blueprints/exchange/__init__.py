"""Exchange a booking for seats in another showtime."""
