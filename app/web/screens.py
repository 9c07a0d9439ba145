"""The screens, who may open each, and the home page's list of them.

A screen is shown to a person (on the home page and in the header) when their roles hold the
read it needs in pathways/config/access.yaml: the same need-to-know table the API applies, so
a link never leads to a 403. Each screen's routes declare the same read (`app.web.access`).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from app.auth.access import AccessPolicy
from app.auth.actor import Actor


@dataclass(frozen=True)
class Screen:
    key: str
    title: str
    href: str
    description: str
    read: str | None  # None: any signed-in user
    in_header: bool = True


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
        "dashboard",
        "Dashboard",
        "/dashboard",
        "Today's delay figures, trends and the national returns.",
        "dashboard.metrics",
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
