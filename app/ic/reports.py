"""The intermediate-care report (used by the dashboard): UCR within 2 hours against the 70%
standard, starts within 2 days (bed-based, from hospital and from the community, and all
models), occupancy by service, episode lengths, outcomes, delayed exits, moves between models
and the 91-day still-at-home follow-up. docs/domain.md §8.4, §8.5, §8.9.

Periods are London dates, inclusive. Referral-based figures count the clocks that started in the
period; end-based figures count the episodes that ended in it. Occupancy is as at now.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.errors import ValidationFailed
from app.ic import episode
from app.ic.config import IcConfig
from app.ic.metrics import (
    LengthSummary,
    RateRead,
    Tally,
    clock_result,
    consumed_seconds,
    summarise_days,
)
from app.ic.repository import IcRepository
from app.ic.service import list_services
from app.models import Case, Clock
from app.timeutil import LONDON

MAX_PERIOD_DAYS = 366
FOLLOW_UP_RESULTS = ("at_home", "not_at_home", "not_contactable", "died")


class UcrRead(BaseModel):
    within_2_hours: RateRead
    closed_before_contact: int
    standard_percent: float
    meets_standard: bool | None


class StartsRead(BaseModel):
    bed_based: RateRead
    bed_based_from_hospital: RateRead
    bed_based_from_community: RateRead
    all_models: RateRead
    closed_before_start: int


class ServiceOccupancy(BaseModel):
    service_id: int
    code: str
    name: str
    site: str
    model: str
    unit: str
    capacity: int
    occupied: int
    percent_occupied: float | None


class EpisodeLengths(BaseModel):
    ic_days: LengthSummary
    over_6_weeks: int
    crisis_within_48_hours: RateRead
    moves_between_models: int


class DelayedExits(BaseModel):
    started: int
    days: LengthSummary
    over_target: int
    current: int


class StillAtHome(BaseModel):
    followed_up: int
    results: dict[str, int]
    percent_at_home: float | None


class IcReport(BaseModel):
    as_of: datetime
    date_from: date
    date_to: date
    site: str | None
    ucr_2_hour: UcrRead
    start_within_2_days: StartsRead
    occupancy: list[ServiceOccupancy]
    episodes_ended: int
    outcomes: dict[str, int]
    episode_lengths: EpisodeLengths
    delayed_exits: DelayedExits
    still_at_home_91_days: StillAtHome


def period_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    if date_to < date_from:
        raise ValidationFailed("date_to is before date_from")
    if (date_to - date_from).days >= MAX_PERIOD_DAYS:
        raise ValidationFailed(f"a report covers at most {MAX_PERIOD_DAYS} days")
    start = datetime.combine(date_from, time(0), tzinfo=LONDON).astimezone(UTC)
    end = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=LONDON).astimezone(UTC)
    return start, end


def build_report(
    session: Session,
    *,
    config: IcConfig,
    outcomes: tuple[str, ...],
    site: str | None,
    date_from: date,
    date_to: date,
    now: datetime,
    organisation: str | None = None,
) -> IcReport:
    """With `organisation`, episode figures cover the episodes it owns or shares, and
    occupancy its own services."""
    start, end = period_bounds(date_from, date_to)
    repo = IcRepository(session, organisation)
    ended = repo.events_between(["end_episode"], start, end, site)
    followed_up = repo.events_between(["record_still_at_home"], start, end, site)
    return IcReport(
        as_of=now,
        date_from=date_from,
        date_to=date_to,
        site=site,
        ucr_2_hour=_ucr(repo.clocks_started("ucr_2_hour", start, end, site), config, now),
        start_within_2_days=_starts(
            repo.clocks_started("start_within_2_days", start, end, site), now
        ),
        occupancy=_occupancy(session, site, organisation),
        episodes_ended=len(ended),
        outcomes=_counts([e.data.get("outcome") for e, _case in ended], outcomes),
        episode_lengths=_lengths(repo, [c.id for _e, c in ended], start, end, site, now),
        delayed_exits=_delayed(repo, start, end, site, now),
        still_at_home_91_days=_still_at_home(
            [e.data.get("still_at_home_91d") for e, _c in followed_up]
        ),
    )


def _ucr(rows: list[tuple[Clock, Case]], config: IcConfig, now: datetime) -> UcrRead:
    tally, closed = Tally(), 0
    for clock, case in rows:
        reached = case.attributes.get("first_contact_at") or case.attributes.get("started_at")
        if clock.state == "stopped" and not reached:
            closed += 1  # withdrawn or ended before anyone was seen: not an in-scope response
            continue
        tally.add(clock_result(clock, now))
    rate = tally.read()
    standard = config.ucr_standard_percent
    meets = None if rate.percent_met is None else rate.percent_met >= standard
    return UcrRead(
        within_2_hours=rate,
        closed_before_contact=closed,
        standard_percent=standard,
        meets_standard=meets,
    )


def _starts(rows: list[tuple[Clock, Case]], now: datetime) -> StartsRead:
    bed, hospital, community, every = Tally(), Tally(), Tally(), Tally()
    closed = 0
    for clock, case in rows:
        attrs = case.attributes
        if clock.state == "stopped" and not attrs.get("started_at"):
            closed += 1  # cancelled, readmitted or died before the service started
            continue
        result = clock_result(clock, now)
        every.add(result)
        if (attrs.get("first_model") or attrs.get("planned_model")) == "bed_based_ic":
            bed.add(result)
            (hospital if attrs.get("direction") == "step_down" else community).add(result)
    return StartsRead(
        bed_based=bed.read(),
        bed_based_from_hospital=hospital.read(),
        bed_based_from_community=community.read(),
        all_models=every.read(),
        closed_before_start=closed,
    )


def _occupancy(
    session: Session, site: str | None, organisation: str | None
) -> list[ServiceOccupancy]:
    return [
        ServiceOccupancy(
            service_id=s.id,
            code=s.code,
            name=s.name,
            site=s.site,
            model=s.model,
            unit=s.unit,
            capacity=s.capacity,
            occupied=s.occupied,
            percent_occupied=round(100 * s.occupied / s.capacity, 1) if s.capacity else None,
        )
        for s in list_services(
            session, organisation=organisation, site=site, model=None, active=True
        )
    ]


def _counts(recorded: list[Any], choices: tuple[str, ...]) -> dict[str, int]:
    counts = Counter(recorded)
    return {name: counts.get(name, 0) for name in choices}


def _lengths(
    repo: IcRepository,
    ended_ids: list[int],
    start: datetime,
    end: datetime,
    site: str | None,
    now: datetime,
) -> EpisodeLengths:
    episode_clocks = repo.current_clocks(ended_ids, "episode_6_weeks").values()
    crisis = Tally()
    for clock, _case in repo.clocks_started("crisis_48_hours", start, end, site):
        crisis.add(clock_result(clock, now))
    moves = repo.events_between(episode.MOVE_TRIGGERS, start, end, site)
    return EpisodeLengths(
        ic_days=summarise_days([consumed_seconds(c, now) for c in episode_clocks]),
        over_6_weeks=sum(clock_result(c, now) == "breached" for c in episode_clocks),
        crisis_within_48_hours=crisis.read(),
        moves_between_models=len(moves),
    )


def _delayed(
    repo: IcRepository, start: datetime, end: datetime, site: str | None, now: datetime
) -> DelayedExits:
    clocks = [c for c, _case in repo.clocks_started("delayed_exit", start, end, site)]
    return DelayedExits(
        started=len(clocks),
        days=summarise_days([consumed_seconds(c, now) for c in clocks]),
        over_target=sum(clock_result(c, now) == "breached" for c in clocks),
        current=len(repo.running_clocks("delayed_exit", site)),
    )


def _still_at_home(results: list[Any]) -> StillAtHome:
    counts = Counter(results)
    total = len(results)
    return StillAtHome(
        followed_up=total,
        results=_counts(results, FOLLOW_UP_RESULTS),
        # ASCOF 2B counts people who cannot be contacted as not at home (docs/domain.md §8.9).
        percent_at_home=round(100 * counts.get("at_home", 0) / total, 1) if total else None,
    )
