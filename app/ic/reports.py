"""The intermediate-care report (used by the dashboard): UCR within 2 hours against the 70%
standard, starts within 2 days (NICE QS173 statement 2 for bed-based IC over accepted referrals,
from hospital and from the community; and the local all-models figure), occupancy by service,
episode lengths, outcomes, delayed exits, moves between models, and the 91-day still-at-home
figure: ASCOF 2B's national October-December cohort and a local rolling one.
docs/domain.md §8.4, §8.5, §8.9; PUBLISHED-RULES rows 33-37.

Periods are London dates, inclusive. Referral-based figures count the clocks that started in the
period; end-based figures count the episodes that ended in it. Occupancy is as at now.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from app.errors import ValidationFailed
from app.ic import episode
from app.ic.config import BedBasedStart, IcConfig
from app.ic.episode import london_day
from app.ic.metrics import (
    LengthSummary,
    RateRead,
    Result,
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
ASCOF_2B = (
    "ASCOF 2B: people aged 65 and over discharged from hospital into reablement or "
    "rehabilitation who are still at home 91 days after discharge"
)


class UcrRead(BaseModel):
    within_2_hours: RateRead
    closed_before_contact: int
    standard_percent: float
    meets_standard: bool | None


class StartsRead(BaseModel):
    counting: Literal["calendar_days", "elapsed_hours"] = Field(
        description='How "within 2 days of referral" is read for the bed-based figures'
    )
    bed_based: RateRead = Field(
        description="NICE QS173 statement 2: accepted bed-based referrals started within 2 days"
    )
    bed_based_from_hospital: RateRead
    bed_based_from_community: RateRead
    bed_based_accepted_closed_before_start: int = Field(
        description="Accepted, then ended or cancelled before starting: in the denominator, not met"
    )
    bed_based_not_accepted: int = Field(
        description="Bed-based referrals closed without being accepted (QS173 measure c)"
    )
    bed_based_awaiting_acceptance: int = Field(
        description="Bed-based referrals still open and not yet accepted"
    )
    all_models: RateRead = Field(
        description="Local: every referral not closed before start, on the 48-hour clock"
    )
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
    """Episodes in a follow-up cohort by their 91-day result. Every result but at_home is in
    the denominator only (deaths within the 91 days included); awaited ones are in neither."""

    cohort: int
    results: dict[str, int]
    awaiting_result: int
    percent_at_home: float | None
    complete: bool


class Ascof2b(StillAtHome):
    measure: str
    discharged_from: date
    discharged_to: date
    minimum_age: int
    excluded_under_minimum_age: int
    excluded_no_date_of_birth: int


class LocalStillAtHome(StillAtHome):
    description: str
    discharged_from: date
    discharged_to: date


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
    ascof_2b_still_at_home_91_days: Ascof2b
    local_still_at_home_91_days: LocalStillAtHome


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
    cohort_year: int | None = None,
) -> IcReport:
    """With `organisation`, episode figures cover the episodes it owns or shares, and
    occupancy its own services. `cohort_year` picks the ASCOF 2B discharge cohort; by default
    the latest whose 91 days have all passed by `date_to`."""
    start, end = period_bounds(date_from, date_to)
    repo = IcRepository(session, organisation)
    ended = repo.events_between(["end_episode"], start, end, site)
    starts = repo.clocks_started("start_within_2_days", start, end, site)
    year = cohort_year if cohort_year is not None else latest_cohort_year(config, date_to)
    return IcReport(
        as_of=now,
        date_from=date_from,
        date_to=date_to,
        site=site,
        ucr_2_hour=_ucr(repo.clocks_started("ucr_2_hour", start, end, site), config, now),
        start_within_2_days=_starts(starts, repo, config, now),
        occupancy=_occupancy(session, site, organisation),
        episodes_ended=len(ended),
        outcomes=_counts([e.data.get("outcome") for e, _case in ended], outcomes),
        episode_lengths=_lengths(repo, [c.id for _e, c in ended], start, end, site, now),
        delayed_exits=_delayed(repo, start, end, site, now),
        ascof_2b_still_at_home_91_days=_ascof_2b(repo, config, year, site),
        local_still_at_home_91_days=_local_still_at_home(repo, config, date_from, date_to, site),
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


def _starts(
    rows: list[tuple[Clock, Case]], repo: IcRepository, config: IcConfig, now: datetime
) -> StartsRead:
    every, closed = Tally(), 0
    bed: list[Case] = []
    for clock, case in rows:
        attrs = case.attributes
        if (attrs.get("first_model") or attrs.get("planned_model")) == "bed_based_ic":
            bed.append(case)
        if clock.state == "stopped" and not attrs.get("started_at"):
            closed += 1  # cancelled, readmitted or died before the service started
            continue
        every.add(clock_result(clock, now))
    waited = repo.first_event_times([c.id for c in bed], "await_capacity")
    rule = config.bed_based_start
    tally, hospital, community = Tally(), Tally(), Tally()
    accepted_closed = not_accepted = awaiting = 0
    for case in bed:
        started = _when(case.attributes.get("started_at"))
        can_start = started is None and case.state in episode.STARTABLE_STATES
        if started is None and case.id not in waited:
            if can_start:
                awaiting += 1
            else:
                not_accepted += 1
            continue
        result = start_result(case.opened_at, started, can_start, rule, now)
        if started is None and not can_start:
            accepted_closed += 1
        tally.add(result)
        direction = case.attributes.get("direction")
        (hospital if direction == "step_down" else community).add(result)
    return StartsRead(
        counting=rule.counting,
        bed_based=tally.read(),
        bed_based_from_hospital=hospital.read(),
        bed_based_from_community=community.read(),
        bed_based_accepted_closed_before_start=accepted_closed,
        bed_based_not_accepted=not_accepted,
        bed_based_awaiting_acceptance=awaiting,
        all_models=every.read(),
        closed_before_start=closed,
    )


def start_result(
    referred: datetime,
    started: datetime | None,
    can_start: bool,
    rule: BedBasedStart,
    now: datetime,
) -> Result:
    """Whether an accepted referral started "within 2 days of referral" (QS173 statement 2),
    read as calendar days (the start's London date at most `within_days` after the
    referral's) or as elapsed hours. One that closed without starting was not met."""
    if rule.counting == "calendar_days":
        last_day = london_day(referred) + timedelta(days=rule.within_days)
        if started is not None:
            return "met" if london_day(started) <= last_day else "breached"
        return "pending" if can_start and london_day(now) <= last_day else "breached"
    deadline = referred + timedelta(days=rule.within_days)
    if started is not None:
        return "met" if started <= deadline else "breached"
    return "pending" if can_start and now < deadline else "breached"


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


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


def latest_cohort_year(config: IcConfig, on: date) -> int:
    """The latest cohort year whose every member's 91-day date has come by `on`."""
    rule = config.still_at_home_follow_up
    year = on.year
    while rule.cohort_discharged.bounds(year)[1] + timedelta(days=rule.days) > on:
        year -= 1
    return year


def _london_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    start = datetime.combine(first, time(0), tzinfo=LONDON).astimezone(UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), tzinfo=LONDON).astimezone(UTC)
    return start, end


