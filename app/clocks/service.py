"""Applying the pathway's clock rules inside the transition's transaction."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.clocks.repository import ClockRepository
from app.engine.calendars import parse_calendar
from app.engine.ports import ClockAction
from app.engine.spec import ClockSpec
from app.models import Case, Clock, ClockEvent


class ClockService:
    """Implements the engine's `ClockPort` over the clock repository."""

    def __init__(self, repo: ClockRepository, *, now: datetime) -> None:
        self.repo = repo
        self.now = now

    def apply(self, case: Case, actions: list[ClockAction], *, at: datetime, seq: int) -> None:
        for action in actions:
            clock = self.repo.current(case.id, action.clock.name)
            if action.verb == "start":
                self._start(case, action.clock, clock, at, seq)
            elif clock is None or clock.state == "stopped":
                continue  # pausing, resuming or stopping a clock that is not running is a no-op
            elif action.verb == "pause" and clock.state == "running":
                _consume(clock, at)
                clock.state, clock.running_since = "paused", None
                self._evidence(clock, "paused", at, seq)
            elif action.verb == "resume" and clock.state == "paused":
                clock.state, clock.running_since = "running", at
                self._evidence(clock, "resumed", at, seq)
            elif action.verb == "stop":
                self._stop(clock, at, seq)
            if clock is not None:
                schedule(clock)

    def _start(
        self, case: Case, spec: ClockSpec, clock: Clock | None, at: datetime, seq: int
    ) -> None:
        if clock is not None and clock.state != "stopped":
            if not spec.restart:
                return  # already running: a second start does not reset the clock
            self._stop(clock, at, seq)
            schedule(clock)
        warnings = [int(w.total_seconds()) for w in spec.warning_deltas]
        new = Clock(
            case_id=case.id,
            name=spec.name,
            cycle=(clock.cycle + 1) if clock else 1,
            calendar=spec.calendar,
            budget_seconds=int(spec.target_delta.total_seconds()),
            warning_seconds=warnings,
            warnings_fired=0,
            consumed_seconds=0.0,
            state="running",
            running_since=at,
            started_at=at,
            stopped_at=None,
            due_at=None,
            warn_at=None,
            next_check_at=None,
            warned_at=None,
            breached_at=None,
        )
        schedule(new)
        self.repo.add(new)
        self._evidence(new, "started", at, seq)

    def _stop(self, clock: Clock, at: datetime, seq: int) -> None:
        if clock.state == "running":
            _consume(clock, at)
        clock.state, clock.running_since, clock.stopped_at = "stopped", None, at
        self._evidence(clock, "stopped", at, seq)

    def _evidence(self, clock: Clock, kind: str, at: datetime, seq: int | None) -> None:
        self.repo.stage_evidence(
            ClockEvent(
                clock_id=clock.id,
                case_id=clock.case_id,
                kind=kind,
                at=at,
                recorded_at=self.now,
                case_event_seq=seq,
                dedupe_key=None,
                threshold_seconds=None,
            )
        )


def _consume(clock: Clock, at: datetime) -> None:
    if clock.running_since is not None:
        calendar = parse_calendar(clock.calendar)
        clock.consumed_seconds += calendar.elapsed(clock.running_since, at).total_seconds()


def threshold_instant(clock: Clock, seconds: int) -> datetime:
    """When a running clock reaches `seconds` of counted time.

    A threshold already passed before the latest resume is placed at the resume: the exact
    instant of an earlier running stretch is not kept.
    """
    assert clock.running_since is not None  # noqa: S101 - only asked of running clocks
    remaining = timedelta(seconds=seconds - clock.consumed_seconds)
    if remaining <= timedelta(0):
        return clock.running_since
    return parse_calendar(clock.calendar).advance(clock.running_since, remaining)


def schedule(clock: Clock) -> None:
    """Recompute due and warning instants and the next time the sweeper must look."""
    if clock.state != "running" or clock.running_since is None:
        clock.due_at = clock.warn_at = clock.next_check_at = None
        return
    clock.due_at = threshold_instant(clock, clock.budget_seconds)
    pending_warnings = clock.warning_seconds[clock.warnings_fired :]
    clock.warn_at = threshold_instant(clock, pending_warnings[0]) if pending_warnings else None
    pending = [t for t in (clock.warn_at, None if clock.breached_at else clock.due_at) if t]
    clock.next_check_at = min(pending) if pending else None
