"""How the IC board says things: clocks as time left or overdue, services as full or with
places, times as London times. Pure: no database, no request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from app.ic.board import BoardClock
from app.ic.episode import london_day
from app.ic.schemas import ServiceRead
from app.timeutil import LONDON

# A service this full or more is shown as near full (a local choice of what to flag).
NEAR_FULL_PERCENT = 85
CLOCK_TITLES = {
    "ucr_2_hour": "2-hour response",
    "start_within_2_days": "2-day start",
    "episode_6_weeks": "6 weeks",
    "delayed_exit": "Delayed exit",
}


@dataclass(frozen=True)
class Status:
    """A short state in words, the NHS.UK tag colour that goes with it (None: no tag), and a
    line of detail."""

    text: str
    colour: str | None = None
    detail: str = ""


def when(at: datetime | None) -> str:
    """A London date and time as people say it: `Tue 3 Mar 14:05`."""
    if at is None:
        return ""
    local = at.astimezone(LONDON)
    return f"{local:%a} {local.day} {local:%b} {local:%H:%M}"


def duration(span: timedelta) -> str:
    """`45 min`, `3 h 20 min`, `2 days 4 h`, `12 days`."""
    minutes = max(int(span.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days >= 3:
        return f"{days} days"
    if days:
        return f"{days} day{'s' if days > 1 else ''} {hours} h"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def clock_status(clock: BoardClock | None, now: datetime, *, absent: str = "–") -> Status:
    """A clock as time left, overdue, met or missed (from the stored figures, as the API's
    `overdue`, so it is right even when the sweeper is late)."""
    if clock is None:
        return Status(absent)
    taken = timedelta(seconds=clock.consumed_seconds)
    if clock.state == "stopped":
        if clock.result == "met":
            return Status("Met", "green", f"in {duration(taken)}")
        return Status("Missed", "red", f"took {duration(taken)}")
    if clock.state == "paused":
        return Status("Paused", "grey", f"{duration(taken)} counted")
    if clock.result == "breached":
        late = now - clock.due_at if clock.due_at is not None else taken
        return Status("Overdue", "red", f"by {duration(late)}")
    due = clock.due_at
    left = f"{duration(due - now)} left, due {when(due)}" if due is not None else ""
    if clock.warn_at is not None and clock.warn_at <= now:
        return Status("Due soon", "orange", left)
    return Status("On track", None, left)


def days_in_service(started_at: datetime | None, now: datetime) -> int | None:
    """Whole London days since the episode first started."""
    if started_at is None:
        return None
    return (london_day(now) - london_day(started_at)).days


def occupancy_status(service: ServiceRead) -> Status:
    if not service.active:
        return Status("Closed to new starts", "grey")
    if service.over_capacity:
        return Status("Over capacity", "red")
    if service.free == 0:
        return Status("Full", "red")
    if service.capacity and 100 * service.occupied >= NEAR_FULL_PERCENT * service.capacity:
        return Status("Near full", "orange")
    return Status(f"{service.free} free", "green")


def service_option(service: ServiceRead, *, with_site: bool = False, places: bool = True) -> str:
    """A service as a choice in a select: its name, its site when the organisation has
    several, and (to start or move someone) its free places."""
    name = f"{service.name}, {service.site}" if with_site else service.name
    if not places:
        return name
    return f"{name}: {service.free} free" if service.free else f"{name}: full"


def pick_service(
    services: list[ServiceRead], planned_model: str | None, kept: str | None = None
) -> int | None:
    """The service a start form offers first: the one the person chose before a refusal, else
    the first of the planned model with a free place, else the first of the planned model."""
    if kept and kept.isdigit() and any(s.id == int(kept) for s in services):
        return int(kept)
    planned = [s for s in services if s.model == planned_model]
    with_room = [s for s in planned if s.free > 0]
    candidates = with_room or planned
    return candidates[0].id if candidates else None


REFERRERS = {"gp": "GP", "self_referral": "self-referral"}


def words(code: str | None) -> str:
    """A code as words: `ongoing_package` -> `Ongoing package`."""
    return sentence((code or "").replace("_", " "))


def sentence(text: str) -> str:
    """The first letter upper case, the rest as it is (`bed-based IC` -> `Bed-based IC`)."""
    return text[:1].upper() + text[1:]


def referrer(code: str | None) -> str:
    return REFERRERS.get(code or "", (code or "someone").replace("_", " "))


def nhs_number(ref: str | None) -> str:
    """An NHS number spaced 3-3-4 for reading; anything else as it is."""
    if ref and len(ref) == 10 and ref.isdigit():
        return f"{ref[:3]} {ref[3:6]} {ref[6:]}"
    return ref or "Not shown"
