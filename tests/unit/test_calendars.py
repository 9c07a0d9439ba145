"""Service-hours calendars: which time counts towards a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.engine.calendars import ServiceHours, WallClock, parse_calendar
from app.timeutil import LONDON

UCR = parse_calendar("hours 08:00-20:00 Europe/London")


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=LONDON)


def test_wall_clock_counts_everything() -> None:
    cal = parse_calendar("wall_clock")
    assert isinstance(cal, WallClock)
    start = datetime(2026, 1, 5, 22, tzinfo=UTC)
    assert cal.advance(start, timedelta(hours=2)) == start + timedelta(hours=2)
    assert cal.elapsed(start, start + timedelta(hours=5)) == timedelta(hours=5)


def test_evening_referral_is_due_next_morning() -> None:
    # 30 minutes count before 20:00, the other 90 from 08:00 the next day.
    assert UCR.advance(local(2026, 1, 5, 19, 30), timedelta(hours=2)) == local(2026, 1, 6, 9, 30)
    assert UCR.elapsed(local(2026, 1, 5, 19, 30), local(2026, 1, 6, 9, 30)) == timedelta(hours=2)


def test_night_referral_starts_counting_at_opening() -> None:
    assert UCR.advance(local(2026, 1, 5, 23, 0), timedelta(hours=2)) == local(2026, 1, 6, 10, 0)
    assert UCR.elapsed(local(2026, 1, 5, 21), local(2026, 1, 6, 7)) == timedelta(0)


def test_daytime_referral_is_plain_two_hours() -> None:
    assert UCR.advance(local(2026, 1, 5, 10, 15), timedelta(hours=2)) == local(2026, 1, 5, 12, 15)


def test_clock_change_day_keeps_local_service_hours() -> None:
    # 29 March 2026: clocks go forward at 01:00 GMT; 08:00 local is 07:00 UTC that day.
    due = UCR.advance(local(2026, 3, 28, 19, 0), timedelta(hours=2))
    assert due == local(2026, 3, 29, 9, 0)
    assert due.astimezone(UTC) == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)


def test_weekdays_only_skips_the_weekend() -> None:
    cal = parse_calendar("hours 09:00-17:00 Europe/London mon-fri")
    assert isinstance(cal, ServiceHours)
    friday_late = local(2026, 1, 9, 16, 0)  # a Friday
    assert cal.advance(friday_late, timedelta(hours=2)) == local(2026, 1, 12, 10, 0)
    assert cal.elapsed(friday_late, local(2026, 1, 12, 10, 0)) == timedelta(hours=2)


@pytest.mark.parametrize(
    "text",
    [
        "hours 20:00-08:00 Europe/London",
        "hours 8-20 Europe/London",
        "office",
        "hours 08:00-20:00 Mars/Olympus",
    ],
)
def test_bad_calendars_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="calendar"):
        parse_calendar(text)
