"""Marks the finished days that an entry recorded late may have changed (issue 16, item 13).

A ward round's entries are often recorded the next morning with the time they happened, and the
PAS sends a transfer or discharge after the fact. A day's stored figures never change, but the
events then say something else about that day. This read model, kept by the one transition entry
point like the spell projection, adds a mark for each discharge entry whose clinical time falls
before today (London): for the day it happened on, or, for a newly opened case, the day of the
admission. The restatement job (`app.dashboard.restatements`) computes the marked days and the
days after them again, and keeps the figures that differ beside the originals.

It is a queue, not a derivation of the events: `rebuild` and `check` have nothing to do.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from app.engine.readmodels import Change
from app.models.snapshot import RestatementMark
from app.timeutil import london_date

WORKFLOW = "discharge"


def first_day_touched(change: Change) -> date | None:
    """The earliest finished day the change can alter, or None if it touches only today."""
    at = change.event.occurred_at
    if change.opened:
        admitted = (change.case.attributes or {}).get("admitted_at")
        if admitted:
            at = min(at, datetime.fromisoformat(admitted))
    day = london_date(at)
    return day if day < london_date(change.now) else None


class RestatementMarks:
    """The read model (see the module's docstring)."""

    name = "restatement_marks"
    workflows = frozenset({WORKFLOW})

    def project(self, session: Session, change: Change) -> None:
        day = first_day_touched(change)
        if day is not None:
            session.execute(
                insert(RestatementMark).values(
                    day=day, marked_at=change.now, case_id=change.case.id
                )
            )

    def tick(self, session: Session, *, now: datetime) -> int:  # noqa: ARG002 - no time part
        return 0

    def rebuild(self, session: Session, *, now: datetime) -> int:  # noqa: ARG002 - a queue
        return 0

    def check(self, session: Session, *, now: datetime) -> list[str]:  # noqa: ARG002 - a queue
        return []
