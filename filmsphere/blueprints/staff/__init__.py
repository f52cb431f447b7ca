"""Staff pages: ticket check-in at the door."""
