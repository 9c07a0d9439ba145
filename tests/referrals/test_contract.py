"""The referral pathway keeps the contract the discharge pathway's `referral_update` relies on,
and the roles the routes check are the pathway's (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.composition import workflows
from app.config import PROJECT_ROOT
from app.engine.catalogue import PathwayCatalogue
from app.referrals import service
from app.referrals.partners import KINDS, PartnersConfigError, load_partners


@pytest.fixture(scope="module")
def catalogue() -> PathwayCatalogue:
    return PathwayCatalogue.from_directory(PROJECT_ROOT / "pathways", workflows().rules())


def test_states_are_the_statuses_the_parent_records(catalogue: PathwayCatalogue) -> None:
    referral = catalogue.latest("referral")
    discharge = catalogue.latest("discharge")
    assert referral is not None
    assert discharge is not None
    states = [s.name for s in referral.spec.states]
    assert referral.spec.initial == "sent"
    assert sorted(states) == sorted(discharge.spec.fields["referral_status"].choices)
    assert sorted(states) == sorted(service.STATUSES)
    assert {s.name for s in referral.spec.states if s.final} == set(service.CLOSING)
    assert (
        referral.spec.fields["referral_kind"].choices
        == discharge.spec.fields["referral_kind"].choices
    )
    assert referral.spec.fields["referral_kind"].choices == KINDS


def test_route_roles_are_the_pathways(catalogue: PathwayCatalogue) -> None:
    loaded = catalogue.latest("referral")
    assert loaded is not None
    spec = loaded.spec
    assert set(spec.open_roles) == set(service.SEND_ROLES)
    withdraw = [t for t in spec.transitions if t.trigger == "withdraw"]
    assert [set(t.roles) for t in withdraw] == [set(service.SEND_ROLES)]
    for t in spec.transitions:
        if t.trigger != "withdraw":
            assert set(t.roles) == set(service.WORK_ROLES), t.trigger


def test_the_directory_is_checked(tmp_path: Path) -> None:
    shipped = load_partners(PROJECT_ROOT / "pathways" / "config")
    hub = shipped.find("LIV-CTH", "hub")
    assert hub is not None
    assert hub.name == "Liverpool care transfer hub"
    assert shipped.find("LIV-CTH", "provider") is None
    (tmp_path / "partners.yaml").write_text(
        "partners:\n"
        "  - {organisation: A1, name: One, kinds: [hub]}\n"
        "  - {organisation: A1, name: Again, kinds: [council]}\n"
    )
    with pytest.raises(PartnersConfigError, match="listed twice"):
        load_partners(tmp_path)
    (tmp_path / "partners.yaml").write_text(
        "partners:\n  - {organisation: A1, name: One, kinds: [hospice]}\n"
    )
    with pytest.raises(PartnersConfigError, match="kinds"):
        load_partners(tmp_path)
