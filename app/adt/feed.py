"""One ADT message being applied: where it came from, who writes, and the two ways it writes
(an event through the transition entry point, with the message named as the reason)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.adt.config import Interface
from app.adt.message import AdtMessage
from app.adt.repository import AdtRepository
from app.auth.actor import Actor
from app.cases.transition import CaseWriter
from app.engine.engine import Command
from app.models import Case

INPATIENT = ("referred", "assessing", "ready_for_discharge", "awaiting_support")
LEFT = ("discharged", "post_discharge_assessment", "follow_up")


@dataclass
class Applied:
    case_id: int | None = None
    events: list[str] = field(default_factory=list)
    note: str | None = None  # why nothing was written, when nothing was
    ignored: bool = False  # a message with nothing for HomeFirst (AA, outcome "ignored")


@dataclass(frozen=True)
class Feed:
    session: Session
    writer: CaseWriter
    interface: Interface
    actor: Actor
    now: datetime

    @property
    def repo(self) -> AdtRepository:
        return AdtRepository(self.session)

    def fire(
        self, case: Case, trigger: str, data: dict[str, Any], at: datetime | None, reason: str
    ) -> None:
        self.writer.fire(
            self.session, case.id, Command(trigger, self.actor, data, at, reason), now=self.now
        )

    def reason(self, msg: AdtMessage, what: str) -> str:
        """On every event the feed writes: which message it came from (a backdated event needs
        a reason, and the history should say where each change came from)."""
        return (
            f"PAS {msg.trigger} {what} (interface {self.interface.key}, message {msg.control_id})"
        )
