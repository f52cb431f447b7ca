"""Operations: reports and their roll-ups, cleanup, the audit log, demo data."""
