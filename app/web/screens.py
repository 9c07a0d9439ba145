"""The screens, who may open each, and the home page's list of them.

A screen is shown to a person (on the home page and in the header) when their roles hold the
read it needs in pathways/config/access.yaml: the same need-to-know table the API applies, so
a link never leads to a 403. Each screen's routes declare the same read (`app.web.access`).
A screen may say how much waits there (`waiting`): one cheap count, on the home page only, so
other pages' headers cost no query.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from sqlalchemy.orm import Session

from app.actions.repository import ActionRepository
from app.adt.repository import AdtRepository
from app.auth.access import AccessPolicy
from app.auth.actor import Actor
from app.timeutil import utcnow


@dataclass(frozen=True)
class Screen:
    key: str
    title: str
    href: str
    description: str
    read: str | None  # None: any signed-in user
    in_header: bool = True
    # What waits on the screen for the person's organisation, as a sentence for the home page.
    waiting: Callable[[Session, Actor], str] | None = None


def _refused_messages(db: Session, actor: Actor) -> str:
    count = AdtRepository(db).count_dead_letters(actor.organisation)
    if count == 0:
        return "None waiting."
    return f"{count} message{'s' if count != 1 else ''} waiting."


def _overdue_actions(db: Session, actor: Actor) -> str:
    count = ActionRepository(db).count_overdue(actor.organisation, utcnow())
    if count == 0:
        return "None of your organisation's actions is overdue."
    return f"{count} of your organisation's action{'s are' if count != 1 else ' is'} overdue."


SCREENS: tuple[Screen, ...] = (
    Screen(
        "tracker",
        "Tracker",
        "/tracker",
        "Every inpatient with an open discharge case: criteria to reside, delays, pathway, "
        "escalation.",
        "rfd.read",
    ),
    Screen(
        "actions",
        "My actions",
        "/actions",
        "Actions and milestones for you, your teams and your organisation: overdue first.",
        "actions.list",
        waiting=_overdue_actions,
    ),
    Screen(
        "huddle",
        "Huddle",
        "/huddle",
        "The daily escalation call: escalated patients, the longest waits, newly not meeting "
        "the criteria to reside; actions and escalation.",
        "rfd.read",
    ),
    Screen("chc", "CHC queue", "/chc/queue", "Claim and assess CHC cases.", "chc.worklist"),
    Screen(
        "ic-board",
        "IC board",
        "/ic/board",
        "Intermediate care services, the waiting list and open episodes with their clocks.",
        "ic.occupancy",
    ),
    Screen(
        "referrals",
        "Referrals",
        "/referrals",
        "Referrals between partners: those sent to your organisation, to triage, accept or "
        "reject, allocate and give a start date; and those your cases sent.",
        "referrals.read",
    ),
    Screen(
        "dashboard",
        "Dashboard",
        "/dashboard",
        "Today's delay figures, trends and the national returns.",
        "dashboard.metrics",
    ),
    Screen(
        "data-quality",
        "Data quality",
        "/dashboard/quality",
        "How well each ward records the criteria to reside and delay reasons behind the "
        "discharge-ready date, and the patients whose records to fix.",
        "quality.read",
        in_header=False,
    ),
    Screen(
        "adt-dead-letters",
        "PAS messages",
        "/adt/dead-letters",
        "Messages from the hospital's PAS that HomeFirst refused: retry or dismiss each.",
        "adt.messages",
        waiting=_refused_messages,
    ),
    Screen(
        "api-docs",
        "API documentation",
        "/docs",
        "Every operation of the HTTP API, for people building on HomeFirst.",
        None,
        in_header=False,
    ),
)


def screens_for(request: Request, actor: Actor) -> list[Screen]:
    access: AccessPolicy = request.app.state.access
    return [s for s in SCREENS if s.read is None or access.grant(s.read, actor.roles) is not None]


def waiting_on(db: Session, actor: Actor, screens: list[Screen]) -> dict[str, str]:
    """For the home page: what waits on each of these screens that counts it."""
    return {s.key: s.waiting(db, actor) for s in screens if s.waiting is not None}
