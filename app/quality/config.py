"""The local settings of the data-quality measures: `pathways/config/data-quality.yaml`.

Every threshold here is HomeFirst's (or the ICB's) choice, not a national rule: README "Data
quality of discharge-ready dates" and the UNVERIFIED/LOCAL list. Loaded and checked when the
service starts; a bad file stops the start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.configfiles import load_config

FILE = "data-quality.yaml"
# The problems a census patient can have on a day (README: the definitions).
Problem = Literal[
    "no_status", "backdated", "flip_flop", "delayed_no_reason", "reason_while_meeting"
]
PROBLEMS: tuple[Problem, ...] = (
    "no_status",
    "backdated",
    "flip_flop",
    "delayed_no_reason",
    "reason_while_meeting",
)


class QualityConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # The census: inpatients at the end of the day with at least this many nights in hospital
    # (London calendar dates from admission to the census day). 1 = "one night or more".
    min_nights: int = Field(default=1, ge=0, le=365)
    # A criteria-to-reside entry recorded more than this many hours after its clinical time
    # counts as backdated for these measures (the engine's own 15-minute rule, which asks for a
    # reason, is a different, stricter line).
    backdated_after_hours: int = Field(default=24, ge=1, le=24 * 365)
    # Bands of how late a backdated entry was, in hours: each value starts a band.
    backdated_bands_hours: tuple[int, ...] = (24, 72, 168)
    # A flip-flop: "not meeting", then "meets again", then "not meeting" again within this many
    # hours (clinical time) of the "meets again".
    flip_flop_window_hours: int = Field(default=72, ge=1, le=24 * 365)
    # A patient not meeting the criteria is "delayed" (and owes a delay reason) from this many
    # days after the discharge-ready date (1 = from the day after it).
    delay_reason_due_after_days: int = Field(default=1, ge=0, le=365)
    # Which problems make a census patient count against the composite score.
    score_counts: tuple[Problem, ...] = PROBLEMS
    # The most days one series (or its CSV) may cover.
    max_series_days: int = Field(default=93, ge=1, le=366)

    @model_validator(mode="after")
    def _bands(self) -> QualityConfig:
        bands = self.backdated_bands_hours
        if not bands or list(bands) != sorted(set(bands)):
            raise ValueError("backdated_bands_hours: strictly increasing, at least one")
        if bands[0] != self.backdated_after_hours:
            raise ValueError(
                "backdated_bands_hours: the first band starts at backdated_after_hours"
            )
        return self

    def band_labels(self) -> list[str]:
        bands = self.backdated_bands_hours
        return [
            f"{start}h to {bands[i + 1]}h" if i + 1 < len(bands) else f"{start}h or more"
            for i, start in enumerate(bands)
        ]

    def band_of(self, hours: float) -> str:
        """The label of the band `hours` of lateness falls in (at least the first band)."""
        labels = self.band_labels()
        found = labels[0]
        for start, label in zip(self.backdated_bands_hours, labels, strict=True):
            if hours >= start:
                found = label
        return found


def load_quality_config(config_dir: Path) -> QualityConfig:
    """`config_dir/data-quality.yaml` (its defaults when the file is absent)."""
    return load_config(config_dir, FILE, QualityConfig, required=False)
