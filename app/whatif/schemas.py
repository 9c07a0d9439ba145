"""A what-if request: the capacity changes to try, and the run's options. Every number is
bounded (a run's cost grows with runs x weeks x size): a value outside is a 422 naming it."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from app.security.inputs import RequestModel
from app.whatif.model import Scenario

MAX_SEED = 2**31 - 1_001  # seed + runs stays a 32-bit integer


class WhatIfRequest(RequestModel):
    p1_starts_per_day: float = Field(
        default=0,
        ge=-100,
        le=100,
        allow_inf_nan=False,
        description="More (or fewer) P1 starts a day",
    )
    community_beds: int = Field(
        default=0, ge=-500, le=500, description="More (or fewer) P2 community beds"
    )
    p2_length_of_stay_days: float = Field(
        default=0, ge=-60, le=60, allow_inf_nan=False, description="Longer (or shorter) P2 stays"
    )
    p3_starts_per_day: float = Field(
        default=0,
        ge=-50,
        le=50,
        allow_inf_nan=False,
        description="More (or fewer) P3 placements a day",
    )
    chc_assessors: float = Field(
        default=0, ge=-50, le=50, allow_inf_nan=False, description="More (or fewer) CHC assessors"
    )
    arrivals_percent: float = Field(
        default=0,
        ge=-50,
        le=100,
        allow_inf_nan=False,
        description="Demand: every pathway's arrivals changed by this percentage",
    )
    weeks: int | None = Field(
        default=None, ge=1, le=26, description="Horizon (whatif.yaml if omitted)"
    )
    runs: int | None = Field(default=None, ge=1, le=200, description="Runs of each arm")
    seed: int | None = Field(
        default=None, ge=0, le=MAX_SEED, description="The same seed gives the same result"
    )
    look_back_weeks: int | None = Field(
        default=None, ge=1, le=52, description="Weeks of events the rates are averaged over"
    )
    scale_to_beds: int | None = Field(
        default=None,
        ge=50,
        le=3000,
        description="Run on the observed system scaled to this many acute beds",
    )

    def scenario(self) -> Scenario:
        return Scenario(**self.changes())

    def changes(self) -> dict[str, Any]:
        return {
            "p1_starts_per_day": self.p1_starts_per_day,
            "community_beds": self.community_beds,
            "p2_length_of_stay_days": self.p2_length_of_stay_days,
            "p3_starts_per_day": self.p3_starts_per_day,
            "chc_assessors": self.chc_assessors,
            "arrivals_percent": self.arrivals_percent,
        }
