"""The expected discharge date (EDD): the team's plan, kept apart from the discharge-ready date
that the criteria-to-reside log derives (issue 17, item 1).

It is set on admission (by the ward, or from the PAS's PV2-9 over the ADT feed), when the hub
accepts the referral, or by a detail update; from version 4 of the discharge pathway a change
needs a reason. Every setting stays in the events, so its history is theirs: which date, when
(clinical time and when recorded), by whom and why. The EDD at an instant is the one set by the
latest entry with clinical time at or before it (entries at the same instant keep the order they
were recorded in); the first EDD is the one set earliest, against which managers see how far
discharges landed from the plan.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from app.discharge.schemas import EddRead, EddSettingRead
from app.discharge.wards import EventLike
from app.timeutil import london_date

EDD = "expected_discharge_date"
EDD_EVENTS = frozenset({"open", "accept", "update_details"})


class EddEvent(EventLike, Protocol):
    """An event as the EDD history reads it: what a ward entry has, and who wrote it and why."""

    @property
    def recorded_at(self) -> datetime: ...
    @property
    def actor_username(self) -> str: ...
    @property
    def reason(self) -> str | None: ...


@dataclass(frozen=True)
class EddSetting:
    expected: date
    at: datetime  # clinical time
    seq: int
    recorded_at: datetime
    by: str
    reason: str | None


def settings_of(events: Iterable[EddEvent]) -> list[EddSetting]:
    """Every entry that set an EDD, in clinical order (ties: recorded order)."""
    out = []
    for e in events:
        if e.event not in EDD_EVENTS:
            continue
        raw = (e.data or {}).get(EDD)
        if not raw:
            continue
        out.append(
            EddSetting(
                date.fromisoformat(raw),
                e.occurred_at,
                e.seq,
                e.recorded_at,
                e.actor_username,
                e.reason,
            )
        )
    return sorted(out, key=lambda s: (s.at, s.seq))


def edd_at(settings: list[EddSetting], instant: datetime) -> date | None:
    """The EDD in force at `instant` (None before any was set)."""
    found = None
    for s in settings:
        if s.at > instant:
            break
        found = s.expected
    return found


def first_edd(settings: list[EddSetting], instant: datetime | None = None) -> date | None:
    """The first EDD set (at or before `instant`, if given)."""
    if settings and (instant is None or settings[0].at <= instant):
        return settings[0].expected
    return None


def edd_read(settings: list[EddSetting], left: datetime | None, now: datetime) -> EddRead:
    current = edd_at(settings, left or now)
    first = first_edd(settings)
    return EddRead(
        current=current,
        first=first,
        missed=left is None and current is not None and current < london_date(now),
        landed_days_from_first=(london_date(left) - first).days if left and first else None,
        history=[
            EddSettingRead(
                expected_discharge_date=s.expected,
                at=s.at,
                recorded_at=s.recorded_at,
                by=s.by,
                reason=s.reason,
            )
            for s in settings
        ],
    )
