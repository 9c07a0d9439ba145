"""pathways/config/whatif.yaml is checked when the service starts (and by `homefirst pathways
check`): a bad file names itself and the problem, and stops the start. Every shipped figure
says whether it was checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from app.cli import cli
from app.config import PROJECT_ROOT, Settings
from app.main import create_app
from app.whatif.config import WhatIfConfigError, load_whatif_config

CONFIG = PROJECT_ROOT / "pathways" / "config"


def test_the_shipped_file_loads_and_nothing_in_it_claims_to_be_verified() -> None:
    config = load_whatif_config(CONFIG)
    assert (config.look_back_weeks, config.horizon_weeks) == (8, 12)
    figures = (
        config.acute_beds,
        config.community_beds,
        config.p2_length_of_stay_days,
        config.chc_assessors,
        config.chc_assessments_per_assessor_per_week,
        config.reference,
    )
    assert {f.status for f in figures} == {"UNVERIFIED"}
    assert config.reference.beds == 1000


def _bad(tmp_path: Path, change) -> Path:  # noqa: ANN001
    pathways = tmp_path / "pathways"
    shutil.copytree(PROJECT_ROOT / "pathways", pathways)
    raw = yaml.safe_load((CONFIG / "whatif.yaml").read_text())
    change(raw)
    (pathways / "config" / "whatif.yaml").write_text(yaml.safe_dump(raw))
    return pathways


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda c: c.update(runs=0), "runs"),
        (lambda c: c["community_beds"].update(status="GUESSED"), "community_beds.status"),
        (lambda c: c["acute_beds"].pop("source"), "acute_beds.source"),
        (lambda c: c.update(horizon=12), "horizon"),
    ],
)
def test_a_bad_file_stops_the_start(tmp_path: Path, change, problem: str) -> None:  # noqa: ANN001
    pathways = _bad(tmp_path, change)
    with pytest.raises(WhatIfConfigError, match="whatif.yaml") as refused:
        create_app(Settings(database_url="sqlite://", pathways_dir=pathways))
    assert problem in str(refused.value)


def test_pathways_check_names_a_bad_file(tmp_path: Path) -> None:
    pathways = _bad(tmp_path, lambda c: c.update(look_back_weeks=0))
    done = CliRunner().invoke(cli, ["pathways", "check", "--dir", str(pathways)])
    assert done.exit_code == 1
    assert "whatif.yaml" in done.output
