"""crontab.txt runs only commands the app has (a typo there fails silently every minute)."""

from __future__ import annotations

import re
from pathlib import Path

from filmsphere.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]


def test_every_cron_line_runs_a_registered_command() -> None:
    lines = [
        line
        for line in (ROOT / "crontab.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    used = {re.search(r"\bflask ([a-z-]+)", line).group(1) for line in lines}  # type: ignore[union-attr]
    assert {"cleanup", "send-mail", "mail-health", "audit-ledger"} <= used
    assert used <= {command.name for command in COMMANDS}
