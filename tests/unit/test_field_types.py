"""The `codes` field type (a list of codes from a versioned list), and `not_in_future` dates."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from app.engine.fields import CODELISTS_KEY, validate_data
from app.engine.spec import FieldSpec, PathwaySpec
from app.errors import ValidationFailed


def _spec() -> PathwaySpec:
    return PathwaySpec.model_validate(
        {
            "key": "t",
            "version": 1,
            "title": "t",
            "initial": "a",
            "open_roles": ["admin"],
            "fields": {
                "met": {"type": "codes", "codelist": "ctr", "max_items": 3},
                "born": {"type": "date", "not_in_future": True},
            },
            "states": [{"name": "a"}],
        }
    )


def _check(key: str, code: str, on: date) -> str | None:
    # "x" is a code from 2024; "y" a code only before 2024.
    if code == "x" and on >= date(2024, 1, 1):
        return "2024"
    if code == "y" and on < date(2024, 1, 1):
        return "2020"
    return None


def _validate(data: dict[str, object], on: date = date(2024, 6, 1)) -> dict[str, object]:
    return validate_data(
        _spec(), data, allowed=["met", "born"], required=[], on=on, code_check=_check
    )


def test_codes_are_checked_against_the_list_in_force_that_day() -> None:
    clean = _validate({"met": ["x"]})
    assert clean["met"] == ["x"]
    assert clean[CODELISTS_KEY] == {"met": "ctr@2024"}
    assert _validate({"met": ["y"]}, on=date(2023, 6, 1))[CODELISTS_KEY] == {"met": "ctr@2020"}
    with pytest.raises(ValidationFailed) as refused:
        _validate({"met": ["x", "y"]})
    assert "'y': not a current code in ctr on 2024-06-01" in str(refused.value.extra)


@pytest.mark.parametrize("value", [[], ["x", "x"], "x", [1], ["x", "x", "x", "x"], [" "], ["x\ny"]])
def test_bad_code_lists_are_refused(value: object) -> None:
    with pytest.raises(ValidationFailed):
        _validate({"met": value})


def test_not_in_future_dates_are_checked_against_the_events_day() -> None:
    assert _validate({"born": "1950-01-31"})["born"] == "1950-01-31"
    assert _validate({"born": "2024-06-01"})["born"] == "2024-06-01"  # the same day is fine
    with pytest.raises(ValidationFailed):
        _validate({"born": "2024-06-02"})


def test_field_options_are_checked_when_the_pathway_loads() -> None:
    with pytest.raises(ValidationError, match="a codes field needs a codelist"):
        FieldSpec(type="codes")
    with pytest.raises(
        ValidationError, match="not_in_future applies to date and datetime fields only"
    ):
        FieldSpec(type="string", not_in_future=True)
