"""Show reminders: the opt-out on the account page."""
