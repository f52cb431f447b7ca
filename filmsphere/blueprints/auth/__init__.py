"""Accounts: register, verify email, log in and out, reset and change password."""
