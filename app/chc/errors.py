"""CHC errors: each a DomainError with a stable `code`, rendered as problem+json."""

from __future__ import annotations

from app.auth.actor import Actor
from app.errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed

# Who may read the working list (patient data): CHC staff and managers (read-only).
READ_ROLES = ("chc_assessor", "chc_panel", "chc_decision_maker", "broker", "manager", "admin")
REPORT_ROLES = (*READ_ROLES, "analyst")
ASSESSOR_ROLES = ("chc_assessor",)
IMPORT_ROLES = ("chc_assessor",)


class QueueEmpty(NotFound):
    code, title = "queue_empty", "Nothing to claim"


class ClaimLimitReached(Conflict):
    code, title = "claim_limit_reached", "You already hold the most claims allowed"


class NotClaimHolder(Forbidden):
    code, title = "not_claim_holder", "The case is claimed by someone else"


class NotClaimed(Conflict):
    code, title = "not_claimed", "The case is not claimed"


class AlreadyResolved(Conflict):
    code, title = "already_resolved", "Already resolved"


class ImportFileInvalid(ValidationFailed):
    code, title = "import_file_invalid", "The file cannot be read as a backlog list"


class NotAPanelDate(NotFound):
    code, title = "not_a_panel_date", "No panel on that date"


class NotChcCase(NotFound):
    code, title = "not_found", "Not found"


def require_role(actor: Actor, roles: tuple[str, ...], what: str) -> str:
    role = actor.role_for(roles)
    if role is None:
        raise Forbidden(
            f"{what} needs one of the roles: {', '.join(roles)}", required_roles=list(roles)
        )
    return role


__all__ = [
    "AlreadyResolved",
    "ClaimLimitReached",
    "DomainError",
    "ImportFileInvalid",
    "NotAPanelDate",
    "NotChcCase",
    "NotClaimed",
    "NotClaimHolder",
    "QueueEmpty",
    "require_role",
]
