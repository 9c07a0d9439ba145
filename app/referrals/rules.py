"""Guards of the referral pathway (pathways/referral.yaml)."""

from __future__ import annotations

from app.engine.context import GuardContext
from app.engine.registry import RuleRegistry

RULES = RuleRegistry()


@RULES.guard(
    "other_rejection_explained",
    "A referral rejected for an `other` reason needs the reason written (rejection_note).",
)
def other_rejection_explained(ctx: GuardContext) -> str | None:
    if ctx.data.get("rejection_reason") == "other" and not (
        str(ctx.data.get("rejection_note") or "").strip()
    ):
        return "Say why the referral is rejected (rejection_note) when the reason is 'other'."
    return None
