"""The architecture holds: the import contracts (.importlinter), and the one transition entry
point is the only code that calls the engine's state-changing methods."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

from app.config import PROJECT_ROOT

APP = PROJECT_ROOT / "app"
ENTRY_POINT = APP / "cases" / "transition.py"
ENGINE = APP / "engine" / "engine.py"
STATE_CHANGING = {"fire", "open_case"}


def _engine_calls(path: Path) -> list[tuple[Path, int, str]]:
    """`<something>.fire(...)` / `.open_case(...)` calls whose receiver names an engine."""
    return [
        (path, node.lineno, ast.unparse(node)[:80])
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in STATE_CHANGING
        and "engine" in ast.unparse(node.func.value).lower()
    ]


def test_only_the_transition_entry_point_calls_the_engine_to_change_a_case() -> None:
    calls = [c for p in sorted(APP.rglob("*.py")) if p != ENGINE for c in _engine_calls(p)]
    assert calls, "the scan found no engine call at all: it is not looking at the code"
    assert {path for path, _, _ in calls} == {ENTRY_POINT}, calls


def test_the_scan_would_catch_a_second_caller(tmp_path: Path) -> None:
    stray = tmp_path / "stray.py"
    stray.write_text("def go(writer, case, cmd):\n    return writer.engine.fire(case, cmd)\n")
    assert [(p, line) for p, line, _ in _engine_calls(stray)] == [(stray, 2)]


def test_the_import_contracts_are_kept() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a dev dependency: pip install -e '.[dev]'"
    result = subprocess.run(  # noqa: S603 - our own tool, fixed arguments
        [lint, "--no-cache", "--config", str(PROJECT_ROOT / ".importlinter")],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    summary = result.stdout.split("Contracts:")[-1]
    assert " 0 broken" in summary, summary
    assert int(summary.split("kept")[0].strip()) >= 6, summary  # every contract was read


CSV_WRITER = APP / "csvout.py"
WRITERS = {"writer", "DictWriter"}


def _csv_writers(path: Path) -> list[tuple[Path, int]]:
    """Uses of `csv.writer` / `csv.DictWriter` (as attributes of `csv` or imported from it)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in WRITERS
            and isinstance(node.value, ast.Name)
            and node.value.id == "csv"
        ) or (
            isinstance(node, ast.ImportFrom)
            and node.module == "csv"
            and any(alias.name in WRITERS for alias in node.names)
        ):
            found.append((path, node.lineno))
    return found


def test_only_the_csv_module_writes_csv() -> None:
    """Every CSV the service sends goes through `app.csvout`, which neutralises cells that a
    spreadsheet would run as formulas; a second writer would skip that."""
    writers = [w for p in sorted(APP.rglob("*.py")) for w in _csv_writers(p)]
    assert writers, "the scan found no CSV writer at all: it is not looking at the code"
    assert {path for path, _ in writers} == {CSV_WRITER}, writers


def test_the_csv_scan_would_catch_a_second_writer(tmp_path: Path) -> None:
    stray = tmp_path / "stray.py"
    stray.write_text(
        "import csv\nfrom csv import DictWriter\n\ndef go(out):\n    return csv.writer(out)\n"
    )
    assert [line for _, line in _csv_writers(stray)] == [2, 5]
