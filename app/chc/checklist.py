"""The CHC Checklist's indicative result: is a full assessment needed? (docs/domain.md §7.3)

A pure function over the domain scores and a versioned threshold table. It returns the result
and every threshold that fired, so the screen can say *why*; it never decides anything. A person
records whether the case goes on to a full assessment (docs/domain.md §7.4 design rule).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from app.chc.config import ChecklistTable

ChecklistResult = Literal["full_assessment_required", "full_assessment_not_indicated"]


@dataclass(frozen=True)
class FiredRule:
    id: str
    text: str


@dataclass(frozen=True)
class ChecklistOutcome:
    result: ChecklistResult
    fired: tuple[FiredRule, ...]
    a_domains: tuple[str, ...]
    b_domains: tuple[str, ...]
    summary: str

    @property
    def positive(self) -> bool:
        return self.result == "full_assessment_required"


class ChecklistIncomplete(ValueError):
    """Some domains are unscored or carry a score the form does not have."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


def evaluate_checklist(scores: Mapping[str, str | None], table: ChecklistTable) -> ChecklistOutcome:
    """Indicative Checklist result for `scores` (domain key -> "A" | "B" | "C")."""
    problems: list[str] = []
    for domain in table.domains:
        score = scores.get(domain.key)
        if score is None:
            problems.append(f"{domain.label}: not scored")
        elif score not in table.scores:
            problems.append(f"{domain.label}: {score!r} is not one of {', '.join(table.scores)}")
    known = {d.key for d in table.domains}
    problems += [f"{k}: not a Checklist domain" for k in scores if k not in known]
    if problems:
        raise ChecklistIncomplete(problems)

    a_domains = tuple(d.label for d in table.domains if scores[d.key] == "A")
    b_domains = tuple(d.label for d in table.domains if scores[d.key] == "B")
    a_priority = tuple(d.label for d in table.domains if d.priority and scores[d.key] == "A")
    fired: list[FiredRule] = []
    for t in table.thresholds:
        holds = len(a_domains) >= t.min_a and len(b_domains) >= t.min_b
        if t.a_in_priority_domain:
            holds = holds and bool(a_priority)
        if holds:
            text = t.text + (f" ({', '.join(a_priority)})" if t.a_in_priority_domain else "")
            fired.append(FiredRule(t.id, text))
    counts = f"{len(a_domains)} A, {len(b_domains)} B"
    if fired:
        summary = f"full assessment required: {'; '.join(f.text for f in fired)} [{counts}]"
        return ChecklistOutcome(
            "full_assessment_required", tuple(fired), a_domains, b_domains, summary
        )
    summary = f"full assessment not indicated: no threshold met [{counts}]"
    return ChecklistOutcome("full_assessment_not_indicated", (), a_domains, b_domains, summary)
