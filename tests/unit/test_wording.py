"""The wording of times: the fast formatter a year's CSV uses says what strftime says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from filmsphere.wording import datetime_formatter


@pytest.mark.parametrize("zone", ["Europe/London", "Australia/Lord_Howe", "America/St_Johns"])
def test_the_formatter_reads_as_strftime_across_the_clock_changes(zone):
    """Every 10 minutes of 2026, both daylight-saving changes included (Lord Howe moves
    its clocks by half an hour), each local day's words made once and reused."""
    tz = ZoneInfo(zone)
    format_one = datetime_formatter(tz)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for step in range(0, 365 * 24 * 6):
        value = start + timedelta(minutes=10 * step)
        assert format_one(value) == value.astimezone(tz).strftime("%a %d %b %Y, %H:%M")
