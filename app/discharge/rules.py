"""Guards and effects of the discharge-to-assess pathway (pathways/discharge.yaml).

Guards answer in words a discharge coordinator understands. Home First rules: docs/domain.md §3.5
(G2 first-time care home, G3 funding never blocks discharge, G4 mental-health involvement).
"""

from __future__ import annotations

from typing import Any

from app.engine.context import EffectContext, GuardContext
from app.engine.registry import RuleRegistry

# This workflow's named rules, declared in its `Workflow` (never registered globally).
RULES = RuleRegistry()

MH_FOR_KNOWN = {"care_coordinator", "mh_clinician"}


def _open_delays(attributes: dict[str, Any]) -> list[str]:
    return list(attributes.get("open_delays") or [])


# -- pathway --------------------------------------------------------------------------------
@RULES.guard("pathway_change_has_reason", "Changing an assigned pathway needs a reason.")
def pathway_change_has_reason(ctx: GuardContext) -> str | None:
    current = ctx.attributes.get("pathway")
    if current and current != ctx.data.get("pathway") and not (ctx.reason or "").strip():
        return f"The pathway is already {current}; give a reason for changing it."
    return None


@RULES.guard(
    "edd_change_has_reason", "Changing an expected discharge date already set needs a reason."
)
def edd_change_has_reason(ctx: GuardContext) -> str | None:
    current = ctx.attributes.get("expected_discharge_date")
    wanted = ctx.data.get("expected_discharge_date")
    if current and wanted and wanted != current and not (ctx.reason or "").strip():
        return (
            f"The expected discharge date is already {current}; give a reason for changing it "
            "(the patient's plan changed, a service date moved, ...)."
        )
    return None


# -- delays ---------------------------------------------------------------------------------
@RULES.guard("delay_not_already_open", "A delay reason cannot be opened twice at once.")
def delay_not_already_open(ctx: GuardContext) -> str | None:
    code = ctx.data.get("delay_code")
    if code in _open_delays(ctx.attributes):
        return f"Delay reason {code!r} is already open for this patient."
    return None


@RULES.guard("delay_is_open", "Only an open delay reason can be ended or marked primary.")
def delay_is_open(ctx: GuardContext) -> str | None:
    code = ctx.data.get("delay_code")
    if code is not None and code not in _open_delays(ctx.attributes):
        return f"Delay reason {code!r} is not open for this patient."
    return None


@RULES.guard("other_delays_remain", "Other delay reasons stay open after this one ends.")
def other_delays_remain(ctx: GuardContext) -> str | None:
    others = [c for c in _open_delays(ctx.attributes) if c != ctx.data.get("delay_code")]
    return None if others else "No other delay reason remains open."


@RULES.guard("last_open_delay", "This is the patient's last open delay reason.")
def last_open_delay(ctx: GuardContext) -> str | None:
    others = [c for c in _open_delays(ctx.attributes) if c != ctx.data.get("delay_code")]
    return None if not others else "Other delay reasons remain open."


@RULES.effect("delay_opened", "Adds the delay reason to the patient's open delays.")
def delay_opened(ctx: EffectContext) -> None:
    code = ctx.data["delay_code"]
    values: dict[str, Any] = {"open_delays": sorted({*_open_delays(ctx.attributes), code})}
    if ctx.data.get("delay_primary"):
        values["primary_delay"] = code
    ctx.ports.set_attributes(ctx.case_id, values)


@RULES.effect("delay_closed", "Removes the delay reason from the patient's open delays.")
def delay_closed(ctx: EffectContext) -> None:
    code = ctx.data["delay_code"]
    values: dict[str, Any] = {"open_delays": [c for c in _open_delays(ctx.attributes) if c != code]}
    if ctx.attributes.get("primary_delay") == code:
        values["primary_delay"] = None
    ctx.ports.set_attributes(ctx.case_id, values)


