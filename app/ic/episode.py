"""Pure facts about one intermediate-care episode, shared by the rules and the read side.

Nothing here touches the database: everything is derived from the episode's attributes (which
the engine projects from its events) and the settings in pathways/config/ic.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from app.ic.config import MODELS, IcConfig
from app.timeutil import LONDON

WORKFLOW = "intermediate_care"
# States in which the person holds a bed or slot in their current service (docs/domain.md §8.9: a
# delayed exit still occupies it), and the state of the waiting list (§11.3 waiting_capacity).
OCCUPYING_STATES = ("active", "awaiting_ongoing_package")
WAITING_STATE = "waiting_capacity"
# States from which the service can still start (a referral not yet started or closed).
STARTABLE_STATES = ("referred", "triaged", "assessed", WAITING_STATE)
START_TRIGGERS = {f"start_{m}": m for m in MODELS}
MOVE_TRIGGERS = {f"move_to_{m}": m for m in MODELS}
# Outcomes that are exits rather than planned ends: no transition plan or service needed.
UNPLANNED_OUTCOMES = frozenset({"readmitted_to_hospital", "died"})
LABELS = {
    "crisis_response": "crisis response",
    "home_based_ic": "home-based IC",
    "reablement": "reablement",
    "bed_based_ic": "bed-based IC",
}


def model_for_trigger(trigger: str) -> str | None:
    """The model a start_<model> or move_to_<model> trigger names."""
    return START_TRIGGERS.get(trigger) or MOVE_TRIGGERS.get(trigger)


def label(model: str | None) -> str:
    return LABELS.get(model or "", model or "no model")


def london_day(value: str | datetime) -> date:
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.astimezone(LONDON).date()


@dataclass(frozen=True)
class FollowUp:
    """Whether an ended episode needs the 91-day still-at-home follow-up, and when."""

    needed: bool
    why: str
    due_on: date | None = None


def follow_up(attributes: dict[str, Any], config: IcConfig) -> FollowUp:
    """ASCOF 2B: still at home 91 days after leaving hospital into reablement or rehabilitation
    (docs/domain.md §8.9, PUBLISHED-RULES row 37).

    The days count from the hospital discharge when it is known (step-down), otherwise from the
    end of the episode. Who is followed up is configured (`still_at_home_follow_up`). An episode
    whose outcome already gives the 91-day result (died) needs no call: it is still counted, as
    died, by the report.
    """
    rule = config.still_at_home_follow_up
    if not in_follow_up_scope(attributes, config):
        if attributes.get("direction") not in rule.directions:
            return FollowUp(False, f"only {', '.join(rule.directions)} episodes are followed up")
        models = ", ".join(label(m) for m in rule.after_models)
        return FollowUp(False, f"the episode included none of: {models}")
    if _known_at_follow_up(attributes, config):
        return FollowUp(
            False,
            f"the outcome was {attributes.get('outcome')} within {rule.days} days: counted as "
            "such, no call",
        )
    basis = attributes.get("hospital_discharge_at") or attributes.get("ended_at")
    if basis is None:
        return FollowUp(True, "the episode has not ended")
    return FollowUp(True, "needed", london_day(basis) + timedelta(days=rule.days))


def _known_at_follow_up(attributes: dict[str, Any], config: IcConfig) -> bool:
    """An outcome (died) that already gives the 91-day result: only when the episode ended on
    or before the 91-day date ("died within the three months"); a death after it leaves the
    result at 91 days to be recorded."""
    rule = config.still_at_home_follow_up
    if attributes.get("outcome") not in rule.no_call_outcomes:
        return False
    ended, discharged = attributes.get("ended_at"), attributes.get("hospital_discharge_at")
    if not ended or not discharged:
        return True  # no later date to compare with: the end is the basis itself
    return london_day(ended) <= london_day(discharged) + timedelta(days=rule.days)


def in_follow_up_scope(attributes: dict[str, Any], config: IcConfig) -> bool:
    """A step-down episode (by default) that delivered reablement or a rehabilitation model."""
    rule = config.still_at_home_follow_up
    used = set(attributes.get("models_used") or [])
    return attributes.get("direction") in rule.directions and bool(used & set(rule.after_models))


def result_at_91_days(attributes: dict[str, Any], config: IcConfig) -> str | None:
    """The recorded 91-day result, the one an outcome already gives (died), or None (awaited)."""
    recorded = attributes.get("still_at_home_91d")
    if recorded:
        return str(recorded)
    if _known_at_follow_up(attributes, config):
        return str(attributes["outcome"])
    return None


def age_on(date_of_birth: date, day: date) -> int:
    """Whole years of age on `day` (someone born on 29 February turns a year older on 1 March
    in a year without one)."""
    years = day.year - date_of_birth.year
    return years - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


def date_of_birth(attributes: dict[str, Any]) -> date | None:
    raw = attributes.get("date_of_birth")
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def rehabilitation_offered(attributes: dict[str, Any], config: IcConfig) -> bool:
    """A recorded offer of rehabilitation, or an episode that delivered a rehabilitation model."""
    if attributes.get("rehab_offer_response"):
        return True
    return bool(set(attributes.get("models_used") or []) & set(config.rehabilitation_models))
