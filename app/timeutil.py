"""Time helpers: every datetime in HomeFirst is timezone-aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
# The dates a client may send (README "Security and limits"): wide enough for any date of
# birth or record, narrow enough that date arithmetic (a day or a year either side, a time
# zone) never leaves what `date` and `datetime` can hold (years 1 to 9999).
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(2199, 12, 31)
DATE_RANGE_MSG = f"must be between {EARLIEST_DATE} and {LATEST_DATE}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def in_date_range(day: date) -> bool:
    """Whether a date (or the date of a date-time) from a client is one the service accepts."""
    return EARLIEST_DATE <= day <= LATEST_DATE


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
