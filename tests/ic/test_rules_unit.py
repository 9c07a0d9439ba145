"""Pure parts of intermediate care: configuration, the follow-up rule, the rehabilitation rule
and whether a clock was met. No database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from app.config import PROJECT_ROOT
from app.ic.config import IcConfig, IcConfigError, load_ic_config
from app.ic.episode import follow_up, rehabilitation_offered
from app.ic.metrics import Tally, clock_result, summarise_days
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
        ({"models_used": ["home_based_ic"]}, False, None),
        ({"outcome": "died"}, False, None),
    ],
)
def test_who_is_owed_the_91_day_follow_up(change: dict, needed: bool, due: date | None) -> None:
    status = follow_up({**STEP_DOWN, **change}, IcConfig())
    assert (status.needed, status.due_on) == (needed, due)


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
