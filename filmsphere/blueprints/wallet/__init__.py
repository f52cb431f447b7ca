"""Wallet balance and ledger, refill, Stripe top-up and webhook."""
