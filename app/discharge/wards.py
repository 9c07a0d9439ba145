"""Which ward a patient was on at a given instant, from the case's events.

A ward is named by the case's opening event, by `ward_transfer` (A02 from the PAS, or recorded
by the ward) and by `update_details` when it carries a ward. The ward at an instant is the one
named by the latest of those events with clinical time at or before it; entries at the same
instant keep the order they were recorded in. So a transfer recorded late, backdated to
yesterday afternoon, puts yesterday evening's figures on the new ward, and a finished day's
figures for a ward count the patients who were on it then, not where they are now.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

WARD_EVENTS = frozenset({"open", "update_details", "ward_transfer"})


class EventLike(Protocol):
    """A case event as these derivations read it: an ORM row or a row of selected columns."""

    @property
    def event(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def data(self) -> Any: ...


def ward_entries(events: Iterable[EventLike]) -> list[tuple[datetime, int, str]]:
    """(clinical time, seq, ward) of every event naming a ward, in clinical order."""
    out = []
    for e in events:
        if e.event not in WARD_EVENTS:
            continue
        ward = (e.data or {}).get("ward")
        if isinstance(ward, str) and ward:
            out.append((e.occurred_at, e.seq, ward))
    return sorted(out)


def ward_at(events: Iterable[EventLike], instant: datetime) -> str | None:
    """The ward the patient was on at `instant` (None before any event named one)."""
    found = None
    for at, _, ward in ward_entries(events):
        if at > instant:
            break
        found = ward
    return found


def latest_ward(events: Iterable[EventLike]) -> tuple[str | None, datetime | None]:
    """The ward named last in clinical time, and that time: the spell row's `ward`."""
    entries = ward_entries(events)
    if not entries:
        return None, None
    at, _, ward = entries[-1]
    return ward, at
