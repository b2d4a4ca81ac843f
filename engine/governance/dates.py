"""Days and instants in waivers and campaigns.

People write days (`2026-12-01`); the engine compares instants. A day is read in the
configured zone, so "warn from 1 December" starts at midnight in Berlin, not in UTC, and
the result is always an aware UTC datetime that compares correctly everywhere.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any


class DateError(ValueError):
    """A value that is neither a day nor a timestamp."""


def read_day_or_instant(value: Any) -> date | datetime:
    """YAML gives `date`/`datetime` for unquoted values and `str` for quoted ones."""
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            pass
    raise DateError(f"{value!r} is not a date (YYYY-MM-DD) or an RFC 3339 timestamp")


def start_of(value: date | datetime, zone: tzinfo) -> datetime:
    """A day: its first instant in `zone`. A timestamp: itself (naive means `zone`)."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=zone)
        return aware.astimezone(UTC)
    return datetime.combine(value, time(0), tzinfo=zone).astimezone(UTC)


def end_of(value: date | datetime, zone: tzinfo) -> datetime:
    """A day: the first instant after it (`expires: 2026-12-31` holds all of the 31st).
    A timestamp: itself."""
    if isinstance(value, datetime):
        return start_of(value, zone)
    return start_of(value + timedelta(days=1), zone)


def day_in(instant: datetime, zone: tzinfo) -> date:
    return instant.astimezone(zone).date()


def days_until(instant: datetime, now: datetime, zone: tzinfo) -> int:
    """Calendar days from today to the day of `instant`, both in `zone` (0 = today)."""
    return (day_in(instant, zone) - day_in(now, zone)).days


def shown(value: date | datetime) -> str:
    return value.isoformat() if not isinstance(value, datetime) else value.isoformat(
        timespec="minutes")
