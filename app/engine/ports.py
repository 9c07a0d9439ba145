"""What the engine needs from the outside world, as protocols (fakes in unit tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from app.engine.spec import ClockSpec
from app.models import Case, CaseEvent

ClockVerb = Literal["start", "pause", "resume", "stop"]


@dataclass(frozen=True)
class ClockAction:
    clock: ClockSpec
    verb: ClockVerb


class CaseStore(Protocol):
    def add_case(self, case: Case) -> None:
        """Stage a new case and give it an id."""

    def append_event(self, event: CaseEvent) -> None:
        """Stage an event; a clash on (case_id, seq) must surface here, not at commit."""

    def last_occurred_at(self, case_id: int, event: str) -> datetime | None:
        """Clinical time of the case's latest event of this kind."""


class ClockPort(Protocol):
    def apply(self, case: Case, actions: list[ClockAction], *, at: datetime, seq: int) -> None:
        """Start, pause, resume or stop the case's clocks as the pathway declares."""
