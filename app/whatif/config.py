"""The what-if simulation's configuration, `pathways/config/whatif.yaml`: the look-back window,
the default horizon and runs, the figures used where the event log shows none (each with its
status and source), and the size of the reference system the bench and the 1,000-bed scaling
use. Loaded when the service starts: a bad file stops the start."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from app.configfiles import ConfigFileError, load_config

FILE = "whatif.yaml"
Status = Literal["VERIFIED", "UNVERIFIED", "LOCAL"]


class WhatIfConfigError(ConfigFileError):
    """`whatif.yaml` is missing or invalid."""


class Figure(BaseModel):
    """A configured figure: what it is worth, whether it was checked, and where it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value: float = Field(ge=0, le=100_000)
    status: Status
    source: str = Field(min_length=1, max_length=1000)


class Reference(BaseModel):
    """A system of `beds` acute beds (the bench's, and what a 'scale to N beds' run multiplies
    the observed figures by N / acute_beds to reach)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    beds: int = Field(ge=1, le=100_000)
    p1_arrivals_per_day: float = Field(ge=0)
    p1_starts_per_day: float = Field(ge=0)
    p1_waiting: int = Field(ge=0)
    p2_arrivals_per_day: float = Field(ge=0)
    p2_beds: int = Field(ge=0)
    p2_waiting: int = Field(ge=0)
    p3_arrivals_per_day: float = Field(ge=0)
    p3_starts_per_day: float = Field(ge=0)
    p3_waiting: int = Field(ge=0)
    chc_arrivals_per_week: float = Field(ge=0)
    chc_backlog: int = Field(ge=0)
    chc_assessors: float = Field(ge=0)
    status: Status
    source: str = Field(min_length=1, max_length=2000)


class WhatIfConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    look_back_weeks: int = Field(default=8, ge=1, le=52)
    horizon_weeks: int = Field(default=12, ge=1, le=52)
    runs: int = Field(default=50, ge=1, le=500)
    # Fewer finished stays than this in the window: the configured length of stay is used.
    min_observed_stays: int = Field(default=5, ge=1)
    acute_beds: Figure
    community_beds: Figure
    p2_length_of_stay_days: Figure
    chc_assessors: Figure
    chc_assessments_per_assessor_per_week: Figure
    reference: Reference


def load_whatif_config(config_dir: Path) -> WhatIfConfig:
    return load_config(config_dir, FILE, WhatIfConfig, error=WhatIfConfigError)
