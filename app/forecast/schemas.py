"""The start windows' response: a model, so a grant without identifiers withholds them
(`app.auth.access.withhold_identifiers`)."""

from __future__ import annotations

from pydantic import BaseModel


class StartWindowRead(BaseModel):
    case_id: int
    patient_ref: str | None
    queue: str
    label: str
    place: int | None  # None: held back (no place counted)
    of: int  # patients counted in the queue (those held back are not)
    rag: str | None
    waiting_since: str
    waiting_days: int
    earliest: str | None
    likely: str | None
    latest: str | None  # None: beyond the horizon in at least the upper share of futures
    beyond_horizon: bool
    held_back: bool
    interval: float | None
    basis: str


class StartWindowsRead(BaseModel):
    as_at: str
    method: str
    queue: str | None
    count: int
    items: list[StartWindowRead]