def _tally(cases: list[Case], config: IcConfig) -> dict[str, Any]:
    """The 91-day results of a cohort. ASCOF 2B: "those who have died within the three months
    are not reported in the numerator", so died (and not at home, not contactable) count in the
    denominator only; episodes still awaiting their result are in neither, and shown."""
    results = [episode.result_at_91_days(c.attributes, config) for c in cases]
    known = [r for r in results if r is not None]
    at_home = sum(r == "at_home" for r in known)
    return {
        "cohort": len(cases),
        "results": _counts(known, FOLLOW_UP_RESULTS),
        "awaiting_result": len(results) - len(known),
        "percent_at_home": round(100 * at_home / len(known), 1) if known else None,
        "complete": len(known) == len(results),
    }


def _ascof_2b(repo: IcRepository, config: IcConfig, year: int, site: str | None) -> Ascof2b:
    """The national figure: hospital discharges in the October-December window of `year`,
    people aged 65 or over at the date of discharge (a date of birth is needed), after
    reablement or rehabilitation."""
    rule = config.still_at_home_follow_up
    first, last = rule.cohort_discharged.bounds(year)
    start, end = _london_bounds(first, last)
    in_scope = [
        c
        for c in repo.discharged_between(start, end, site)
        if episode.in_follow_up_scope(c.attributes, config)
    ]
    cohort, under, unknown = [], 0, 0
    for case in in_scope:
        born = episode.date_of_birth(case.attributes)
        if born is None:
            unknown += 1
            continue
        discharged = episode.london_day(str(case.attributes["hospital_discharge_at"]))
        if episode.age_on(born, discharged) < rule.minimum_age:
            under += 1
            continue
        cohort.append(case)
    return Ascof2b(
        measure=ASCOF_2B,
        discharged_from=first,
        discharged_to=last,
        minimum_age=rule.minimum_age,
        excluded_under_minimum_age=under,
        excluded_no_date_of_birth=unknown,
        **_tally(cohort, config),
    )


def _local_still_at_home(
    repo: IcRepository, config: IcConfig, date_from: date, date_to: date, site: str | None
) -> LocalStillAtHome:
    """Local, rolling: the episodes whose 91-day date falls in the report period (discharged
    91 days before it), every age, by the same rules as the national figure."""
    days = timedelta(days=config.still_at_home_follow_up.days)
    first, last = date_from - days, date_to - days
    start, end = _london_bounds(first, last)
    cohort = [
        c
        for c in repo.discharged_between(start, end, site)
        if episode.in_follow_up_scope(c.attributes, config)
    ]
    return LocalStillAtHome(
        description=(
            "Local rolling figure, not ASCOF 2B: every age, episodes whose 91-day date falls in "
            "the report period"
        ),
        discharged_from=first,
        discharged_to=last,
        **_tally(cohort, config),
    )
