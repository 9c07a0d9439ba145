"""pathways/config/ledger.yaml is checked when the service starts: a bad file names itself and
the problem, and stops the start."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml

from app.config import PROJECT_ROOT, Settings
from app.ledger.config import LedgerConfigError, load_ledger_config
from app.main import create_app

CONFIG = PROJECT_ROOT / "pathways" / "config"


def test_the_shipped_file_loads() -> None:
    config = load_ledger_config(CONFIG)
    assert config.attribution == "equal_share"
    assert config.fallback == "UNATTRIBUTED"
    # The shipped cost is a placeholder until copied from the publication (README).
    assert {t.status for t in config.tariffs} <= {"UNVERIFIED", "LOCAL", "VERIFIED"}
    assert config.responsible_for("capacity-p1-services", "Capacity", "P1") == "LA"
    assert config.responsible_for("no-reason-recorded", None, "P1") == "UNATTRIBUTED"
    assert config.tariff_on(date(2025, 8, 31)) is None


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda c: c.update(fallback="NOBODY"), "fallback 'NOBODY' is not in organisations"),
        (
            lambda c: c["responsible"].append({"family": "Capacity", "organisation": "X"}),
            "unknown organisation 'X'",
        ),
        (lambda c: c["tariffs"].append(dict(c["tariffs"][0])), "a version is named twice"),
        (lambda c: c.update(attribution="pro_rata"), "attribution"),
        (lambda c: c["tariffs"][0].update(currency="EUR"), "currency"),
        (lambda c: c["tariffs"][0].update(cost_per_bed_day="-1"), "cost_per_bed_day"),
        (lambda c: c.update(tariffs=[]), "tariffs"),
    ],
)
def test_a_bad_file_stops_the_start(tmp_path: Path, change, problem: str) -> None:  # noqa: ANN001
    pathways = tmp_path / "pathways"
    shutil.copytree(PROJECT_ROOT / "pathways", pathways)
    raw = yaml.safe_load((CONFIG / "ledger.yaml").read_text())
    change(raw)
    (pathways / "config" / "ledger.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(LedgerConfigError, match="ledger.yaml") as refused:
        create_app(Settings(database_url="sqlite://", pathways_dir=pathways))
    assert problem in str(refused.value)
