"""Two field options of the pathway format: `labels` (the words an enum choice is shown with)
and `not_in_future` (a date no later than the event's own date, such as a date of birth)."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from app.codelists.loader import CodeSetRegistry
from app.engine.fields import validate_data
from app.engine.spec import FieldSpec, PathwaySpec
from app.errors import ValidationFailed
from app.web.case_page import show_value

ON = date(2026, 12, 3)


def _spec(**fields: FieldSpec) -> PathwaySpec:
    return PathwaySpec(
        key="t",
        version=1,
        title="t",
        initial="a",
        open_roles=("admin",),
        fields=fields,
        states=({"name": "a"},),  # type: ignore[arg-type]
    )


def test_labels_name_only_choices() -> None:
    with pytest.raises(ValidationError, match="labels name values that are not choices: x"):
        FieldSpec(type="enum", choices=("a",), labels={"x": "Ex"})


def test_an_enum_value_is_shown_with_its_label_or_in_words() -> None:
    field = FieldSpec(type="enum", choices=("falls", "other_thing"), labels={"falls": "Falls"})
    codes = CodeSetRegistry({})
    assert show_value(field, "falls", codes, ON) == "Falls"
    assert show_value(field, "other_thing", codes, ON) == "Other thing"


def test_not_in_future_is_for_dates_only() -> None:
    with pytest.raises(ValidationError, match="date and datetime fields only"):
        FieldSpec(type="string", not_in_future=True)


@pytest.mark.parametrize(
    ("value", "ok"), [("2026-12-03", True), ("1940-01-01", True), ("2026-12-04", False)]
)
def test_a_date_not_in_the_future_is_checked_against_the_events_date(value: str, ok: bool) -> None:
    spec = _spec(born=FieldSpec(type="date", not_in_future=True))
    if ok:
        assert validate_data(spec, {"born": value}, allowed=["born"], required=[], on=ON) == {
            "born": value
        }
        return
    with pytest.raises(ValidationFailed) as caught:
        validate_data(spec, {"born": value}, allowed=["born"], required=[], on=ON)
    assert caught.value.extra["errors"] == [
        {"field": "born", "problem": "must not be after the event's date (2026-12-03)"}
    ]
