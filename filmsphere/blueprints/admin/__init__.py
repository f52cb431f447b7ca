"""Admin pages: films, screens, showtimes, bookings, users, coins, audit, reports."""
