"""Guards and effects of the intermediate-care pathway (pathways/intermediate_care.yaml):
referral, transition planning, ending, the 91-day follow-up and re-referral; and the discharge
effect that opens a step-down episode. Capacity lives in `app/ic/capacity_rules.py`.

Guards are pure: they read the episode's attributes and the event's data, and refuse in words
an IC coordinator understands. docs/domain.md §8 (2-hour UCR §8.4, transition planning §8.8,
outcomes §8.9), §11.3-11.4.
"""

from __future__ import annotations

from typing import Any

from app.engine.context import EffectContext, GuardContext
from app.engine.registry import RuleRegistry
from app.ic import episode
from app.ic.config import ic_config

# This workflow's named rules, declared in its `Workflow` (never registered globally).
RULES = RuleRegistry()


# -- referral ---------------------------------------------------------------------------------
@RULES.guard("urgent_response_is_step_up", "A 2-hour urgent response is for step-up referrals.")
def urgent_response_is_step_up(ctx: GuardContext) -> str | None:
    if ctx.attributes.get("direction") != "step_up":
        return (
            "A 2-hour urgent community response is for step-up referrals from the community; "
            "this is a step-down referral."
        )
    return None


@RULES.guard("not_already_urgent", "The referral is not already a 2-hour urgent response.")
def not_already_urgent(ctx: GuardContext) -> str | None:
    if ctx.attributes.get("two_hour_response"):
        return "This referral is already a 2-hour urgent community response."
    return None


