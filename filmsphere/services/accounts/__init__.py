"""Accounts: registration, log-in sessions, account changes, API tokens, admin user management."""
