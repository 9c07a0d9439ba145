"""Discharge pathway version 3 (issue 16): what changed against version 2, which stays loaded
for the cases opened on it."""

from __future__ import annotations

from app.engine.catalogue import PathwayCatalogue


def test_version_3_and_version_2_stay_loaded(catalogue: PathwayCatalogue) -> None:
    assert catalogue.versions("discharge")[-5:] == [1, 2, 3, 4, 5]
    v3 = catalogue.get("discharge", 3)
    assert v3 is not None
    assert "ctr_criteria_met" in v3.spec.fields
    v2 = catalogue.get("discharge", 2)
    assert v2 is not None
    assert "ctr_criteria_met" not in v2.spec.fields
    assert "date_of_birth" not in v2.spec.fields


def test_days_delayed_is_described_as_a_local_rule_not_the_national_series(
    catalogue: PathwayCatalogue,
) -> None:
    """PUBLISHED-RULES.md row 39: "The national 7/14/21 series are **length of stay** thresholds
    (days since admission), not days since DRD"; the clock is a local escalation rule."""
    latest = catalogue.latest("discharge")
    assert latest is not None
    (clock,) = [c for c in latest.spec.clocks if c.name == "days_delayed"]
    text = " ".join(clock.description.split())
    assert text.startswith("Local escalation rule")
    assert "Not the national 7/14/21-day series, which are lengths of stay" in text
    assert "§6.3" not in text
    assert "local escalation rule" in " ".join(latest.spec.description.split())


def test_criteria_and_date_of_birth_fields(catalogue: PathwayCatalogue) -> None:
    latest = catalogue.latest("discharge")
    assert latest is not None
    spec = latest.spec
    criteria = spec.fields["ctr_criteria_met"]
    assert (criteria.type, criteria.codelist) == ("codes", "criteria-to-reside")
    dob = spec.fields["date_of_birth"]
    assert (dob.type, dob.not_in_future) == ("date", True)
    assert "date_of_birth" in spec.open_accepts
    by_trigger = {t.trigger: t for t in spec.transitions}
    assert "ctr_criteria_met" in by_trigger["meets_ctr_again"].accepts
    assert "ctr_criteria_cleared" in by_trigger["not_meeting_ctr"].effects
    assert "date_of_birth" in by_trigger["update_details"].accepts
