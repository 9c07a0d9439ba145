"""Guards and effects of the sample referral pathway (a worked example of the engine)."""

from __future__ import annotations

from app.engine.context import EffectContext, GuardContext
from app.engine.registry import RuleRegistry

# This workflow's named rules, declared in its `Workflow` (never registered globally).
RULES = RuleRegistry()


@RULES.guard(
    "urgent_needs_named_clinician",
    "An urgent referral is only accepted once a named clinician is recorded.",
)
def urgent_needs_named_clinician(ctx: GuardContext) -> str | None:
    if ctx.fact("priority") == "urgent" and not ctx.fact("named_clinician"):
        return "An urgent referral needs a named clinician before it is accepted."
    return None


@RULES.guard("outcome_recorded", "The referral outcome must be recorded before closing.")
def outcome_recorded(ctx: GuardContext) -> str | None:
    if not ctx.fact("outcome"):
        return "Record the outcome of the referral before closing it."
    return None


@RULES.effect("note_outcome_date", "Copies the clinical date of the outcome onto the case.")
def note_outcome_date(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(ctx.case_id, {"outcome_date": ctx.occurred_at.date().isoformat()})
