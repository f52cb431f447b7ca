"""Send a ticket to a friend: offer, take back, accept."""
