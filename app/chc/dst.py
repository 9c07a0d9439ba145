"""The Decision Support Tool's indicative recommendation (docs/domain.md §7.4).

Eligibility is *expected* with one Priority or two or more Severe needs. A primary health need
*may* also be shown by one Severe plus other needs, or by several High or Moderate needs; that
calls for judgement on nature, intensity, complexity and unpredictability. It is not a points
total, and this function never decides: it returns the indicative result with the rule that
fired, and a person with the decision-maker role records the decision.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from app.chc.checklist import FiredRule
from app.chc.config import DstRule, DstTable

DstResult = Literal["eligibility_expected", "judgement_needed", "not_indicated"]
_AT_OR_ABOVE_MODERATE = {"moderate", "high", "severe", "priority"}


@dataclass(frozen=True)
class DstOutcome:
    result: DstResult
    fired: tuple[FiredRule, ...]
    counts: dict[str, int]
    summary: str


class DstIncomplete(ValueError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def evaluate_dst(levels: Mapping[str, str | None], table: DstTable) -> DstOutcome:
    """Indicative DST recommendation for `levels` (domain key -> level name)."""
    problems: list[str] = []
    for domain in table.domains:
        level = levels.get(domain.key)
        if level is None:
            problems.append(f"{domain.label}: no level recorded")
        elif level not in domain.levels:
            problems.append(
                f"{domain.label}: {level!r} is not a level of this domain "
                f"({', '.join(domain.levels)})"
            )
    known = {d.key for d in table.domains}
    problems += [f"{k}: not a DST domain" for k in levels if k not in known]
    if problems:
        raise DstIncomplete(problems)

    counts = Counter(str(levels[d.key]) for d in table.domains)
    by_level = {
        lv: tuple(d.label for d in table.domains if levels[d.key] == lv)
        for lv in ("priority", "severe")
    }
    tally = {lv: counts.get(lv, 0) for lv in table.levels}
    expected = [_fire(r, by_level) for r in table.expected if _holds(r, tally)]
    if expected:
        return DstOutcome(
            "eligibility_expected",
            tuple(expected),
            tally,
            "eligibility expected: " + "; ".join(f.text for f in expected),
        )
    possible = [_fire(r, by_level) for r in table.possible if _holds(r, tally)]
    if possible:
        return DstOutcome(
            "judgement_needed",
            tuple(possible),
            tally,
            "a primary health need may be shown (judge nature, intensity, complexity and "
            "unpredictability): " + "; ".join(f.text for f in possible),
        )
    return DstOutcome(
        "not_indicated",
        (),
        tally,
        "eligibility not indicated by the DST rule: no Priority, fewer than 2 Severe",
    )


def _holds(rule: DstRule, tally: dict[str, int]) -> bool:
    severe, priority = tally.get("severe", 0), tally.get("priority", 0)
    high, moderate = tally.get("high", 0), tally.get("moderate", 0)
    at_or_above_moderate = sum(tally.get(lv, 0) for lv in _AT_OR_ABOVE_MODERATE)
    return (
        priority >= rule.min_priority
        and severe >= rule.min_severe
        and high >= rule.min_high
        and high + moderate >= rule.min_high_or_moderate
        # "other" domains: those at moderate or above besides the Severe ones the rule counts
        and at_or_above_moderate - rule.min_severe >= rule.min_other_at_or_above_moderate
    )


def _fire(rule: DstRule, by_level: dict[str, tuple[str, ...]]) -> FiredRule:
    named = []
    if rule.min_priority:
        named = list(by_level["priority"])
    elif rule.min_severe:
        named = list(by_level["severe"])
    suffix = f" ({', '.join(named)})" if named else ""
    return FiredRule(rule.id, rule.text + suffix)