@RULES.effect("primary_delay_set", "Marks one open delay reason as primary for the return.")
def primary_delay_set(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(ctx.case_id, {"primary_delay": ctx.data["delay_code"]})


@RULES.effect("close_all_delays", "Ends every open delay period (discharge, CtR met again, exits).")
def close_all_delays(ctx: EffectContext) -> None:
    if _open_delays(ctx.attributes) or ctx.attributes.get("primary_delay"):
        ctx.ports.set_attributes(ctx.case_id, {"open_delays": [], "primary_delay": None})


@RULES.effect(
    "ctr_criteria_cleared",
    "Forgets the criteria to reside last recorded as met: the patient no longer meets any.",
)
def ctr_criteria_cleared(ctx: EffectContext) -> None:
    if ctx.attributes.get("ctr_criteria_met"):
        ctx.ports.set_attributes(ctx.case_id, {"ctr_criteria_met": None})


# -- escalation and funding -----------------------------------------------------------------
@RULES.guard("not_escalated", "The patient is not already escalated.")
def not_escalated(ctx: GuardContext) -> str | None:
    return (
        "The patient is already on the escalation list."
        if ctx.attributes.get("escalated")
        else None
    )


@RULES.guard("is_escalated", "The patient is escalated.")
def is_escalated(ctx: GuardContext) -> str | None:
    return None if ctx.attributes.get("escalated") else "The patient is not escalated."


@RULES.effect("escalation_raised", "Sets the escalation flag and notifies subscribers.")
def escalation_raised(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(ctx.case_id, {"escalated": True})
    ctx.ports.notify(ctx.case_id, kind="case_escalated", summary="Escalated to the huddle")


@RULES.effect("escalation_cleared", "Clears the escalation flag.")
def escalation_cleared(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(ctx.case_id, {"escalated": False, "escalation_reason": None})


@RULES.effect("funding_follow_up_opened", "Opens a funding follow-up task on the case.")
def funding_follow_up_opened(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(ctx.case_id, {"funding_follow_up": "open"})


@RULES.guard("funding_follow_up_open", "A funding question is open.")
def funding_follow_up_open(ctx: GuardContext) -> str | None:
    if ctx.attributes.get("funding_follow_up") != "open":
        return "There is no open funding question."
    return None


@RULES.effect("funding_follow_up_resolved", "Closes the funding follow-up task.")
def funding_follow_up_resolved(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(ctx.case_id, {"funding_follow_up": "resolved"})


# -- mental health (G4) ---------------------------------------------------------------------
@RULES.effect("mh_involvement_recorded", "Adds the role to the mental-health involvements.")
def mh_involvement_recorded(ctx: EffectContext) -> None:
    roles = set(ctx.attributes.get("mh_involvement") or []) | {ctx.data["mh_involvement_role"]}
    ctx.ports.set_attributes(ctx.case_id, {"mh_involvement": sorted(roles)})


@RULES.guard(
    "mh_known_needs_coordinator",
    "G4: a patient known to mental health services needs the care coordinator or a mental "
    "health clinician involved in discharge planning.",
)
def mh_known_needs_coordinator(ctx: GuardContext) -> str | None:
    involved = set(ctx.attributes.get("mh_involvement") or [])
    if ctx.attributes.get("mh_known_to_services") and not involved & MH_FOR_KNOWN:
        return (
            "The patient is known to mental health services: record the care coordinator's or "
            "mental health clinician's involvement in discharge planning first."
        )
    return None


@RULES.guard(
    "mh_new_concern_needs_liaison",
    "G4: a new mental health concern needs a psychiatric liaison referral first.",
)
def mh_new_concern_needs_liaison(ctx: GuardContext) -> str | None:
    involved = set(ctx.attributes.get("mh_involvement") or [])
    if ctx.attributes.get("mh_new_concern") and "psychiatric_liaison" not in involved:
        return (
            "There is a new mental health concern: record the psychiatric liaison referral first."
        )
    return None


# -- care homes (G2) ------------------------------------------------------------------------
@RULES.guard(
    "care_home_pathway_matches_residence",
    "P3 is a first-time care home admission; P3b is a resident returning to their care home.",
)
def care_home_pathway_matches_residence(ctx: GuardContext) -> str | None:
    pathway = ctx.data.get("discharge_pathway")
    resident = bool(ctx.attributes.get("care_home_resident"))
    if pathway == "P3" and resident:
        return "The patient already lived in a care home: a return there is pathway P3b, not P3."
    if pathway == "P3b" and not resident:
        return "Pathway P3b is for care-home residents returning home; this patient was not one."
    return None


@RULES.guard(
    "first_time_care_home_needs_ic_offer",
    "G2: before a first-time care home placement, intermediate care or reablement was offered.",
)
def first_time_care_home_needs_ic_offer(ctx: GuardContext) -> str | None:
    if ctx.data.get("discharge_pathway") == "P3" and not ctx.attributes.get("ic_offer_response"):
        return (
            "Home First: record that intermediate care or reablement was offered before a "
            "first-time care home placement."
        )
    return None


@RULES.guard(
    "first_time_care_home_needs_exception",
    "G2: a first-time care home placement straight from hospital is exceptional: it needs the "
    "reason and the approver.",
)
def first_time_care_home_needs_exception(ctx: GuardContext) -> str | None:
    if ctx.data.get("discharge_pathway") != "P3":
        return None
    if not (ctx.data.get("exceptional_reason") and ctx.data.get("exceptional_approver")):
        return (
            "A first-time care home placement straight from hospital needs the exceptional "
            "reason and the name of the person who approved it."
        )
    return None


# -- a discharge cancelled (the PAS's A13, or recorded in error) -------------------------------
INPATIENT_STATES = ("referred", "assessing", "ready_for_discharge", "awaiting_support")


@RULES.effect(
    "remember_state_before_discharge",
    "Keeps the state the patient left hospital from, for a discharge that is later cancelled.",
)
def remember_state_before_discharge(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(ctx.case_id, {"state_before_discharge": ctx.from_state})


@RULES.guard(
    "returns_to_state_before_discharge",
    "A cancelled discharge returns the patient to the state they were discharged from "
    "(ready for discharge when they were waiting for support: the delays were closed).",
)
def returns_to_state_before_discharge(ctx: GuardContext) -> str | None:
    before = ctx.attributes.get("state_before_discharge") or "ready_for_discharge"
    back = "ready_for_discharge" if before == "awaiting_support" else before
    if back not in INPATIENT_STATES:
        back = "ready_for_discharge"
    return (
        None if ctx.dest == back else f"The patient was discharged from {before}, not {ctx.dest}."
    )
