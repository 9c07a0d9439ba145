"""A case page's actions and milestones (issue 17): the list, and the case's event forms that
name an action offering the actions they can apply to instead of a box for a reference."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session

from app.actions import service
from app.actions.fold import ADD, EXPLAIN
from app.actions.schemas import ActionList, ActionRead
from app.auth.access import AccessPolicy
from app.auth.actor import Actor
from app.engine.spec import PathwaySpec
from app.timeutil import LONDON
from app.web.eventforms import Choice, EventForm, humanise

ACTION_REF = "action_ref"
# Events a person does not record on the case page: a referral records its own status on the
# case that sent it (app/referrals), so a form for it would only ever be refused.
RECORDED_ELSEWHERE = frozenset({"referral_update"})


@dataclass(frozen=True)
class ActionView:
    ref: str
    title: str
    kind: str
    owner: str
    due: str
    status: str
    colour: str
    detail: str


def listed(
    db: Session, access: AccessPolicy, actor: Actor, spec: PathwaySpec, case_id: int, now: datetime
) -> ActionList | None:
    """The case's actions and milestones, for a pathway that has them and a reader granted
    them; else None (the page leaves the section out)."""
    grant = access.grant("actions.list", actor.roles)
    if grant is None or not (spec.milestones or ADD in spec.triggers()):
        return None
    return service.case_actions(db, actor=actor, grant=grant, case_id=case_id, now=now)


def with_action_refs(form: EventForm, actions: list[ActionRead]) -> EventForm | str:
    """`form` offering the actions it can apply to (the late ones to explain, the open ones
    otherwise); a sentence saying why not when there are none."""
    if not any(f.name == ACTION_REF for f in form.fields):
        return form
    fitting = [a for a in actions if (a.late if form.event == EXPLAIN else a.status == "open")]
    if not fitting:
        return "There is no action it applies to."
    options = tuple(Choice(a.ref, f"{a.title} ({a.ref}, due {_when(a.due_at)})") for a in fitting)
    fields = tuple(
        replace(f, kind="select", choices=options) if f.name == ACTION_REF else f
        for f in form.fields
    )
    return replace(form, fields=fields)


def view(a: ActionRead) -> ActionView:
    owner = a.owner_organisation + (f", {humanise(a.owner_role)}" if a.owner_role else "")
    if a.assignee:
        owner += f" ({a.assignee})"
    if a.overdue:
        status, colour = "Overdue", "red"
    elif a.status == "open":
        status, colour = "Open", "blue"
    else:
        status, colour = a.status.capitalize(), "green" if a.status == "done" else "grey"
    detail = ""
    if a.closed_at is not None and a.status != "open":
        detail = f"{a.status.capitalize()} {_when(a.closed_at)} by {a.closed_by}"
        detail += " (late)" if a.late else ""
    if a.late_reason:
        detail += ("; " if detail else "") + f"late because: {humanise(a.late_reason)}"
    return ActionView(
        a.ref,
        a.title,
        "Milestone" if a.kind == "milestone" else "Action",
        owner,
        _when(a.due_at),
        status,
        colour,
        detail,
    )


def _when(at: datetime) -> str:
    return at.astimezone(LONDON).strftime("%d %b %Y, %H:%M")
