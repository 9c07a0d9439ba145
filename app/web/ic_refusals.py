"""What the IC board says when a change is refused: the API's answer (a DomainError from the
transition entry point) in the person's words, each message linked to the form field it is
about, with what they chose or typed kept for the form, and, when someone else changed the
episode first, what they did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy.orm import Session

from app.cases import service as cases
from app.errors import (
    DomainError,
    Forbidden,
    GuardRejected,
    InvalidTransition,
    NotFound,
    StaleCase,
    ValidationFailed,
)
from app.web import ic_view

Action = Literal["start", "move", "end"]
VERB = {"start": ("start", "started"), "move": ("move", "moved"), "end": ("end", "ended")}
# The form fields a refusal can point at, with the words a person reads.
FIELD_WORDS = {
    "service_id": "the service",
    "move_reason": "the reason for the move",
    "capacity_override_reason": "the reason to go over capacity",
    "outcome": "the outcome",
}


@dataclass
class Refusal:
    """A change that was refused: what to tell the person (each message with the field it is
    about) and what they had chosen or typed, put back in the form so nothing is lost."""

    action: Action
    case_id: int | None
    status_code: int
    heading: str
    messages: list[tuple[str, str]]
    kept: dict[str, str] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    # Offer the reason to go over capacity: the chosen service is full (or one was given).
    over_capacity: bool = False

    def about(self, action: str, case_id: int) -> bool:
        return self.action == action and self.case_id == case_id

    def error(self, field_id: str) -> str:
        """The messages about one form field, for its error message."""
        return " ".join(text for text, href in self.messages if href == f"#{field_id}")


def refusal_for(
    db: Session,
    action: Action,
    case_id: int,
    read_version: int,
    exc: DomainError,
    kept: dict[str, str],
) -> Refusal:
    """The API's answer in the person's words, each message linked to the field it is about."""
    verb, done = VERB[action]
    heading = f"The episode could not be {done}"
    here = f"#{action}-service-{case_id}" if action != "end" else f"#end-outcome-{case_id}"
    messages: list[tuple[str, str]]
    changed: list[str] = []
    if isinstance(exc, StaleCase):
        heading = "Someone else changed this episode after you loaded the board"
        changed = _changes_since(db, case_id, read_version)
        messages = [
            (
                "The board now shows the episode as it is. Check it, then try again.",
                f"#case-{case_id}",
            )
        ]
    elif isinstance(exc, GuardRejected):
        messages = [(reason, here) for reason in exc.extra.get("reasons") or [exc.detail]]
    elif isinstance(exc, ValidationFailed):
        messages = [_field_message(action, case_id, e) for e in exc.extra.get("errors") or []]
        messages = messages or [(exc.detail, here)]
    elif isinstance(exc, InvalidTransition):
        state = ic_view.words(str(exc.extra.get("state", ""))).lower()
        messages = [(f"The episode is {state} now, so it cannot be {done}.", f"#case-{case_id}")]
    elif isinstance(exc, Forbidden):
        roles = ", ".join(ic_view.words(r).lower() for r in exc.extra.get("required_roles") or [])
        messages = [
            (
                f"Only these roles may {verb} an episode: {roles}." if roles else exc.detail,
                "#board-title",
            )
        ]
    elif isinstance(exc, NotFound):
        messages = [
            (f"There is no episode {case_id} that your organisation can see.", "#board-title")
        ]
    else:
        messages = [(exc.detail, here)]
    return Refusal(action, case_id, exc.status_code, heading, messages, kept, changed)


def _field_message(action: Action, case_id: int, error: dict[str, Any]) -> tuple[str, str]:
    name, problem = str(error.get("field", "")), str(error.get("problem", ""))
    words = FIELD_WORDS.get(name, name.replace("_", " "))
    ids = {
        "service_id": f"{action}-service-{case_id}",
        "move_reason": f"move-reason-{case_id}",
        "capacity_override_reason": f"{action}-override-{case_id}",
        "outcome": f"end-outcome-{case_id}",
    }
    if problem == "required":
        text = f"Choose {words}" if name in ("service_id", "outcome") else f"Enter {words}"
    else:
        text = f"{words[0].upper()}{words[1:]} {problem}"
    return text + ".", f"#{ids.get(name, f'case-{case_id}')}"


def _changes_since(db: Session, case_id: int, read_version: int) -> list[str]:
    """What happened to the case after the version the person read, as sentences."""
    try:
        events = cases.history(db, case_id=case_id)
    finally:
        db.rollback()
    return [
        f"{ic_view.words(e.event)} by {e.actor.username}, {ic_view.when(e.occurred_at)}"
        for e in events
        if e.seq > read_version
    ]
