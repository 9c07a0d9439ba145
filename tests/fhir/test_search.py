"""Search by every parameter, and paging across pages, on data built once per backend.

The organisation has seven hospital spells: one from March 2025 (admitted 1 March 09:00,
discharged 9 March 12:00, London time, which is UTC then), one discharged yesterday and five in
hospital; plus IC episodes, a CHC claim and an escalation for the other resource types.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from tests.discharge.helpers import NHS, TEAM, fire
from tests.fhir.helpers import (
    BASE,
    Fhir,
    claimed_chc,
    discharged,
    ids,
    link,
    local,
    spell,
    waiting_episode,
)
from tests.hardening.conftest import serve
from tests.helpers import Api
from tests.ic.helpers import IC_TEAM, fresh_site

SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
WHY = "entered from the paper notes"


@dataclass
class World:
    fhir: Fhir
    api: Api
    old: int  # March 2025, finished
    recent: int  # discharged yesterday
    inpatients: list[int]
    changed: int  # the one case changed after `mark`
    mark: datetime
    waiting: int  # IC waiting for capacity
    claimed: int  # CHC claimed
    escalated: int

    @property
    def encounters(self) -> list[str]:
        return [str(c) for c in sorted([self.old, self.recent, *self.inpatients])]


def _march_2025_spell(api: Api, nhs: str, site: str) -> int:
    data = {"hospital_system": "LUHFT", "ward": "Ward 1", "admitted_at": "2025-03-01T09:00:00Z"}
    r = api.create(
        "discharge",
        site=site,
        patient_ref=nhs,
        data=data,
        occurred_at="2025-03-01T10:00:00Z",
        reason=WHY,
    )
    case_id = int(r.json()["id"])
    fire(api, case_id, "not_meeting_ctr", occurred_at="2025-03-05T12:00:00Z", reason=WHY)
    body = {"discharge_pathway": "P0", "destination_code": "19"}
    fire(api, case_id, "discharge", data=body, occurred_at="2025-03-09T12:00:00Z", reason=WHY)
    return case_id


@pytest.fixture(scope="module")
def world(client: TestClient, make_user_module) -> World:  # noqa: ANN001
    user = make_user_module(*TEAM, "chc_assessor", "manager", *IC_TEAM)
    api, site = Api(client, user.headers), fresh_site()
    old = _march_2025_spell(api, NHS[0], site)
    recent = discharged(api, NHS[1], site=site)
    inpatients = [spell(api, NHS[n], site=site) for n in range(2, 7)]
    waiting = waiting_episode(client, user.headers, NHS[7])
    claimed = claimed_chc(client, user.headers, NHS[8])
    fire(api, inpatients[0], "raise_escalation", data={"escalation_reason": "No bed"})
    time.sleep(1.1)
    mark = datetime.now(UTC).replace(microsecond=0)
    fire(api, inpatients[-1], "update_details", data={"responsible_person": "Ann"})
    return World(
        Fhir(client, user.headers),
        api,
        old,
        recent,
        inpatients,
        inpatients[-1],
        mark,
        waiting,
        claimed,
        inpatients[0],
    )


def test_paging_walks_every_match_forwards_and_backwards(world: World) -> None:
    found, bundles = world.fhir.all_pages("Encounter", _count=3)
    assert found == world.encounters
    assert [len(b.get("entry", [])) for b in bundles] == [3, 3, 1]
    assert {b["total"] for b in bundles} == {7}
    assert {b["type"] for b in bundles} == {"searchset"}
    assert link(bundles[0], "previous") is None
    assert link(bundles[-1], "next") is None
    assert local(str(link(bundles[0], "self"))) == f"{BASE}/Encounter?_count=3"
    # Back from the last page: the middle page again, then the first.
    back = world.fhir.get(local(str(link(bundles[2], "previous")))).json()
    assert ids(back) == ids(bundles[1])
    first = world.fhir.get(local(str(link(back, "previous")))).json()
    assert ids(first) == ids(bundles[0])
    assert link(first, "previous") is None
    assert ids(world.fhir.get(local(str(link(first, "next")))).json()) == ids(bundles[1])
    # Filters travel with the links.
    found, bundles = world.fhir.all_pages("Encounter", status="in-progress", _count=2)
    assert found == [str(c) for c in world.inpatients]
    assert all("status=in-progress" in str(link(b, "self")) for b in bundles)


def test_count_zero_gives_the_total_only(world: World) -> None:
    bundle = world.fhir.search("Encounter", _count=0)
    assert (bundle["total"], "entry" in bundle, link(bundle, "next")) == (7, False, None)


def test_the_page_size_is_capped_at_the_servers(settings: Settings, world: World) -> None:
    with serve(settings, max_page_size=2) as small:
        fhir = Fhir(small, world.fhir.headers)
        bundle = fhir.search("Encounter", _count=50)
        assert len(bundle["entry"]) == 2
        assert link(bundle, "next") is not None
        assert fhir.all_pages("Encounter", _count=50)[0] == world.encounters


@pytest.mark.parametrize(
    "value",
    [f"{SYSTEM}|{NHS[3]}", f"|{NHS[3]}", NHS[3]],
)
def test_patient_identifier_by_nhs_number(world: World, value: str) -> None:
    assert ids(world.fhir.search("Encounter", **{"patient.identifier": value})) == [
        str(world.inpatients[1])
    ]


def test_patient_identifier_any_of_several_and_on_every_type(world: World) -> None:
    several = f"{NHS[0]},{SYSTEM}|{NHS[1]}"
    assert ids(world.fhir.search("Encounter", **{"patient.identifier": several})) == [
        str(world.old),
        str(world.recent),
    ]
    assert ids(world.fhir.search("EpisodeOfCare", **{"patient.identifier": NHS[7]})) == [
        str(world.waiting)
    ]
    assert ids(world.fhir.search("Task", **{"patient.identifier": NHS[8]})) == [
        f"{world.claimed}-claim"
    ]
    assert ids(world.fhir.search("Flag", **{"patient.identifier": NHS[2]})) == [
        f"{world.escalated}-escalation"
    ]
    assert ids(world.fhir.search("Flag", **{"patient.identifier": NHS[3]})) == []


def test_status(world: World) -> None:
    def search(resource: str, status: str) -> list[str]:
        return world.fhir.all_pages(resource, status=status)[0]

    finished = [str(world.old), str(world.recent)]
    assert search("Encounter", "finished") == finished
    assert search("Encounter", "in-progress") == [str(c) for c in world.inpatients]
    assert search("Encounter", "finished,in-progress") == world.encounters
    assert search("Encounter", "cancelled") == []
    assert search("EpisodeOfCare", "waitlist") == sorted(
        [str(world.waiting), str(world.claimed)], key=int
    )
    assert search("EpisodeOfCare", "active") == []
    assert search("Task", "ready") == [f"{world.waiting}-start"]
    assert search("Task", "in-progress") == [f"{world.claimed}-claim"]
    assert search("Flag", "active") == [f"{world.escalated}-escalation"]


@pytest.mark.parametrize(
    ("dates", "wanted"),
    [
        (["lt2025-03-01"], "none"),
        (["le2025-03-01"], "old"),
        (["eq2025-03"], "old"),
        (["eq2025"], "old"),
        (["2025-03"], "old"),  # no prefix: eq
        (["eq2025-03-05"], "none"),  # the spell does not lie within one day
        (["ge2025-03-09"], "all"),
        (["gt2025-03-09"], "all but old"),
        (["ge2025-03-09T12:00:00Z"], "all"),
        (["gt2025-03-09T12:00:00Z"], "all but old"),
        (["ge2025-03-09T12:00:00+01:00"], "all"),
        (["ge2025-01-01", "le2025-12-31"], "old"),
        (["ge2025-03-10", "le2025-12-31"], "none"),
    ],
)
def test_date_on_the_encounter_period(world: World, dates: list[str], wanted: str) -> None:
    expected = {
        "none": [],
        "old": [str(world.old)],
        "all": world.encounters,
        "all but old": [e for e in world.encounters if e != str(world.old)],
    }[wanted]
    assert world.fhir.all_pages("Encounter", date=dates)[0] == expected


def test_date_and_period_on_the_other_types(world: World) -> None:
    today = datetime.now(UTC).date().isoformat()
    everything = world.fhir.all_pages("EpisodeOfCare")[0]
    assert world.fhir.all_pages("EpisodeOfCare", date=f"ge{today}")[0] == everything
    assert world.fhir.all_pages("EpisodeOfCare", date="lt2025-01-01")[0] == []
    tasks = world.fhir.all_pages("Task")[0]
    assert world.fhir.all_pages("Task", period="ge2100-01-01")[0] == tasks  # open work goes on
    assert world.fhir.all_pages("Task", period="lt2025-01-01")[0] == []
    assert world.fhir.all_pages("Flag", date="le2100-01-01")[0] == [f"{world.escalated}-escalation"]
    assert world.fhir.all_pages("Flag", date="lt2025-01-01")[0] == []


def test_last_updated(world: World) -> None:
    def search(**params: Any) -> list[str]:
        return world.fhir.all_pages("Encounter", **params)[0]

    second = world.mark.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert search(_lastUpdated=f"ge{second}") == [str(world.changed)]
    assert search(_lastUpdated=f"lt{second}") == [
        e for e in world.encounters if e != str(world.changed)
    ]
    assert search(_lastUpdated="gt2100") == []
    assert search(_lastUpdated=["ge2025-01-01", "le2100-01-01"]) == world.encounters
    assert world.fhir.all_pages("EpisodeOfCare", _lastUpdated=f"ge{second}")[0] == []


def test_parameters_combine(world: World) -> None:
    assert world.fhir.all_pages("Encounter", status="finished", date="ge2025-06-01")[0] == [
        str(world.recent)
    ]
    both = f"{NHS[0]},{NHS[2]}"
    assert world.fhir.all_pages("Encounter", status="in-progress", **{"patient.identifier": both})[
        0
    ] == [str(world.inpatients[0])]
    assert world.fhir.all_pages("Encounter", status="finished", date="lt2025-03-02")[0] == [
        str(world.old)
    ]
