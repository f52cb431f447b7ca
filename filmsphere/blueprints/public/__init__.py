"""The public catalogue: home, films, showtimes by date, health check."""
