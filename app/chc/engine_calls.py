"""Opening and moving CHC cases: always through the engine, inside the caller's Unit of Work.

One place builds the engine's ports (case store, clocks, effects) so that every CHC use case
changes cases exactly as `POST /cases/{id}/events` does: one event per change, clocks applied.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.cases.effects import CaseEffectPorts
from app.cases.repository import CaseRepository
from app.clocks.repository import ClockRepository
from app.clocks.service import ClockService
from app.engine.engine import Command, Engine, OpenCommand
from app.models import Case, CaseEvent


def open_case(session: Session, engine: Engine, cmd: OpenCommand, *, now: datetime) -> Case:
    return engine.open_case(
        cmd,
        now=now,
        store=CaseRepository(session),
        clocks=ClockService(ClockRepository(session), now=now),
    )


def fire(session: Session, engine: Engine, case: Case, cmd: Command, *, now: datetime) -> CaseEvent:
    return engine.fire(
        case,
        cmd,
        now=now,
        store=CaseRepository(session),
        clocks=ClockService(ClockRepository(session), now=now),
        effects=CaseEffectPorts(session, engine, cmd.actor, now),
    )
