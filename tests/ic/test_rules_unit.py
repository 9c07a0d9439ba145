"""Pure parts of intermediate care: configuration, the follow-up rule, the rehabilitation rule
and whether a clock was met. No database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from app.config import PROJECT_ROOT
from app.engine.spec import FieldSpec
from app.ic.config import BedBasedStart, IcConfig, IcConfigError, load_ic_config
from app.ic.episode import (
    age_on,
    follow_up,
    in_follow_up_scope,
    rehabilitation_offered,
    result_at_91_days,
)
from app.ic.metrics import Tally, clock_result, summarise_days
from app.ic.reports import latest_cohort_year, start_result
from app.models import Clock

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def test_the_shipped_configuration_loads_and_is_marked_provisional() -> None:
    config = load_ic_config(PROJECT_ROOT / "pathways" / "config")
    assert config.status == "provisional"
    assert (config.ucr_standard_percent, config.step_down_pathways) == (70, ("P1", "P2"))
    assert config.waiting_list.priority_order == ("urgent", "high", "routine")
    assert config.still_at_home_follow_up.days == 91


def test_a_bad_configuration_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "ic.yaml").write_text("rehabilitation_models: [respite]\n")
    with pytest.raises(IcConfigError, match="ic.yaml"):
        load_ic_config(tmp_path)
    assert load_ic_config(tmp_path / "missing") == IcConfig()


STEP_DOWN = {
    "direction": "step_down",
    "models_used": ["bed_based_ic", "reablement"],
    "hospital_discharge_at": "2026-01-31T23:30:00+00:00",  # still 31 January in London
    "ended_at": "2026-03-01T10:00:00+00:00",
    "outcome": "independent",
}


@pytest.mark.parametrize(
    ("change", "needed", "due"),
    [
        ({}, True, date(2026, 5, 2)),  # 31 January + 91 days
        ({"hospital_discharge_at": None}, True, date(2026, 5, 31)),  # from the end instead
        ({"direction": "step_up"}, False, None),
        # Was False (reablement only). ASCOF 2B covers people "discharged from hospital ... for
        # rehabilitation": home-based and bed-based IC count as well as reablement.
        ({"models_used": ["home_based_ic"]}, True, date(2026, 5, 2)),
        ({"models_used": ["bed_based_ic"]}, True, date(2026, 5, 2)),
        ({"models_used": ["crisis_response"]}, False, None),  # up to 48 hours: not rehabilitation
        # No call is owed after a death, but the report still counts it (see below).
        ({"outcome": "died"}, False, None),
    ],
)
def test_who_is_owed_the_91_day_follow_up(change: dict, needed: bool, due: date | None) -> None:
    status = follow_up({**STEP_DOWN, **change}, IcConfig())
    assert (status.needed, status.due_on) == (needed, due)


def test_a_death_during_the_episode_is_a_91_day_result_not_an_exclusion() -> None:
    """ASCOF 2B: "those who have died within the three months are not reported in the
    numerator" - they stay in the denominator, so the episode is in scope with result died."""
    died = {**STEP_DOWN, "outcome": "died"}
    assert in_follow_up_scope(died, IcConfig()) is True
    assert result_at_91_days(died, IcConfig()) == "died"
    assert result_at_91_days(STEP_DOWN, IcConfig()) is None  # awaiting the call
    recorded = {**STEP_DOWN, "still_at_home_91d": "not_at_home"}
    assert result_at_91_days(recorded, IcConfig()) == "not_at_home"
    # A death after the 91-day date (a long delayed exit) is not a death "within the three
    # months": where the person was at 91 days is still to be recorded.
    late = {**died, "ended_at": "2026-05-03T10:00:00+00:00"}  # discharged 31 January
    assert result_at_91_days(late, IcConfig()) is None
    assert follow_up(late, IcConfig()).due_on == date(2026, 5, 2)
    on_the_day = {**died, "ended_at": "2026-05-02T10:00:00+00:00"}
    assert result_at_91_days(on_the_day, IcConfig()) == "died"


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(1961, 10, 15), date(2026, 10, 14), 64),  # the day before the 65th birthday
        (date(1961, 10, 15), date(2026, 10, 15), 65),
        (date(1960, 2, 29), date(2025, 2, 28), 64),  # a leap-day birthday in a common year
        (date(1960, 2, 29), date(2025, 3, 1), 65),
    ],
)
def test_age_at_the_date_of_discharge(born: date, on: date, age: int) -> None:
    """ASCOF 2B: "clients are aged 65 or over at the date of discharge"."""
    assert age_on(born, on) == age


@pytest.mark.parametrize(
    ("on", "year"),
    [
        (date(2026, 12, 3), 2025),
        (date(2026, 3, 31), 2024),  # 31 Dec 2025 + 91 days is 1 April 2026
        (date(2026, 4, 1), 2025),
    ],
)
def test_the_default_ascof_cohort_is_the_latest_whose_91_days_have_passed(
    on: date, year: int
) -> None:
    """ASCOF 2B's cohort is hospital discharges 1 October - 31 December."""
    assert latest_cohort_year(IcConfig(), on) == year


REFERRED = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # Monday 2 March, 23:00 in London


