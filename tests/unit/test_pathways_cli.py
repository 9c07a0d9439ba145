"""`homefirst pathways check`: exit 0 listing every pathway, exit 1 naming a bad file."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from app.cli import cli
from app.config import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "pathways"
runner = CliRunner()


def check(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, ["pathways", "check", *args])


def test_check_shipped_directory() -> None:
    result = check("--dir", str(SHIPPED))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(list(SHIPPED.glob("*.yaml"))) + len(
        list(SHIPPED.glob("archive/*.yaml"))
    )
    assert (
        "ok  sample-referral v1  7 states, 7 transitions, 2 clocks  (sample-referral.yaml)" in lines
    )
    assert all(line.startswith("ok  ") for line in lines)


def test_check_defaults_to_the_configured_directory() -> None:
    result = check()
    assert result.exit_code == 0, result.output
    assert "ok  sample-referral v1" in result.stdout


def test_check_lists_every_key_and_version(tmp_path: Path) -> None:
    shutil.copytree(SHIPPED, tmp_path / "pathways")
    text = (SHIPPED / "sample-referral.yaml").read_text()
    (tmp_path / "pathways" / "archive").mkdir(exist_ok=True)
    (tmp_path / "pathways" / "archive" / "sample-referral.v2.yaml").write_text(
        text.replace("version: 1", "version: 2")
    )
    result = check("--dir", str(tmp_path / "pathways"))
    assert result.exit_code == 0, result.output
    assert [line.split("  ")[1] for line in result.stdout.splitlines()] == [
        "chc v1",
        "chc v2",
        "discharge v1",
        "discharge v2",
        "discharge v3",
        "discharge v4",
        "discharge v5",
        "intermediate_care v1",
        "intermediate_care v2",
        "referral v1",
        "sample-referral v1",
        "sample-referral v2",
    ]


def test_check_refuses_a_pathway_no_registered_workflow_owns(tmp_path: Path) -> None:
    shutil.copytree(SHIPPED, tmp_path / "pathways")
    text = (SHIPPED / "sample-referral.yaml").read_text()
    stray = tmp_path / "pathways" / "other.yaml"
    stray.write_text(text.replace("key: sample-referral", "key: other-one"))
    result = check("--dir", str(tmp_path / "pathways"))
    assert result.exit_code == 1
    assert "no registered workflow owns the pathway key 'other-one'" in result.output
    assert str(stray) in result.output


def test_check_refuses_a_directory_missing_a_workflows_file(tmp_path: Path) -> None:
    shutil.copytree(SHIPPED, tmp_path / "pathways")
    (tmp_path / "pathways" / "chc.yaml").unlink()
    result = check("--dir", str(tmp_path / "pathways"))
    assert result.exit_code == 1
    assert "chc.yaml: a registered workflow declares this file; it is missing" in result.output


def test_check_broken_file_exits_1_naming_file_and_problem(tmp_path: Path) -> None:
    text = (SHIPPED / "sample-referral.yaml").read_text()
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("guards: [outcome_recorded]", "guards: [no_such_guard]"))
    result = check("--dir", str(tmp_path))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"pathway check failed: {broken}: ")
    assert "transition 'complete': unknown guard 'no_such_guard'" in result.stderr


def test_check_invalid_yaml_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("key: [unclosed\n")
    result = check("--dir", str(tmp_path))
    assert result.exit_code == 1
    assert str(bad) in result.output
    assert "not valid YAML" in result.output


def test_check_missing_directory_exits_1(tmp_path: Path) -> None:
    result = check("--dir", str(tmp_path / "absent"))
    assert result.exit_code == 1
    assert "pathways directory not found" in result.output
