"""The pathway-fit rules on plain records: the 91-day window's edges, the precedence of
outcomes, re-referrals, the indicator, the configuration check and the CSV's neutralised cells."""

from __future__ import annotations

import csv
import io
import shutil
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from app.pathway_fit.config import (
    PathwayFitConfig,
    PathwayFitConfigError,
    load_pathway_fit_config,
)
from app.pathway_fit.derive import Admission, Discharge, Episode, classify, summarise, total
from app.pathway_fit.export import patients_csv
from app.pathway_fit.schemas import PatientFitRead
from app.timeutil import LONDON

CONFIG = PathwayFitConfig()
DAY0 = date(2026, 3, 2)  # GMT; day 91 (1 June) is in BST
NHS = "9990000018"


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=LONDON).astimezone(UTC)


def out(pathway: str = "P1", code: str = "19") -> Discharge:
    return Discharge(1, NHS, "S", pathway, code, at(DAY0))


def step_down(outcome: str | None = None, follow_up: str | None = None) -> Episode:
    return Episode(2, NHS, "step_down", at(DAY0), outcome, follow_up, step_down_from=1)


LATER = DAY0 + timedelta(days=200)


def test_readmission_counts_up_to_day_91_inclusive() -> None:
    on_91 = Admission(3, NHS, at(DAY0 + timedelta(days=91), 23))
    on_92 = Admission(3, NHS, at(DAY0 + timedelta(days=92), 0))
    assert classify(out(), [], [on_91], CONFIG, LATER).outcome == "readmitted"
    assert classify(out(), [], [on_92], CONFIG, LATER).outcome == "no_later_record"
    # Before the discharge (the spell itself, or an earlier one) is not a readmission.
    before = Admission(3, NHS, at(DAY0 - timedelta(days=5)))
    assert classify(out(), [], [before], CONFIG, LATER).outcome == "no_later_record"
    # Another patient's admission is not this one's.
    other = Admission(3, "9990000026", at(DAY0 + timedelta(days=3)))
    assert classify(out(), [], [other], CONFIG, LATER).outcome == "no_later_record"


def test_precedence_died_readmitted_care_home_follow_up() -> None:
    back = Admission(3, NHS, at(DAY0 + timedelta(days=10)))
    died = Admission(1, NHS, at(DAY0 - timedelta(days=9)), died_at=at(DAY0 + timedelta(days=40)))
    home = step_down("independent", "at_home")
    assert classify(out(), [home], [back, died], CONFIG, LATER).outcome == "died"
    assert classify(out(), [home], [back], CONFIG, LATER).outcome == "readmitted"
    assert classify(out("P3", "85"), [home], [], CONFIG, LATER).outcome == "care_home"
    assert classify(out(), [home], [], CONFIG, LATER).outcome == "still_at_home"
    assert classify(out(), [step_down("died")], [], CONFIG, LATER).outcome == "died"
    late = Admission(1, NHS, None, died_at=at(DAY0 + timedelta(days=95)))
    assert classify(out(), [], [late], CONFIG, LATER).outcome == "no_later_record"
    ltc = step_down("long_term_care_home")
    assert classify(out(), [ltc], [], CONFIG, LATER).outcome == "care_home"
    # P2's care-home code is the IC bed: not a care home by itself.
    assert classify(out("P2", "85"), [], [], CONFIG, LATER).outcome == "no_later_record"
    nc = step_down("ongoing_package", "not_contactable")
    assert classify(out(), [nc], [], CONFIG, LATER).outcome == "not_contactable"


def test_pending_until_the_91st_day() -> None:
    last = DAY0 + timedelta(days=91)
    assert classify(out(), [], [], CONFIG, last - timedelta(days=1)).outcome == "pending"
    assert classify(out(), [], [], CONFIG, last).outcome == "no_later_record"
    # A known outcome is not pending.
    back = Admission(3, NHS, at(DAY0 + timedelta(days=10)))
    assert classify(out(), [], [back], CONFIG, DAY0).outcome == "readmitted"


def test_re_referrals_are_step_up_episodes_in_the_window() -> None:
    def up(days: int, case_id: int) -> Episode:
        return Episode(case_id, NHS, "step_up", at(DAY0 + timedelta(days=days)))

    episodes = [up(-3, 5), up(10, 6), up(91, 7), up(92, 8), step_down()]
    assert classify(out(), episodes, [], CONFIG, LATER).re_referrals == 2


