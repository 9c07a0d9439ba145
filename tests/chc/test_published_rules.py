"""CHC rules held against the published definitions (PUBLISHED-RULES rows 24, 26, 27).

Each test quotes the wording it checks. The quarterly return (rows 28, 29) is in
test_quarterly_return.py; the RAG tiers (row 32) in test_rag_and_cohorts.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from app.chc.dst import DstIncomplete, evaluate_dst
from app.models import Case
from tests.chc.helpers import CFG, TEAM, ChcApi, checklist, dst

DST = CFG.tools.dst
NURSE = {
    "fast_track_clinician": "A Jones RN",
    "fast_track_clinician_profession": "registered_nurse",
}


def _levels(**given: str) -> dict[str, str]:
    return {d.key: given.get(d.key, "low") for d in DST.domains}


# -- row 24: DST levels -----------------------------------------------------------------------
def test_altered_states_of_consciousness_has_moderate_and_no_severe() -> None:
    """ASC "is one of four Priority-eligible domains and is unusual in skipping the Severe
    level": No needs, Low, Moderate, High, Priority. Moderate = "Occasional (monthly or less
    frequently) episodes of ASC that require the supervision of a carer or care worker to
    minimise the risk of harm." """
    [asc] = [d for d in DST.domains if d.key == "altered_states"]
    assert asc.levels == ("none", "low", "moderate", "high", "priority")
    outcome = evaluate_dst(_levels(altered_states="moderate"), DST)
    assert outcome.counts["moderate"] == 1
    assert outcome.result == "not_indicated"
    # Counted by the rules like any Moderate: with three High it makes "several High or
    # Moderate needs" (and the three High "several High needs").
    three_high = {"breathing": "high", "mobility": "high", "cognition": "high"}
    outcome = evaluate_dst(_levels(altered_states="moderate", **three_high), DST)
    assert (outcome.counts["moderate"], outcome.counts["high"]) == (1, 3)
    assert [f.id for f in outcome.fired] == ["several_high", "several_high_or_moderate"]
    without = evaluate_dst(_levels(altered_states="low", **three_high), DST)
    assert [f.id for f in without.fired] == ["several_high"]
    with pytest.raises(DstIncomplete, match="Altered states of consciousness: 'severe'"):
        evaluate_dst(_levels(altered_states="severe"), DST)


def test_dst_levels_per_domain_follow_the_published_table() -> None:
    """PUBLISHED-RULES §2.9, with one deliberate extra: "Other significant care needs" has Low,
    Moderate, High, Severe ("uniquely there is no 'No needs' entry"); HomeFirst keeps `none`
    there to record "nothing to add", and no rule counts it."""
    published = {
        "behaviour": "none low moderate high severe priority",
        "cognition": "none low moderate high severe",
        "psychological_emotional": "none low moderate high",
        "communication": "none low moderate high",
        "mobility": "none low moderate high severe",
        "nutrition": "none low moderate high severe",
        "continence": "none low moderate high",
        "skin_integrity": "none low moderate high severe",
        "breathing": "none low moderate high severe priority",
        "drug_therapies": "none low moderate high severe priority",
        "altered_states": "none low moderate high priority",
        "other_significant_care_needs": "low moderate high severe",
    }
    for domain in DST.domains:
        levels = [lv for lv in domain.levels if domain.key != "other_significant_care_needs"]
        extra = [lv for lv in domain.levels if lv not in published[domain.key].split()]
        if domain.key == "other_significant_care_needs":
            assert extra == ["none"]
            levels = [lv for lv in domain.levels if lv != "none"]
        assert levels == published[domain.key].split(), domain.key
    assert set(published) == {d.key for d in DST.domains}


def _to_full_assessment(api: ChcApi) -> int:
    case_id = api.open_chc({"person_name": "Edna Ward"})
    api.steps(
        case_id,
        ("allocate", {"allocated_to": "MDT 1"}),
        ("start_screening", {}),
        ("record_checklist", checklist(altered_states="A")),
        ("start_full_assessment", {}),
    )
    return case_id


def test_a_moderate_asc_score_is_recorded_and_shown(client: TestClient, make_user) -> None:
    """A lawful Moderate ASC score is accepted by the pathway and counted by the DST rule."""
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = _to_full_assessment(api)
    three_high = {"breathing": "high", "mobility": "high", "cognition": "high"}
    data = dst(altered_states="moderate", **three_high)
    body = api.fire(case_id, "record_dst", data=data).json()
    assert body["case"]["attributes"]["dst_altered_states"] == "moderate"
    indicative = api.chc_case(case_id)["dst"]
    assert indicative["result"] == "judgement_needed"
    assert [f["id"] for f in indicative["fired"]] == ["several_high", "several_high_or_moderate"]
    r = api.fire(case_id, "record_dst", expect=422, data=dst(altered_states="severe"))
    assert r.json()["code"] == "validation_failed"
    assert [e["field"] for e in r.json()["errors"]] == ["dst_altered_states"]


