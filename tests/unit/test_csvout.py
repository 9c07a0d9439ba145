"""The one CSV writer (`app.csvout`): text that could start a formula is neutralised, numbers
are not touched."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest

from app.csvout import to_csv


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+44 151 000 0000", "'+44 151 000 0000"),
        ("-Ward 8", "'-Ward 8"),
        ("-3", "'-3"),  # text, even if it reads as a number: only a number is a number
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Ward = 7", "Ward = 7"),
        ("O'Neil", "O'Neil"),
        ("", ""),
        (None, ""),
    ],
)
def test_text_cells(value: str | None, written: str) -> None:
    [header, row] = _cells(to_csv(["a"], [[value]]))
    assert header == ["a"]
    assert row == [written]


def test_numbers_dates_and_booleans_are_written_as_they_are() -> None:
    values = [-3, 0, 7, -2.5, Decimal("-0.25"), date(2026, 3, 31), True]
    [_, row] = _cells(to_csv(list("abcdefg"), [values]))
    assert row == ["-3", "0", "7", "-2.5", "-0.25", "2026-03-31", "True"]


def test_a_header_that_could_start_a_formula_is_neutralised_too() -> None:
    assert _cells(to_csv(["=cmd", "b"], []))[0] == ["'=cmd", "b"]
