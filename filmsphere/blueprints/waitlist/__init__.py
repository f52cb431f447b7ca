"""Join or leave a sold-out show's waitlist."""
