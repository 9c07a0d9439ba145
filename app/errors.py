"""Domain errors.

Services and the engine raise `DomainError` subclasses carrying an HTTP status and a stable
machine-readable `code`; `app.problems` renders them. Nothing here imports FastAPI.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "bad_request"
    title = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def headers(self) -> dict[str, str]:
        return {}


class Unauthorized(DomainError):
    status_code, code, title = 401, "unauthorized", "Authentication required"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(DomainError):
    status_code, code, title = 403, "forbidden", "Not permitted"


class NotFound(DomainError):
    status_code, code, title = 404, "not_found", "Not found"


class InvalidTransition(DomainError):
    status_code, code, title = 409, "invalid_transition", "Event not allowed in this state"


class GuardRejected(DomainError):
    status_code, code, title = 409, "guard_rejected", "Event refused by a rule"


class Conflict(DomainError):
    status_code, code, title = 409, "conflict", "Conflict"


class StaleCase(DomainError):
    status_code, code, title = 412, "stale_case", "The case has changed since you read it"


class IfMatchInvalid(DomainError):
    """If-Match is there but is not exactly one strong ETag as the service writes them."""

    status_code, code, title = 412, "if_match_invalid", "If-Match is not an ETag of this case"


class PreconditionRequired(DomainError):
    status_code, code, title = 428, "precondition_required", "If-Match header required"


class ValidationFailed(DomainError):
    status_code, code, title = 422, "validation_failed", "Invalid data"


class IdempotencyKeyReused(DomainError):
    status_code, code, title = 422, "idempotency_key_reused", "Idempotency key reused"