@RULES.effect("urgent_response_flagged", "Marks the referral as a 2-hour urgent response.")
def urgent_response_flagged(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(ctx.case_id, {"two_hour_response": True})


@RULES.guard("first_contact_not_recorded", "The first contact is recorded once.")
def first_contact_not_recorded(ctx: GuardContext) -> str | None:
    if ctx.attributes.get("first_contact_at"):
        return f"The first contact was already recorded ({ctx.attributes['first_contact_at']})."
    return None


@RULES.effect("first_contact_recorded", "Records when the person was first seen.")
def first_contact_recorded(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(ctx.case_id, {"first_contact_at": ctx.occurred_at.isoformat()})


# -- planning and ending ----------------------------------------------------------------------
def _has_transition_plan(attributes: dict[str, Any]) -> bool:
    return bool(attributes.get("transition_plan") and attributes.get("contingency_plan"))


@RULES.guard("transition_plan_recorded", "A transition plan with a contingency plan exists.")
def transition_plan_recorded(ctx: GuardContext) -> str | None:
    if not _has_transition_plan(ctx.attributes):
        return "Record the transition plan and the contingency plan first (record_transition_plan)."
    return None


@RULES.guard(
    "outcome_possible_before_start",
    "Before the service starts, only readmission or death can end the episode.",
)
def outcome_possible_before_start(ctx: GuardContext) -> str | None:
    outcome = ctx.data.get("outcome")
    if outcome is None or ctx.attributes.get("first_model"):
        return None
    if outcome not in episode.UNPLANNED_OUTCOMES:
        return (
            f"The service has not started, so the outcome cannot be {outcome}: end it only as "
            "readmitted_to_hospital or died, or cancel the referral."
        )
    return None


@RULES.guard(
    "care_home_needs_rehab_offer",
    "A long-term care home outcome follows an opportunity for rehabilitation and recovery.",
)
def care_home_needs_rehab_offer(ctx: GuardContext) -> str | None:
    if ctx.data.get("outcome") != "long_term_care_home":
        return None
    if episode.rehabilitation_offered(ctx.attributes, ic_config()):
        return None
    return (
        "Home First: a long-term care home decision comes only after an opportunity for "
        "rehabilitation and recovery. Record that it was offered (record_rehab_offer) first."
    )


@RULES.guard(
    "planned_exit_needs_transition_plan",
    "A planned end follows an agreed transition plan (NICE QS173 statement 4).",
)
def planned_exit_needs_transition_plan(ctx: GuardContext) -> str | None:
    outcome = ctx.data.get("outcome")
    if outcome is None or outcome in episode.UNPLANNED_OUTCOMES:
        return None
    if ctx.attributes.get("first_model") and not _has_transition_plan(ctx.attributes):
        return (
            "Agree the transition plan and the contingency plan with the person before the "
            "episode ends (record_transition_plan)."
        )
    return None


@RULES.effect("episode_ended", "Records when the episode ended.")
def episode_ended(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(ctx.case_id, {"ended_at": ctx.occurred_at.isoformat()})


# -- the 91-day follow-up and re-referral -----------------------------------------------------
@RULES.guard("follow_up_applies", "This episode needs the 91-day still-at-home follow-up.")
def follow_up_applies(ctx: GuardContext) -> str | None:
    status = episode.follow_up(ctx.attributes, ic_config())
    if not status.needed:
        return f"No 91-day follow-up is needed ({status.why}); close the episode instead."
    return None


@RULES.guard("follow_up_due", "The 91-day follow-up is recorded on or after its due date.")
def follow_up_due(ctx: GuardContext) -> str | None:
    due = episode.follow_up(ctx.attributes, ic_config()).due_on
    if due is not None and episode.london_day(ctx.occurred_at) < due:
        return f"The 91-day follow-up is due on {due.isoformat()}."
    return None


@RULES.guard("follow_up_not_needed", "The episode needs no 91-day follow-up.")
def follow_up_not_needed(ctx: GuardContext) -> str | None:
    status = episode.follow_up(ctx.attributes, ic_config())
    if status.needed:
        due = f" (due {status.due_on.isoformat()})" if status.due_on else ""
        return f"The 91-day still-at-home follow-up is needed{due}: use record_still_at_home."
    return None


@RULES.guard("contingency_plan_recorded", "The episode has a contingency plan to re-refer under.")
def contingency_plan_recorded(ctx: GuardContext) -> str | None:
    if not ctx.attributes.get("contingency_plan"):
        return "This episode has no contingency plan to re-refer under; make a new referral."
    return None


@RULES.effect("re_referral_opened", "Opens a new episode linked to this one (re_referral).")
def re_referral_opened(ctx: EffectContext) -> None:
    ctx.ports.open_linked_case(
        ctx.case_id,
        workflow=episode.WORKFLOW,
        link_type="re_referral",
        data={
            "direction": "step_up",
            "referrer": ctx.data.get("re_referrer") or "self_referral",
            "previous_episode_id": ctx.case_id,
            **_date_of_birth(ctx.attributes),
        },
        occurred_at=ctx.occurred_at,
    )


def _date_of_birth(attributes: dict[str, Any]) -> dict[str, str]:
    """The source case's date of birth as the new episode's, when it holds one."""
    born = attributes.get("date_of_birth")
    return {"date_of_birth": born} if isinstance(born, str) and born else {}


# -- from the discharge pathway (docs/domain.md §8.6, §11.4) ---------------------------------------
@RULES.effect(
    "open_step_down_ic_episode",
    "A discharge on a step-down pathway (P1 or P2 by default) opens a linked step-down IC "
    "episode, referred by the discharging user.",
)
def open_step_down_ic_episode(ctx: EffectContext) -> None:
    pathway = ctx.data.get("discharge_pathway")
    if pathway not in ic_config().step_down_pathways:
        return
    ctx.ports.open_linked_case(
        ctx.case_id,
        workflow=episode.WORKFLOW,
        link_type="step_down",
        data={
            "direction": "step_down",
            "referrer": "hospital",
            "hospital_discharge_at": ctx.occurred_at.isoformat(),
            "discharge_pathway": pathway,
            # The discharge case's date of birth, when it holds one (ASCOF 2B's 65+ cohort).
            **_date_of_birth(ctx.attributes),
        },
        occurred_at=ctx.occurred_at,
        # An episode already opened from this discharge case (POST /cases/{id}/links) is used.
        reuse_open=True,
    )
