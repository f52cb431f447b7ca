"""The coin wallet: ledger writes, the wallet page, Stripe top-ups."""
