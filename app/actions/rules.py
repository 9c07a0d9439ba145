"""Guards, effects and facts of actions, milestones and the referrals a case sends.

A pathway that offers actions (`add_action` and the rest, discharge version 5) names these; its
workflow declares this registry beside its own (`app.discharge.workflow`). The facts read the
actions read model and the case's organisations, so each guard decides on what is stored now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.actions.fold import OPEN, ActionState
from app.actions.repository import ActionRepository, state_of
from app.cases.scope import ScopeRepository
from app.engine.context import EffectContext, GuardContext, Recipient
from app.engine.registry import RuleRegistry
from app.models import Case, CaseLink
from app.timeutil import as_utc

RULES = RuleRegistry()
REFERRAL_WORKFLOW = "referral"
REFERRAL_LINK = "referral"


# -- facts ---------------------------------------------------------------------------------------
@RULES.fact("case_actions", "The case's actions and milestones, by reference")
def case_actions(
    session: Session, case_id: int, _attributes: dict[str, Any], _data: dict[str, Any]
) -> dict[str, ActionState]:
    return {row.ref: state_of(row) for row in ActionRepository(session).for_case(case_id)}


@RULES.fact("case_organisations", "The organisation that owns the case and those it is shared with")
def case_organisations(
    session: Session, case_id: int, _attributes: dict[str, Any], _data: dict[str, Any]
) -> dict[str, Any]:
    orgs = ScopeRepository(session).organisations(case_id)
    return {"owner": orgs[0] if orgs else None, "all": set(orgs)}


@RULES.fact("referral_task", "The referral task an update names: its workflow, state and parent")
def referral_task(
    session: Session, case_id: int, _attributes: dict[str, Any], data: dict[str, Any]
) -> dict[str, Any] | None:
    task_id = data.get("referral_case")
    task = session.get(Case, task_id) if isinstance(task_id, int) else None
    if task is None:
        return None
    linked = (
        session.query(CaseLink)
        .filter_by(from_case_id=case_id, to_case_id=task.id, link_type=REFERRAL_LINK)
        .first()
    )
    return {
        "workflow": task.workflow_key,
        "state": task.state,
        "organisation": task.organisation,
        "kind": (task.attributes or {}).get("referral_kind"),
        "linked": linked is not None,
    }


# -- guards --------------------------------------------------------------------------------------
def _action(ctx: GuardContext) -> ActionState | None:
    return (ctx.facts.get("case_actions") or {}).get(ctx.data.get("action_ref"))


def _names_no_action(ctx: GuardContext) -> bool:
    """Judged without an action named (the allowed events of a case, on an empty form): the
    rule cannot apply yet, and nothing is looked up; firing the event requires one."""
    return "action_ref" not in ctx.data


@RULES.guard(
    "action_owner_may_see_case",
    "An action's owner organisation must already see the case (own it, or have it shared).",
)
def action_owner_may_see_case(ctx: GuardContext) -> str | None:
    wanted = ctx.data.get("action_owner_organisation")
    if not wanted:
        return None  # the case's own organisation
    orgs = ctx.facts.get("case_organisations") or {}
    if wanted not in orgs.get("all", ()):
        return (
            f"{wanted} cannot see this case: share it with them first (or send them a referral), "
            "then give them the action."
        )
    return None


@RULES.guard("action_is_open", "The action or milestone named must exist and still be open.")
def action_is_open(ctx: GuardContext) -> str | None:
    if _names_no_action(ctx):
        return None
    action = _action(ctx)
    if action is None:
        return f"This case has no action {ctx.data.get('action_ref')!r}."
    if action.status != OPEN:
        return f"Action {action.ref} is already {action.status}."
    return None


@RULES.guard(
    "action_worked_by_owner",
    "Only the owner organisation of an action, or the organisation that owns the case, works it.",
)
def action_worked_by_owner(ctx: GuardContext) -> str | None:
    if _names_no_action(ctx):
        return None
    action = _action(ctx)
    if action is None:
        return f"This case has no action {ctx.data.get('action_ref')!r}."
    owner = (ctx.facts.get("case_organisations") or {}).get("owner")
    if ctx.actor.organisation not in (action.owner_organisation, owner):
        return (
            f"Action {action.ref} belongs to {action.owner_organisation}; only they or the "
            "organisation that owns the case can change it."
        )
    return None


@RULES.guard("action_change_has_reason", "Moving an action's due time needs a reason.")
def action_change_has_reason(ctx: GuardContext) -> str | None:
    if _names_no_action(ctx):
        return None
    action = _action(ctx)
    wanted = ctx.data.get("action_due")
    if action is None or wanted is None:
        return None
    if as_utc(datetime.fromisoformat(wanted)) != action.due_at and not (ctx.reason or "").strip():
        return (
            f"Action {action.ref} is due {action.due_at:%Y-%m-%d %H:%M} UTC; give a reason for "
            "moving it."
        )
    return None


@RULES.guard(
    "late_action_has_reason",
    "Completing an action or milestone after its due time needs a late reason (once).",
)
def late_action_has_reason(ctx: GuardContext) -> str | None:
    if _names_no_action(ctx):
        return None
    action = _action(ctx)
    if action is None or not action.late_at(ctx.occurred_at):
        return None
    if action.late_reason or ctx.data.get("action_late_reason"):
        return _late_reason_problem(ctx, action)
    return (
        f"Action {action.ref} was due {action.due_at:%Y-%m-%d %H:%M} UTC: say why it is late "
        "(action_late_reason)."
    )


@RULES.guard("action_is_late", "Only a late action or milestone has a late reason.")
def action_is_late(ctx: GuardContext) -> str | None:
    if _names_no_action(ctx):
        return None
    action = _action(ctx)
    if action is None:
        return f"This case has no action {ctx.data.get('action_ref')!r}."
    if not action.late_at(ctx.occurred_at):
        return f"Action {action.ref} is not late: it is due {action.due_at:%Y-%m-%d %H:%M} UTC."
    return None


@RULES.guard("late_reason_fits_action", "A milestone's late reason is one it declares.")
def late_reason_fits_action(ctx: GuardContext) -> str | None:
    if _names_no_action(ctx):
        return None
    action = _action(ctx)
    return _late_reason_problem(ctx, action) if action is not None else None


def _late_reason_problem(ctx: GuardContext, action: ActionState) -> str | None:
    reason = ctx.data.get("action_late_reason")
    if reason is None or action.milestone is None:
        return None
    allowed = action.late_reasons
    if allowed and reason not in allowed:
        return f"{reason!r} is not a late reason of this milestone (one of: {', '.join(allowed)})."
    return None


@RULES.guard(
    "referral_update_matches_task",
    "A referral's status is recorded on the case that sent it, as the referral itself stands.",
)
def referral_update_matches_task(ctx: GuardContext) -> str | None:
    if "referral_case" not in ctx.data:
        return None  # judged on an empty form; firing it requires the referral
    task = ctx.facts.get("referral_task")
    if task is None or task["workflow"] != REFERRAL_WORKFLOW or not task["linked"]:
        return "That is not a referral this case sent."
    wanted = (
        ctx.data.get("referral_status"),
        ctx.data.get("referral_organisation"),
        ctx.data.get("referral_kind"),
    )
    actual = (task["state"], task["organisation"], task["kind"])
    if wanted != actual:
        return "The referral does not stand as recorded: it is recorded by the referral itself."
    return None


# -- effects -------------------------------------------------------------------------------------
@RULES.effect("action_assigned", "Tell the owner of an action it was given to them.")
def action_assigned(ctx: EffectContext) -> None:
    data = ctx.data
    if not ({"action_owner_organisation", "action_owner_role", "action_assignee"} & data.keys()):
        if ctx.trigger != "add_action":
            return  # a change of title or due time: the owner already knows of it
    organisation = data.get("action_owner_organisation")  # None: the case's own
    assignee, role = data.get("action_assignee"), data.get("action_owner_role")
    if (
        assignee is not None
        and assignee == ctx.actor.username
        and (organisation in (None, ctx.actor.organisation))
    ):
        return  # nobody needs telling what they gave themselves
    ctx.ports.notify(
        ctx.case_id,
        kind="action_assigned",
        summary=f"An action on case {ctx.case_id} is yours, due {_due_text(data)}",
        to=Recipient(organisation, role, assignee),
    )


def _due_text(data: dict[str, Any]) -> str:
    due = data.get("action_due")
    return f"{as_utc(datetime.fromisoformat(due)):%Y-%m-%d %H:%M} UTC" if due else "as before"
