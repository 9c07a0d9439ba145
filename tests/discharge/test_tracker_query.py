"""The tracker's query against a hand-built ward: who is on it, what each row says, every
filter, every sort, paging, the count, the filter options, scoping and the grant levels."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.auth.access import Grant
from app.codelists.loader import CodeSetRegistry
from app.discharge.tracker import (
    SORT_KEYS,
    TrackerPage,
    TrackerQuery,
    Vocabulary,
    tracker_options,
    tracker_page,
    vocabulary,
)
from app.engine.catalogue import PathwayCatalogue
from app.errors import ValidationFailed
from app.timeutil import utcnow
from tests.discharge.helpers import today
from tests.discharge.tracker_ward import Ward

FULL = Grant("rfd.read", "full")


@pytest.fixture(scope="module")
def ward(client: TestClient, make_user_module: Any) -> Ward:
    return Ward(client, make_user_module)


@pytest.fixture(scope="module")
def vocab(catalogue: PathwayCatalogue) -> Vocabulary:
    return vocabulary(catalogue)


@pytest.fixture
def read(sessions: sessionmaker[Session], codes: CodeSetRegistry, vocab: Vocabulary, ward: Ward):
    def _read(grant: Grant = FULL, org: str | None = None, **query: Any) -> TrackerPage:
        with sessions() as session:
            return tracker_page(
                session,
                TrackerQuery(**query),
                organisation=org or ward.org,
                grant=grant,
                vocab=vocab,
                codes=codes,
                now=utcnow(),
            )

    return _read


def names(ward: Ward, page: TrackerPage) -> list[str]:
    return [ward.name(r.case_id) for r in page.rows]


INPATIENTS = {"ada", "ben", "cy", "di", "flo", "shared"}


def test_every_inpatient_in_scope_and_nobody_else(ward: Ward, read) -> None:  # noqa: ANN001
    page = read(page_size=100)
    assert set(names(ward, page)) == INPATIENTS
    assert page.count == len(INPATIENTS)
    # Another organisation's own case is not there; from its side, the shared one is its own.
    other = read(org=f"ORG-{uuid.uuid4().hex[:8]}")
    assert (other.count, other.rows) == (0, [])


def test_what_a_row_says(ward: Ward, read) -> None:  # noqa: ANN001
    rows = {ward.name(r.case_id): r for r in read(page_size=100).rows}
    ada = rows["ada"]
    day = today()
    assert (ada.patient_ref, ada.site, ada.ward, ada.state) == (
        ward.nhs["ada"],
        ward.site_a,
        "Ward 7",
        "awaiting_support",
    )
    assert ada.meets_criteria is False
    assert ada.not_meeting_since is not None
    assert ada.discharge_ready_date == day - timedelta(days=6)
    assert ada.days_delayed == 6
    assert (ada.planned_pathway, ada.responsible_person) == ("P1", "Nurse Ada")
    assert ada.expected_discharge_date == date.fromisoformat(ward.edd)
    assert (ada.escalated, ada.escalation_reason) == (True, "6 days, no package")
    assert [(d.code, d.label, d.marked_primary) for d in ada.delays] == [
        (
            "capacity-p1-services",
            # The 2024 list's label (pathways/codelists/delay-reasons-acute-2024.yaml).
            "Capacity – Home-based rehabilitation, reablement or recovery services not yet "
            "available (Pathway 1)",
            False,
        )
    ]
    cy = rows["cy"]
    assert [(d.code, d.marked_primary) for d in cy.delays] == [
        ("hospital-medical-review", False),
        ("capacity-residential-nursing-home", True),
    ]
    assert (cy.days_delayed, cy.planned_pathway, cy.escalated) == (15, "P3", False)
    di = rows["di"]
    assert (di.state, di.meets_criteria, di.not_meeting_since) == ("assessing", True, None)
    assert (di.discharge_ready_date, di.days_delayed, di.delays) == (None, None, [])
    flo = rows["flo"]
    assert (flo.state, flo.meets_criteria, flo.planned_pathway) == ("referred", True, None)
    assert (flo.expected_discharge_date, flo.escalated, flo.escalation_reason) == (
        None,
        False,
        None,
    )
    assert rows["shared"].days_delayed == 1


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"site": "A"}, {"ada", "ben", "flo"}),
        ({"site": "B"}, {"cy", "di", "shared"}),
        ({"ward": "Ward 9"}, {"ben", "di"}),
        ({"site": "B", "ward": "Ward 9"}, {"di"}),
        ({"pathway": "P1"}, {"ada"}),
        ({"pathway": "P3"}, {"cy"}),
        ({"pathway": "none"}, {"ben", "flo", "shared"}),
        ({"state": "awaiting_support"}, {"ada", "cy"}),
        ({"state": "ready_for_discharge"}, {"ben", "shared"}),
        ({"state": "referred"}, {"flo"}),
        ({"escalated": True}, {"ada"}),
        ({"escalated": False}, {"ben", "cy", "di", "flo", "shared"}),
        ({"min_days": 0}, {"ada", "ben", "cy", "shared"}),
        ({"min_days": 6}, {"ada", "cy"}),
        ({"min_days": 7}, {"cy"}),
        ({"max_days": 2}, {"ben", "shared"}),
        ({"min_days": 2, "max_days": 6}, {"ada", "ben"}),
        ({"escalated": False, "min_days": 2, "site": "A"}, {"ben"}),
    ],
)
def test_each_filter(ward: Ward, read, query: dict[str, Any], expected: set[str]) -> None:  # noqa: ANN001
    sites = {"A": ward.site_a, "B": ward.site_b}
    if "site" in query:
        query = {**query, "site": sites[query["site"]]}
    page = read(page_size=100, **query)
    assert set(names(ward, page)) == expected
    assert page.count == len(expected)


def _value(row: Any, key: str) -> Any:
    return {"delays": len(row.delays)}.get(key, getattr(row, key, None))


@pytest.mark.parametrize("key", SORT_KEYS)
@pytest.mark.parametrize("descending", [False, True])
def test_each_sort(ward: Ward, read, vocab: Vocabulary, key: str, descending: bool) -> None:  # noqa: ANN001
    """The rows come in the order of the key, empty values last either way, ties by case id."""
    rows = read(page_size=100, sort=("-" if descending else "") + key).rows
    rank = {s: i for i, s in enumerate(vocab.states)}

    def comparable(row: Any) -> Any:
        value = _value(row, key)
        if key == "state":
            return rank[value]
        if key in ("ward", "responsible_person") and value is not None:
            return value.lower()
        return value

    present = [r for r in rows if comparable(r) is not None]
    missing = [r for r in rows if comparable(r) is None]
    assert len(present) > 1
    assert rows == present + missing
    assert [r.case_id for r in missing] == sorted(r.case_id for r in missing)
    # Python's sort is stable in both directions: ties keep case ids ascending.
    expected = sorted(present, key=lambda r: r.case_id)
    expected.sort(key=comparable, reverse=descending)
    assert [r.case_id for r in present] == [r.case_id for r in expected]


def test_days_delayed_sort_by_hand(ward: Ward, read) -> None:  # noqa: ANN001
    # Most delayed first; those meeting the criteria (no DRD) last, by case id.
    assert names(ward, read(page_size=100)) == ["cy", "ada", "ben", "shared", "di", "flo"]
    assert names(ward, read(page_size=100, sort="days_delayed")) == [
        "shared",
        "ben",
        "ada",
        "cy",
        "di",
        "flo",
    ]
    assert names(ward, read(page_size=100, sort="-escalated"))[0] == "ada"
    assert names(ward, read(page_size=100, sort="state"))[:1] == ["flo"]


def test_pages_cover_every_row_once_with_the_same_count(ward: Ward, read) -> None:  # noqa: ANN001
    whole = read(page_size=100, sort="ward")
    seen: list[int] = []
    for number in (1, 2, 3):
        page = read(page_size=2, page=number, sort="ward")
        assert (page.count, page.page, page.pages) == (6, number, 3)
        assert len(page.rows) == 2
        seen += [r.case_id for r in page.rows]
    assert seen == [r.case_id for r in whole.rows]
    beyond = read(page_size=2, page=4)
    assert (beyond.count, beyond.rows) == (6, [])


def test_grant_levels(ward: Ward, read) -> None:  # noqa: ANN001
    full = read(page_size=100)
    assert {ward.name(r.case_id): r.patient_ref for r in full.rows} == ward.nhs
    anonymous = read(Grant("rfd.read", "no_identifiers"), page_size=100)
    assert [r.case_id for r in anonymous.rows] == [r.case_id for r in full.rows]
    assert {r.patient_ref for r in anonymous.rows} == {None}
    # Everything else is the same row.
    assert [r.model_dump(exclude={"patient_ref"}) for r in anonymous.rows] == [
        r.model_dump(exclude={"patient_ref"}) for r in full.rows
    ]
    shared_only = read(Grant("rfd.read", "shared_only"), page_size=100)
    assert (names(ward, shared_only), shared_only.count) == (["shared"], 1)
    assert shared_only.rows[0].patient_ref == ward.nhs["shared"]


def test_filter_options(ward: Ward, sessions: sessionmaker[Session], vocab: Vocabulary) -> None:
    with sessions() as session:
        options = tracker_options(session, organisation=ward.org, grant=FULL, vocab=vocab)
        shared = tracker_options(
            session, organisation=ward.org, grant=Grant("rfd.read", "shared_only"), vocab=vocab
        )
    assert options.total == 6
    assert [(o.value, o.count) for o in options.sites] == sorted(
        [(ward.site_a, 3), (ward.site_b, 3)]
    )
    assert [(o.site, o.ward, o.count) for o in options.wards] == sorted(
        [
            (ward.site_a, "Ward 7", 2),  # Ada and Flo (the helper's default ward)
            (ward.site_a, "Ward 9", 1),
            (ward.site_b, "Ward 2", 1),
            (ward.site_b, "Ward 7", 1),
            (ward.site_b, "Ward 9", 1),
        ]
    )
    assert [(o.value, o.count) for o in options.states] == [
        ("referred", 1),
        ("assessing", 1),
        ("ready_for_discharge", 2),
        ("awaiting_support", 2),
    ]
    assert [(o.value, o.count) for o in options.pathways] == [
        ("P0", 1),
        ("P1", 1),
        ("P3", 1),
        ("none", 3),
    ]
    assert (shared.total, [o.value for o in shared.sites]) == (1, [ward.site_b])


def test_vocabulary_is_the_pathways(vocab: Vocabulary) -> None:
    assert list(vocab.states) == [
        "referred",
        "assessing",
        "ready_for_discharge",
        "awaiting_support",
    ]
    assert vocab.pathways == ("P0", "P1", "P2", "P3", "P3b")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"sort": "patient_ref"}, "sort"),
        ({"sort": "-nonsense"}, "sort"),
        ({"state": "discharged"}, "state"),
        ({"pathway": "P9"}, "pathway"),
        ({"min_days": -1}, "min_days"),
        ({"max_days": 10_001}, "max_days"),
        ({"page": 0}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 5001}, "page_size"),
    ],
)
def test_bad_queries_are_refused_naming_the_field(
    ward: Ward, read, query: dict[str, Any], field: str
) -> None:  # noqa: ANN001
    with pytest.raises(ValidationFailed) as refused:
        read(**query)
    assert set(refused.value.extra["problems"]) == {field}
