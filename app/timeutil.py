"""Time helpers: every datetime in HomeFirst is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC; naive values are refused, never guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must include a timezone offset")
    return value.astimezone(UTC)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """Start and end of a London calendar day, in UTC (23 or 25 hours when the clocks change)."""
    start = datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=LONDON).astimezone(UTC)
    return start, end


def london_date(at: datetime) -> date:
    """The Europe/London calendar date of an aware instant."""
    return as_utc(at).astimezone(LONDON).date()
