"""All ORM tables; importing this package registers them on `Base.metadata`."""

from app.models.base import Base
from app.models.case import Case
from app.models.clock import Clock, ClockEvent
from app.models.event import AppendOnlyViolation, CaseEvent
from app.models.idempotency import IdempotencyRecord
from app.models.link import CaseLink
from app.models.user import ApiToken, User

__all__ = [
    "ApiToken",
    "AppendOnlyViolation",
    "Base",
    "Case",
    "CaseEvent",
    "CaseLink",
    "Clock",
    "ClockEvent",
    "IdempotencyRecord",
    "User",
]