@pytest.mark.parametrize(
    ("pathway", "outcome", "follow_up", "flagged"),
    [
        ("P2", "independent", None, True),
        ("P2", "equipment_tecs_only", "not_at_home", True),
        ("P3", "ict_follow_on", "at_home", False),  # an ongoing service
        ("P3", "readmitted_to_hospital", "at_home", False),  # readmitted comes first
        ("P2", "ongoing_package", "at_home", False),
        ("P1", "independent", "at_home", False),  # P1 is not an intensive pathway
        ("P2", None, None, False),
    ],
)
def test_possibly_more_intensive(
    pathway: str, outcome: str | None, follow_up: str | None, flagged: bool
) -> None:
    fit = classify(out(pathway, "19"), [step_down(outcome, follow_up)], [], CONFIG, LATER)
    assert fit.possibly_more_intensive is flagged


def test_at_home_without_an_ongoing_package_is_flagged_on_its_own() -> None:
    """With the default lists every such episode already ended "lighter"; the second clause
    matters when a site narrows `lighter_ic_outcomes`."""
    narrow = PathwayFitConfig(lighter_ic_outcomes=())
    home = [step_down("independent", "at_home")]
    assert classify(out("P2"), home, [], narrow, LATER).possibly_more_intensive
    away = [step_down("independent", "not_at_home")]
    assert not classify(out("P2"), away, [], narrow, LATER).possibly_more_intensive


def test_summary_percentages_and_total() -> None:
    home = classify(out(), [step_down("independent", "at_home")], [], CONFIG, LATER)
    none = classify(Discharge(9, None, "S", None, "19", at(DAY0)), [], [], CONFIG, LATER)
    rows = {r.pathway: r for r in summarise([home, home, none])}
    assert (rows["P1"].discharges, rows["P1"].outcomes["still_at_home"]) == (2, 2)
    assert rows["P1"].percent(2) == 100.0
    assert rows["unknown"].outcomes["no_later_record"] == 1
    assert total(list(rows.values())).discharges == 3


def test_configuration_is_checked(tmp_path: Path) -> None:
    (tmp_path / "pathway-fit.yaml").write_text("intensive_pathways: [P9]\n")
    with pytest.raises(PathwayFitConfigError, match="unknown pathways: P9"):
        load_pathway_fit_config(tmp_path)
    (tmp_path / "pathway-fit.yaml").write_text("care_home_destination_codes: ['85', '00']\n")
    with pytest.raises(PathwayFitConfigError, match="not in ukcore-discharge-destination: 00"):
        load_pathway_fit_config(tmp_path, frozenset({"19", "85"}))
    (tmp_path / "pathway-fit.yaml").write_text("lighter_ic_outcomes: [cured]\n")
    with pytest.raises(PathwayFitConfigError, match="unknown IC outcomes: cured"):
        load_pathway_fit_config(tmp_path)
    (tmp_path / "ic.yaml").write_text("still_at_home_follow_up: {days: 60}\n")
    (tmp_path / "pathway-fit.yaml").write_text("{}\n")
    assert load_pathway_fit_config(tmp_path).window_days == 60


def test_patient_csv_cells_are_neutralised() -> None:
    row = PatientFitRead(
        case_id=1,
        case_link="/tracker/cases/1",
        patient_ref=None,
        site='=HYPERLINK("http://x")',
        discharged_on=DAY0,
        pathway="P1",
        destination_code="@19",
        outcome="pending",
        evidence="-1+1",
        ic_outcome=None,
        window_ends=DAY0,
        re_referrals=0,
        re_referred=False,
        possibly_more_intensive=False,
    )
    (parsed,) = csv.DictReader(io.StringIO(patients_csv([row])))
    assert parsed["site"] == '\'=HYPERLINK("http://x")'
    assert (parsed["destination_code"], parsed["evidence"]) == ("'@19", "'-1+1")
    assert (parsed["patient_ref"], parsed["discharged_on"], parsed["re_referrals"]) == (
        "",
        "2026-03-02",
        "0",
    )


def test_pathways_check_refuses_a_bad_pathway_fit_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from app.cli import cli
    from app.config import PROJECT_ROOT

    shutil.copytree(PROJECT_ROOT / "pathways", tmp_path / "pathways")
    (tmp_path / "pathways" / "config" / "pathway-fit.yaml").write_text("intensive: [P2]\n")
    result = CliRunner().invoke(cli, ["pathways", "check", "--dir", str(tmp_path / "pathways")])
    assert result.exit_code == 1
    assert "pathway-fit.yaml" in result.output
