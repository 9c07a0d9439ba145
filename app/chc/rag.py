"""Explainable RAG triage and cohort assignment for the CHC working list (docs/domain.md
§7.9, §7.11).

Pure functions over a case's facts, the time, and the rule set kept as data
(`pathways/config/chc-rag.yaml`, provisional). A rating is the worst colour among the rules that
fired, with every fired rule as a reason; green names its own reason. Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from app.chc.config import COLOUR_RANK, Cohort, LocalConfig, RagCondition, RagRuleSet
from app.timeutil import LONDON


@dataclass(frozen=True)
class CaseFacts:
    """What the rating and the cohort read: the case's state and attributes, and when it opened."""

    state: str
    attributes: dict[str, Any]
    opened_at: datetime

    @property
    def referral_date(self) -> date:
        """The earliest notice: the recorded `referral_date`, or the clinical open time."""
        opened: date = self.opened_at.astimezone(LONDON).date()
        recorded = _as_date(self.attributes.get("referral_date"))
        return min(recorded, opened) if recorded else opened

    def waiting_days(self, now: datetime) -> int:
        return (now.astimezone(LONDON).date() - self.referral_date).days


@dataclass(frozen=True)
class Reason:
    rule_id: str
    colour: str
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"rule_id": self.rule_id, "colour": self.colour, "text": self.text}


@dataclass(frozen=True)
class Rating:
    colour: str
    reasons: tuple[Reason, ...]
    ruleset_version: str
    waiting_days: int
    rule_ids: tuple[str, ...] = field(default=())

    @property
    def summary(self) -> str:
        return f"{self.colour.capitalize()}: " + "; ".join(r.text for r in self.reasons)


def rate(facts: CaseFacts, rules: RagRuleSet, *, now: datetime) -> Rating:
    days = facts.waiting_days(now)
    today = now.astimezone(LONDON).date()
    fired = [
        Reason(rule.id, rule.colour, rule.reason.replace("{days}", str(days)))
        for rule in rules.rules
        if _holds(rule.when, facts, days, today)
    ]
    if not fired:
        green = Reason("green", "green", rules.green_reason)
        return Rating("green", (green,), rules.version, days, ())
    # Worst colour first, then the order the rule set lists them in.
    fired.sort(key=lambda r: COLOUR_RANK[r.colour])
    return Rating(
        fired[0].colour, tuple(fired), rules.version, days, tuple(r.rule_id for r in fired)
    )


def _holds(cond: RagCondition, facts: CaseFacts, days: int, today: date) -> bool:
    attrs = facts.attributes
    checks: list[bool] = []
    if cond.waiting_days_at_least is not None:
        checks.append(days >= cond.waiting_days_at_least)
    if cond.waiting_days_below is not None:
        checks.append(days < cond.waiting_days_below)
    if cond.flag is not None:
        checks.append(attrs.get(cond.flag) is True)
    if cond.equals is not None:
        checks.append(all(attrs.get(k) == v for k, v in cond.equals.items()))
    if cond.date_within_days is not None:
        when = _as_date(attrs.get(cond.date_within_days.field))
        checks.append(
            when is not None and when <= today + timedelta(days=cond.date_within_days.days)
        )
    if cond.states is not None:
        checks.append(facts.state in cond.states)
    return all(checks)


@dataclass(frozen=True)
class CohortAssignment:
    key: str
    responsible_organisation: str | None
    why: str


def assign_cohort(facts: CaseFacts, cfg: LocalConfig) -> CohortAssignment:
    """The first configured cohort the case's facts match (docs/domain.md §7.9)."""
    for cohort in cfg.cohorts:
        why = _cohort_match(cohort, facts)
        if why is not None:
            return CohortAssignment(cohort.key, cohort.responsible_organisation, why)
    return CohortAssignment(cfg.unassigned_cohort, None, "matches no configured cohort window")


def _cohort_match(cohort: Cohort, facts: CaseFacts) -> str | None:
    attrs = facts.attributes
    why: list[str] = []
    if cohort.discharged_from or cohort.discharged_to:
        discharged = _as_date(attrs.get("discharge_date"))
        if discharged is None:
            return None
        if cohort.discharged_from and discharged < cohort.discharged_from:
            return None
        if cohort.discharged_to and discharged > cohort.discharged_to:
            return None
        why.append(f"discharged {discharged}")
    if cohort.requires_interim_nhs_funding:
        if attrs.get("interim_nhs_funded") is not True:
            return None
        why.append("interim NHS-funded package")
    if cohort.referred_from:
        if facts.referral_date < cohort.referred_from:
            return None
        why.append(f"referred {facts.referral_date}")
    return ", ".join(why) or "no window configured"


def _as_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None
