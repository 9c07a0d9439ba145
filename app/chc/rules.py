"""Named guards and effects of the CHC pathway (pathways/chc.yaml).

Guards are pure: they read the case's facts and the event's data, and refuse with a sentence an
assessor understands. The Checklist and DST results they consult are *indicative* (docs/domain.md
§7.3, §7.4): a guard never picks an outcome, it only asks for a rationale when the person's
choice departs from the indicative result.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from app.chc.checklist import ChecklistIncomplete, ChecklistOutcome, evaluate_checklist
from app.chc.config import chc_config
from app.chc.dst import DstIncomplete, DstOutcome, evaluate_dst
from app.chc.panels import is_panel_date, next_panel_for_referral, panel_after
from app.engine.context import EffectContext, GuardContext
from app.engine.registry import RuleRegistry
from app.timeutil import LONDON

# This workflow's named rules, declared in its `Workflow` (never registered globally).
RULES = RuleRegistry()

# Outcomes that need a full assessment with the DST (a negative Checklist cannot lead to them).
NHS_FUNDED_OUTCOMES = frozenset({"chc_eligible", "joint_funded"})


def checklist_scores(facts: Any) -> dict[str, str | None]:
    """Checklist scores from a fact lookup (`GuardContext.fact` or a dict's `get`)."""
    return {d.key: facts(f"checklist_{d.key}") for d in chc_config().tools.checklist.domains}


def dst_levels(facts: Any) -> dict[str, str | None]:
    return {d.key: facts(f"dst_{d.key}") for d in chc_config().tools.dst.domains}


def indicative_checklist(facts: Any) -> ChecklistOutcome | None:
    try:
        return evaluate_checklist(checklist_scores(facts), chc_config().tools.checklist)
    except ChecklistIncomplete:
        return None


def indicative_dst(facts: Any) -> DstOutcome | None:
    try:
        return evaluate_dst(dst_levels(facts), chc_config().tools.dst)
    except DstIncomplete:
        return None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


@RULES.guard("checklist_complete", "Every Checklist domain has a score (docs/domain.md §7.3).")
def checklist_complete(ctx: GuardContext) -> str | None:
    try:
        evaluate_checklist(checklist_scores(ctx.fact), chc_config().tools.checklist)
    except ChecklistIncomplete as exc:
        return "Record the Checklist first: " + "; ".join(exc.problems) + "."
    return None


@RULES.guard(
    "departure_from_checklist_needs_rationale",
    "Going against the Checklist's indicative result needs a recorded rationale.",
)
def departure_from_checklist_needs_rationale(ctx: GuardContext) -> str | None:
    outcome = indicative_checklist(ctx.fact)
    if outcome is None or not _blank(ctx.fact("checklist_rationale")):
        return None
    if ctx.trigger == "start_full_assessment" and not outcome.positive:
        return (
            f"The Checklist does not indicate a full assessment ({outcome.summary}); "
            "record checklist_rationale to go ahead."
        )
    if ctx.trigger == "screen_out" and outcome.positive:
        return (
            f"The Checklist indicates a {outcome.summary}; "
            "record checklist_rationale to screen the case out."
        )
    return None


@RULES.guard(
    "screen_out_outcome_is_not_nhs_funded",
    "A case screened out by the Checklist cannot be found CHC-eligible or joint funded.",
)
def screen_out_outcome_is_not_nhs_funded(ctx: GuardContext) -> str | None:
    if ctx.fact("decision_outcome") in NHS_FUNDED_OUTCOMES:
        return (
            f"A {ctx.fact('decision_outcome')} decision needs a full assessment with the DST; "
            "start the full assessment instead of screening out."
        )
    return None


@RULES.guard("dst_complete", "Every DST domain has a level (docs/domain.md §7.4).")
def dst_complete(ctx: GuardContext) -> str | None:
    try:
        evaluate_dst(dst_levels(ctx.fact), chc_config().tools.dst)
    except DstIncomplete as exc:
        return "Record the DST first: " + "; ".join(exc.problems) + "."
    return None


@RULES.guard(
    "acute_assessment_needs_exception_reason",
    "G1: a full assessment in an acute setting needs an exception reason "
    "(docs/domain.md §3.5, §7.6).",
)
def acute_assessment_needs_exception_reason(ctx: GuardContext) -> str | None:
    if ctx.fact("dst_setting") == "acute" and _blank(ctx.fact("acute_exception_reason")):
        return (
            "Full assessments are done outside hospital by default (Discharge to Recover); "
            "record acute_exception_reason for an assessment in an acute setting."
        )
    return None


@RULES.guard(
    "departure_from_dst_needs_rationale",
    "A decision that differs from the DST's indicative result, or a judgement, needs a rationale.",
)
def departure_from_dst_needs_rationale(ctx: GuardContext) -> str | None:
    outcome = indicative_dst(ctx.fact)
    if outcome is None or not _blank(ctx.fact("decision_rationale")):
        return None
    chosen = ctx.fact("decision_outcome")
    if outcome.result == "eligibility_expected" and chosen != "chc_eligible":
        return f"The DST indicates {outcome.summary}; record decision_rationale for {chosen}."
    if outcome.result == "not_indicated" and chosen == "chc_eligible":
        return f"The DST shows {outcome.summary}; record decision_rationale for chc_eligible."
    if outcome.result == "judgement_needed":
        return f"The DST shows {outcome.summary}; record the judgement as decision_rationale."
    return None


@RULES.guard(
    "fast_track_decision_is_chc_eligible",
    "A completed Fast Track tool establishes eligibility (docs/domain.md §7.5).",
)
def fast_track_decision_is_chc_eligible(ctx: GuardContext) -> str | None:
    if ctx.fact("decision_outcome") != "chc_eligible":
        return (
            "A completed Fast Track tool is enough to establish eligibility and the ICB must "
            "respond promptly and positively; accept it as chc_eligible."
        )
    return None


@RULES.guard(
    "outcome_keeps_chc_eligibility",
    "After a reassessment, this branch is for a decision that the person is still eligible.",
)
def outcome_keeps_chc_eligibility(ctx: GuardContext) -> str | None:
    if ctx.fact("decision_outcome") != "chc_eligible":
        return "Only a chc_eligible decision keeps the case in reviews."
    return None


@RULES.guard(
    "outcome_ends_chc_eligibility",
    "After a reassessment, this branch is for a decision that ends CHC eligibility.",
)
def outcome_ends_chc_eligibility(ctx: GuardContext) -> str | None:
    if ctx.fact("decision_outcome") == "chc_eligible":
        return "A chc_eligible decision keeps eligibility; it does not end it."
    return None


@RULES.guard("panel_date_is_a_panel", "A chosen panel date is a scheduled fortnightly panel.")
def panel_date_is_a_panel(ctx: GuardContext) -> str | None:
    chosen = ctx.data.get("panel_date")
    if chosen is None:
        return None
    day = date.fromisoformat(chosen)
    cfg = chc_config().local.panels
    if not is_panel_date(day, cfg):
        return f"{day} is not a panel date; the next panel is {next_panel_for_referral(day, cfg)}."
    if day < _local_date(ctx.occurred_at):
        return f"{day} is in the past; choose a future panel."
    return None


@RULES.guard("placement_choice_recorded", "The person's or family's choice of home is recorded.")
def placement_choice_recorded(ctx: GuardContext) -> str | None:
    if _blank(ctx.fact("chosen_home")):
        return "Record the person's or family's choice of home (record_choice) before placing."
    return None


@RULES.effect("note_decision_date", "Copies the decision's clinical date onto the case.")
def note_decision_date(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(
        ctx.case_id, {"decision_date": _local_date(ctx.occurred_at).isoformat()}
    )


@RULES.effect("mark_fast_track", "Marks the case as on the Fast Track route.")
def mark_fast_track(ctx: EffectContext) -> None:
    ctx.ports.set_attributes(ctx.case_id, {"fast_track": True})


@RULES.effect(
    "clear_dst_for_reassessment",
    "A reassessment needs a new DST: the previous levels leave the case (its history keeps them).",
)
def clear_dst_for_reassessment(ctx: EffectContext) -> None:
    names = [f"dst_{d.key}" for d in chc_config().tools.dst.domains]
    names += ["dst_setting", "dst_date", "acute_exception_reason", "decision_rationale"]
    ctx.ports.set_attributes(ctx.case_id, dict.fromkeys(names))


@RULES.effect("place_on_next_panel", "Puts the case on the agenda of the next panel.")
def place_on_next_panel(ctx: EffectContext) -> None:
    cfg = chc_config().local.panels
    if ctx.trigger == "adjourn" and ctx.attributes.get("panel_date"):
        day = panel_after(date.fromisoformat(ctx.attributes["panel_date"]), cfg)
    elif ctx.data.get("panel_date"):
        day = date.fromisoformat(ctx.data["panel_date"])
    else:
        day = next_panel_for_referral(_local_date(ctx.occurred_at), cfg)
    ctx.ports.set_attributes(ctx.case_id, {"panel_date": day.isoformat()})


@RULES.effect("schedule_review", "Sets the next review date from the review schedule (§7.8).")
def schedule_review(ctx: EffectContext) -> None:
    cfg = chc_config().local.reviews
    today = _local_date(ctx.occurred_at)
    if ctx.trigger == "complete_review":
        due = today + timedelta(days=cfg.then_every_days)
        values = {"last_review_date": today.isoformat(), "review_due_date": due.isoformat()}
    else:
        decided = ctx.attributes.get("decision_date")
        base = date.fromisoformat(decided) if decided else today
        values = {"review_due_date": (base + timedelta(days=cfg.first_after_days)).isoformat()}
    ctx.ports.set_attributes(ctx.case_id, values)


def _local_date(at: Any) -> date:
    local: date = at.astimezone(LONDON).date()
    return local
