"""Checklist and DST indicative rules (docs/domain.md §7.3, §7.4): the national threshold tables."""

from __future__ import annotations

import pytest

from app.chc.checklist import ChecklistIncomplete, evaluate_checklist
from app.chc.consistency import consistency_problems
from app.chc.dst import DstIncomplete, evaluate_dst
from app.engine.catalogue import PathwayCatalogue
from tests.chc.helpers import CFG, CHECKLIST_KEYS, DST_KEYS

TABLE = CFG.tools.checklist
FIVE_DOMAINS = ("mobility", "nutrition", "continence", "cognition", "communication")


def scores(**given: str) -> dict[str, str | None]:
    return {k: given.get(k, "C") for k in CHECKLIST_KEYS}


def levels(**given: str) -> dict[str, str | None]:
    return {k: given.get(k, "low") for k in DST_KEYS}


# The worked table of docs/domain.md §7.3, plus the edges either side of each threshold.
@pytest.mark.parametrize(
    ("given", "result", "fired"),
    [
        ({"mobility": "A", "nutrition": "A"}, "full_assessment_required", ["two_or_more_a"]),
        (
            dict.fromkeys(FIVE_DOMAINS, "B"),
            "full_assessment_required",
            ["five_or_more_b"],
        ),
        (
            {
                "mobility": "A",
                "nutrition": "B",
                "continence": "B",
                "cognition": "B",
                "skin_integrity": "B",
            },
            "full_assessment_required",
            ["one_a_four_b"],
        ),
        ({"breathing": "A"}, "full_assessment_required", ["a_in_priority_domain"]),
        (
            {"mobility": "A", "nutrition": "B", "continence": "B", "cognition": "B"},
            "full_assessment_not_indicated",
            [],
        ),
        (
            dict.fromkeys(("mobility", "nutrition", "continence", "cognition"), "B"),
            "full_assessment_not_indicated",
            [],
        ),
        ({}, "full_assessment_not_indicated", []),
        (
            {"behaviour": "A", "drug_therapies": "A"},
            "full_assessment_required",
            ["two_or_more_a", "a_in_priority_domain"],
        ),
    ],
)
def test_checklist_thresholds(given: dict[str, str], result: str, fired: list[str]) -> None:
    outcome = evaluate_checklist(scores(**given), TABLE)
    assert outcome.result == result
    assert [f.id for f in outcome.fired] == fired


def test_checklist_names_the_rule_and_the_domains() -> None:
    outcome = evaluate_checklist(scores(altered_states="A"), TABLE)
    assert outcome.summary == (
        "full assessment required: an A in a domain that carries a Priority level in the DST "
        "(Altered states of consciousness) [1 A, 0 B]"
    )
    negative = evaluate_checklist(scores(mobility="A", nutrition="B"), TABLE)
    assert negative.summary == "full assessment not indicated: no threshold met [1 A, 1 B]"


def test_checklist_refuses_gaps_and_unknown_scores() -> None:
    given = scores(breathing="D")
    given["mobility"] = None
    with pytest.raises(ChecklistIncomplete) as err:
        evaluate_checklist({**given, "hearing": "A"}, TABLE)
    assert err.value.problems == [
        "Breathing: 'D' is not one of A, B, C",
        "Mobility: not scored",
        "hearing: not a Checklist domain",
    ]


def test_checklist_has_eleven_domains_and_four_priority_domains() -> None:
    assert len(TABLE.domains) == 11
    assert [d.key for d in TABLE.domains if d.priority] == [
        "breathing",
        "behaviour",
        "drug_therapies",
        "altered_states",
    ]


@pytest.mark.parametrize(
    ("given", "result", "fired"),
    [
        ({"breathing": "priority"}, "eligibility_expected", ["one_priority"]),
        ({"altered_states": "priority"}, "eligibility_expected", ["one_priority"]),
        (
            {"mobility": "severe", "nutrition": "severe"},
            "eligibility_expected",
            ["two_or_more_severe"],
        ),
        (
            {"behaviour": "priority", "mobility": "severe", "skin_integrity": "severe"},
            "eligibility_expected",
            ["one_priority", "two_or_more_severe"],
        ),
        (
            {"mobility": "severe", "continence": "moderate"},
            "judgement_needed",
            ["one_severe_plus_other_needs"],
        ),
        ({"mobility": "high", "cognition": "high"}, "judgement_needed", ["several_high"]),
        (
            dict.fromkeys(("mobility", "cognition", "continence", "nutrition"), "moderate"),
            "judgement_needed",
            ["several_high_or_moderate"],
        ),
        ({"mobility": "severe"}, "not_indicated", []),
        ({"mobility": "high", "cognition": "moderate"}, "not_indicated", []),
        ({}, "not_indicated", []),
    ],
)
def test_dst_indicative_rule(given: dict[str, str], result: str, fired: list[str]) -> None:
    outcome = evaluate_dst(levels(**given), CFG.tools.dst)
    assert outcome.result == result
    assert [f.id for f in outcome.fired] == fired


def test_dst_is_not_a_points_total_and_names_the_domain() -> None:
    # Eleven High needs are many points, but no Priority and no Severe: judgement, not expected.
    many = evaluate_dst(levels(**{k: "high" for k in DST_KEYS if k != "continence"}), CFG.tools.dst)
    assert many.result == "judgement_needed"
    one = evaluate_dst(levels(breathing="priority"), CFG.tools.dst)
    assert one.summary == "eligibility expected: a Priority need (Breathing)"
    assert one.counts["priority"] == 1
    assert one.counts["low"] == 11


def test_dst_refuses_levels_a_domain_does_not_have() -> None:
    with pytest.raises(DstIncomplete) as err:
        evaluate_dst(levels(mobility="priority", continence="severe"), CFG.tools.dst)
    assert err.value.problems == [
        "Continence: 'severe' is not a level of this domain (none, low, moderate, high)",
        "Mobility: 'priority' is not a level of this domain (none, low, moderate, high, severe)",
    ]


def test_configuration_agrees_with_the_pathway(catalogue: PathwayCatalogue) -> None:
    loaded = catalogue.latest("chc")
    assert loaded is not None
    assert consistency_problems(CFG, loaded.spec) == []
    assert CFG.tools.status == CFG.rag.status == CFG.local.status == "provisional"
