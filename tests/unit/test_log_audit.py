"""The audit of a run's logs (tests/log_audit.py) finds what it is for, and reports no value."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.log_audit import audit, main

VALID = "9434765919"


def test_it_names_the_line_of_each_nhs_number_and_token_and_never_the_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not named *.log: the run's own audit reads the tests' temporary *.log files.
    (tmp_path / "sample.txt").write_text(
        '{"message": "request", "request_id": "ab9434765919cd"}\n'  # inside an id: fine
        f'{{"message": "patient {VALID}"}}\n'
        '{"message": "ok"}\n'
        "Authorization: Bearer hf_abcdefghijklmnop\n"
        "943 476 5919 on the ward\n"
        "9434765918 is no NHS number\n"
    )
    files, problems = audit([tmp_path])
    assert files == 1
    assert [p.rsplit(":", 2)[1:] for p in problems] == [
        ["2", " NHS number"],
        ["4", " token"],
        ["5", " NHS number"],
    ]
    assert main([str(tmp_path)]) == 1
    assert VALID not in capsys.readouterr().out


def test_clean_logs_pass_and_only_log_files_are_read_under_logs(tmp_path: Path) -> None:
    kept, runs = tmp_path / "kept", tmp_path / "runs"
    kept.mkdir()
    runs.mkdir()
    (kept / "service.txt").write_text('{"message": "request", "route": "/api/v1/cases"}\n')
    (runs / "listener.log").write_text("HomeFirst ADT listener on 127.0.0.1:2575\n")  # clean
    (runs / "patients.csv").write_text(f"{VALID},Ward 5\n")  # test data, not a log
    assert main([str(kept), "--logs", str(runs)]) == 0
    assert main([str(tmp_path / "missing")]) == 1  # nothing read is no pass


def test_the_demo_announcing_its_token_once_is_let_through_and_nothing_else(
    tmp_path: Path,
) -> None:
    """`serve --demo` prints the demo user's token on the console by design; the same token in
    any other line, or a second token on that line, or an NHS number on it, is still found."""
    (tmp_path / "serve.txt").write_text(
        "demo cases created: 12\n"
        "demo token (user demo): hf_abcdefghijklmnop\n"
        "demo token (user demo): hf_abcdefghijklmnop hf_qrstuvwxyzabcdef\n"
        f"demo token (user {VALID}): hf_abcdefghijklmnop\n"
        '{"message": "request", "token": "hf_abcdefghijklmnop"}\n'
    )
    _, problems = audit([tmp_path])
    assert [p.rsplit(":", 2)[1:] for p in problems] == [
        ["3", " token"],
        ["3", " token"],
        ["4", " NHS number"],
        ["5", " token"],
    ]