@pytest.mark.parametrize(
    ("counting", "started", "result"),
    [
        # Wednesday 4 March is the second day after the referral's date: met by date...
        ("calendar_days", datetime(2026, 3, 4, 22, 0, tzinfo=UTC), "met"),
        # ...but 47 hours after it, so met at 48 hours too; Thursday is late either way.
        ("elapsed_hours", datetime(2026, 3, 4, 22, 0, tzinfo=UTC), "met"),
        ("calendar_days", datetime(2026, 3, 5, 9, 0, tzinfo=UTC), "breached"),
        # 23:30 on Wednesday: within 2 calendar days, past 48 hours.
        ("calendar_days", datetime(2026, 3, 4, 23, 30, tzinfo=UTC), "met"),
        ("elapsed_hours", datetime(2026, 3, 4, 23, 30, tzinfo=UTC), "breached"),
    ],
)
def test_start_within_2_days_of_referral_is_read_as_configured(
    counting: str, started: datetime, result: str
) -> None:
    """NICE QS173 statement 2: "Adults accepted for bed-based intermediate care start the
    service within 2 days of referral." NICE does not say whether days are dates or 48 hours."""
    rule = BedBasedStart(counting=counting)  # type: ignore[arg-type]
    assert start_result(REFERRED, started, False, rule, NOW) == result


def test_an_accepted_referral_that_never_starts_is_not_met() -> None:
    """QS173: "Numerator - the number in the denominator who start the service within 2 days
    of referral"; the denominator is everyone accepted, so closing before the start is not met."""
    rule = BedBasedStart()
    assert start_result(REFERRED, None, False, rule, REFERRED + timedelta(hours=1)) == "breached"
    assert start_result(REFERRED, None, True, rule, REFERRED + timedelta(hours=1)) == "pending"
    # Still waiting on 4 March (London): pending by date; on 5 March: breached.
    assert start_result(REFERRED, None, True, rule, datetime(2026, 3, 4, 20, tzinfo=UTC)) == (
        "pending"
    )
    assert start_result(REFERRED, None, True, rule, datetime(2026, 3, 5, 1, tzinfo=UTC)) == (
        "breached"
    )


def test_ucr_condition_labels_agree_between_the_pathway_and_the_configuration() -> None:
    """PUBLISHED-RULES row 35 (U12): six conditions verbatim from the NHS England 2022 guidance
    as reproduced: "Falls", "Decompensation of frailty", "Reduced function/ deconditioning/reduced
    mobility", "Palliative/end-of- life crisis support", "Urgent equipment provision",
    "Confusion/delirium"; three known by topic only (unverified)."""
    config = load_ic_config(PROJECT_ROOT / "pathways" / "config")
    raw = yaml.safe_load((PROJECT_ROOT / "pathways" / "intermediate_care.yaml").read_text())
    field = FieldSpec.model_validate(raw["fields"]["ucr_condition"])
    assert set(config.ucr_conditions) == set(field.choices) == set(field.labels)
    assert {k: c.label for k, c in config.ucr_conditions.items()} == dict(field.labels)
    verbatim = {c.label for c in config.ucr_conditions.values() if c.verbatim}
    assert verbatim == {
        "Falls",
        "Decompensation of frailty",
        "Reduced function/ deconditioning/reduced mobility",
        "Palliative/end-of- life crisis support",
        "Urgent equipment provision",
        "Confusion/delirium",
    }
    unverified = [k for k, c in config.ucr_conditions.items() if not c.verbatim]
    assert sorted(unverified) == [
        "other",
        "unpaid_carer_breakdown",
        "urgent_catheter_care",
        "urgent_diabetes_support",
    ]
    assert config.ucr_condition("other") == (
        "other",
        "Other (not one of the nine conditions)",
        False,
    )
    assert config.ucr_condition(None) is None


def test_rehabilitation_is_offered_by_a_record_or_by_a_rehabilitation_model() -> None:
    config = IcConfig()
    assert rehabilitation_offered({"models_used": ["crisis_response"]}, config) is False
    assert rehabilitation_offered({"models_used": ["reablement"]}, config) is True
    assert rehabilitation_offered({"rehab_offer_response": "declined"}, config) is True
    strict = IcConfig(rehabilitation_models=())
    assert rehabilitation_offered({"models_used": ["reablement"]}, strict) is False


def _clock(state: str, consumed: float, due: datetime | None = None) -> Clock:
    return Clock(
        state=state,
        consumed_seconds=consumed,
        budget_seconds=7200,
        due_at=due,
        breached_at=None,
        running_since=NOW - timedelta(hours=1) if state == "running" else None,
    )


def test_a_clock_is_met_breached_or_pending_without_waiting_for_the_sweeper() -> None:
    assert clock_result(_clock("stopped", 7200), NOW) == "met"  # exactly on time counts
    assert clock_result(_clock("stopped", 7201), NOW) == "breached"
    assert clock_result(_clock("running", 0, due=NOW + timedelta(minutes=1)), NOW) == "pending"
    assert clock_result(_clock("running", 0, due=NOW), NOW) == "breached"
    tally = Tally()
    for result in ("met", "met", "breached", "pending"):
        tally.add(result)  # type: ignore[arg-type]
    read = tally.read()
    assert (read.count, read.met, read.breached, read.pending, read.percent_met) == (
        4,
        2,
        1,
        1,
        66.7,
    )
    assert summarise_days([86_400, 3 * 86_400, 86_400 / 2]).model_dump() == {
        "count": 3,
        "mean_days": 1.5,
        "median_days": 1.0,
        "max_days": 3.0,
    }
