"""Business rules: plain functions that own a transaction (see transaction.py)."""
