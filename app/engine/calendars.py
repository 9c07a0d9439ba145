"""Which time counts towards a clock: all of it, or only service hours.

A clock row stores its calendar as text (for example ``wall_clock`` or
``hours 08:00-20:00 Europe/London``), so a running clock keeps the calendar it started with
even if the pathway's configuration changes later.

The 2-hour urgent community response is measured in the service's operating hours, 8am to 8pm
by default (docs/domain.md §8.4); a referral at 19:30 is due at 09:30 the next morning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WALL_CLOCK = "wall_clock"
_HOURS = re.compile(r"^hours (\d\d):(\d\d)-(\d\d):(\d\d) ([A-Za-z_]+/[A-Za-z_]+)(?: (mon-fri))?$")


class Calendar(Protocol):
    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Countable time between two instants."""
        ...

    def advance(self, start: datetime, amount: timedelta) -> datetime:
        """The instant at which `amount` of countable time has passed after `start`."""
        ...


class WallClock:
    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, timedelta(0))

    def advance(self, start: datetime, amount: timedelta) -> datetime:
        return start + amount


@dataclass(frozen=True)
class ServiceHours:
    opens: time
    closes: time
    zone: ZoneInfo
    weekdays_only: bool = False

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        if self.weekdays_only and day.weekday() >= 5:
            return None
        return (
            datetime.combine(day, self.opens, tzinfo=self.zone),
            datetime.combine(day, self.closes, tzinfo=self.zone),
        )

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        total = timedelta(0)
        day = start.astimezone(self.zone).date()
        while day <= end.astimezone(self.zone).date():
            window = self._window(day)
            if window is not None:
                overlap = min(end, window[1]) - max(start, window[0])
                total += max(overlap, timedelta(0))
            day += timedelta(days=1)
        return total

    def advance(self, start: datetime, amount: timedelta) -> datetime:
        day = start.astimezone(self.zone).date()
        remaining = amount
        for _ in range(3700):  # ten years of days: a bound, never reached by real budgets
            window = self._window(day)
            if window is not None:
                begin = max(start, window[0])
                if begin < window[1]:
                    if remaining <= window[1] - begin:
                        return begin + remaining
                    remaining -= window[1] - begin
            day += timedelta(days=1)
        raise ValueError("clock budget too large for its service-hours calendar")


def parse_calendar(text: str) -> WallClock | ServiceHours:
    """`wall_clock`, or `hours HH:MM-HH:MM Area/City` with an optional `mon-fri`."""
    if text == WALL_CLOCK:
        return WallClock()
    match = _HOURS.match(text)
    if not match:
        raise ValueError(
            f"unknown calendar {text!r}: use wall_clock or e.g. 'hours 08:00-20:00 Europe/London'"
        )
    h1, m1, h2, m2, zone, days = match.groups()
    try:
        opens, closes = time(int(h1), int(m1)), time(int(h2), int(m2))
        tz = ZoneInfo(zone)
    except (ValueError, ZoneInfoNotFoundError) as exc:
        raise ValueError(f"calendar {text!r}: {exc}") from None
    if opens >= closes:
        raise ValueError(f"calendar {text!r}: opening time must be before closing time")
    return ServiceHours(opens, closes, tz, weekdays_only=days == "mon-fri")