# -- row 26: Fast Track -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"fast_track_reason": "end of life"}, "fast_track_clinician"),
        ({"fast_track_clinician": "Dr A Patel"}, "fast_track_clinician_profession"),
        (
            {"fast_track_clinician": "J Bloggs", "fast_track_clinician_profession": "paramedic"},
            "fast_track_clinician_profession",
        ),
        (
            {
                "fast_track_clinician": "J Bloggs",
                "fast_track_clinician_profession": "social_worker",
            },
            "fast_track_clinician_profession",
        ),
    ],
)
def test_fast_track_needs_the_appropriate_clinician_and_their_registration(
    client: TestClient, make_user, data: dict[str, Any], field: str
) -> None:
    """An 'appropriate clinician' is "responsible for the diagnosis, treatment or care of the
    individual ... and ... a registered nurse or a registered medical practitioner"."""
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = api.open_chc({"person_name": "Ada Lowe"})
    r = api.fire(case_id, "fast_track", expect=422, data=data)
    body = r.json()
    assert body["code"] == "validation_failed"
    assert field in [e["field"] for e in body["errors"]]
    assert api.chc_case(case_id)["state"] == "referred"
    for profession in ("registered_nurse", "registered_medical_practitioner"):
        other = api.open_chc({"person_name": "Ada Lowe"})
        ok = api.fire(
            other,
            "fast_track",
            data={
                "fast_track_clinician": "A Clinician",
                "fast_track_clinician_profession": profession,
            },
        ).json()
        assert ok["case"]["state"] == "fast_track"
        assert ok["case"]["attributes"]["fast_track_clinician_profession"] == profession


# -- row 27: reviews and reassessment -----------------------------------------------------------
def _eligible_under_review(api: ChcApi) -> int:
    case_id = api.open_chc({"person_name": "Walter Hughes"})
    api.steps(
        case_id,
        ("fast_track", NURSE),
        ("accept_fast_track", {"decision_outcome": "chc_eligible"}),
        ("transition_funding", {"funding_effective_date": "2026-01-05"}),
        ("schedule_review", {}),
    )
    return case_id


def test_a_review_cannot_end_eligibility_only_a_reassessment_decision_can(
    client: TestClient, make_user
) -> None:
    """ "Eligibility cannot be determined at a Review"; a reassessment needs a new DST by an MDT,
    then the ICB's decision."""
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = _eligible_under_review(api)
    r = api.fire(
        case_id, "complete_review", expect=422, data={"review_outcome": "no_longer_eligible"}
    )
    assert [e["field"] for e in r.json()["errors"]] == ["review_outcome"]

    # The review finds needs may have changed: reassessment, with the old DST off the case.
    body = api.fire(
        case_id, "start_reassessment", data={"reassessment_reason": "needs much reduced"}
    ).json()
    assert body["case"]["state"] == "reassessment"
    r = api.fire(case_id, "decide_reassessment", expect=409, data={"decision_outcome": "fnc"})
    assert r.json()["code"] == "guard_rejected"
    assert any(reason.startswith("Record the DST first") for reason in r.json()["reasons"])

    api.fire(case_id, "record_dst", data=dst())  # Low everywhere: eligibility not indicated
    body = api.fire(
        case_id,
        "decide_reassessment",
        data={"decision_outcome": "fnc", "decision_rationale": "nursing needs only"},
    ).json()
    assert body["case"]["state"] == "decided"
    assert body["case"]["attributes"]["decision_outcome"] == "fnc"
    # From there the decision can be challenged like any other.
    allowed = {a["event"] for a in api.get(case_id).json()["allowed_events"] if a["allowed"]}
    assert {"dispute", "close", "transition_funding"} <= allowed


def test_a_reassessment_can_confirm_eligibility_and_reviews_go_on(
    client: TestClient, make_user
) -> None:
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = _eligible_under_review(api)
    api.fire(case_id, "start_reassessment", data={"reassessment_reason": "new falls"})
    api.fire(case_id, "record_dst", data=dst(breathing="priority"))
    r = api.fire(case_id, "decide_reassessment", expect=409, data={"decision_outcome": "fnc"})
    assert any("record decision_rationale" in reason for reason in r.json()["reasons"])
    body = api.fire(
        case_id, "decide_reassessment", data={"decision_outcome": "chc_eligible"}
    ).json()
    assert body["case"]["state"] == "review_scheduled"
    assert body["case"]["attributes"]["review_due_date"]


def test_cases_on_pathway_version_1_keep_their_rules_and_stay_readable(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    """A case opened before version 2 carries on with version 1 (its review outcomes and its
    Fast Track without a profession), and is still read and replayed."""
    api = ChcApi(client, make_user(*TEAM).headers)
    case_id = api.open_chc({"person_name": "Mary Old"})
    with sessions.begin() as session:  # as if version 2 had been published after it opened
        session.execute(update(Case).where(Case.id == case_id).values(workflow_version=1))
    api.steps(
        case_id,
        ("fast_track", {"fast_track_clinician": "Dr Old"}),
        ("accept_fast_track", {"decision_outcome": "chc_eligible"}),
        ("transition_funding", {"funding_effective_date": "2026-01-05"}),
        ("schedule_review", {}),
        ("complete_review", {"review_outcome": "no_longer_eligible"}),
    )
    read = api.get(case_id).json()
    assert (read["workflow_version"], read["state"]) == (1, "review_scheduled")
    assert api.chc_case(case_id)["state"] == "review_scheduled"
    # Every event after the switch is written on version 1 (the open event, append-only, keeps
    # the version it was written with).
    assert [e["pathway_version"] for e in api.history(case_id)][1:] == [1] * 5
