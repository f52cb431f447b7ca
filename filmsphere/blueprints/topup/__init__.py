"""Stripe coin top-up: Checkout Session start, signed webhook, the wallet's top-up panel."""
