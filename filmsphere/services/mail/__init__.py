"""Email: the outbox, what each message says, the sender, reminders, calendar files."""
