"""Intermediate-care settings, read from pathways/config/ic.yaml and checked at load.

Everything here is a local choice or a provisional reading of a national measure (docs/domain.md
§8.4, §8.6, §8.9, §13 L8-L9), so it is data, not code.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.configfiles import ConfigFileError, load_config

FILE = "ic.yaml"
MODELS = ("crisis_response", "home_based_ic", "reablement", "bed_based_ic")
Model = Literal["crisis_response", "home_based_ic", "reablement", "bed_based_ic"]


class IcConfigError(ConfigFileError):
    """The IC configuration file is invalid; the message names the file."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WaitingList(_Strict):
    priority_order: tuple[str, ...] = ("urgent", "high", "routine")


class BedBasedStart(_Strict):
    """How NICE QS173 statement 2's "within 2 days of referral" is read (see ic.yaml)."""

    within_days: int = Field(default=2, ge=1, le=30)
    counting: Literal["calendar_days", "elapsed_hours"] = "calendar_days"


class CohortWindow(_Strict):
    """The hospital discharge dates of the national ASCOF 2B cohort (1 Oct - 31 Dec)."""

    from_month: int = Field(default=10, ge=1, le=12)
    from_day: int = Field(default=1, ge=1, le=31)
    to_month: int = Field(default=12, ge=1, le=12)
    to_day: int = Field(default=31, ge=1, le=31)

    @model_validator(mode="after")
    def _check(self) -> CohortWindow:
        first, last = self.bounds(2001)  # a year without 29 February: the strictest
        if last < first:
            raise ValueError("the cohort window must end on or after its start, in one year")
        return self

    def bounds(self, year: int) -> tuple[date, date]:
        """The first and last discharge dates of the cohort of `year` (both inclusive)."""
        try:
            return (
                date(year, self.from_month, self.from_day),
                date(year, self.to_month, self.to_day),
            )
        except ValueError as exc:
            raise ValueError(f"the cohort window is not a real date: {exc}") from None


class StillAtHomeFollowUp(_Strict):
    days: int = Field(default=91, ge=1, le=365)
    after_models: tuple[Model, ...] = ("reablement", "home_based_ic", "bed_based_ic")
    directions: tuple[Literal["step_up", "step_down"], ...] = ("step_down",)
    # Outcomes whose 91-day result is already known, so nobody is called: counted as that result.
    no_call_outcomes: tuple[Literal["died"], ...] = ("died",)
    minimum_age: int = Field(default=65, ge=0, le=130)
    cohort_discharged: CohortWindow = CohortWindow()


class UcrCondition(_Strict):
    label: str = Field(min_length=1, max_length=200)
    # True: the published wording, copied exactly; False: by topic (UNVERIFIED) or local.
    verbatim: bool
    note: str = ""


class IcConfig(_Strict):
    status: Literal["provisional", "confirmed"] = "provisional"
    ucr_standard_percent: float = Field(default=70, ge=0, le=100)
    step_down_pathways: tuple[str, ...] = ("P1", "P2")
    waiting_list: WaitingList = WaitingList()
    rehabilitation_models: tuple[Model, ...] = ("home_based_ic", "reablement", "bed_based_ic")
    bed_based_start: BedBasedStart = BedBasedStart()
    still_at_home_follow_up: StillAtHomeFollowUp = StillAtHomeFollowUp()
    ucr_conditions: dict[str, UcrCondition] = {}

    def ucr_condition(self, condition: object) -> tuple[str, str, bool] | None:
        """A recorded UCR condition as (id, words shown, verbatim); an id the configuration does
        not list is shown as itself, not verbatim."""
        if not isinstance(condition, str) or not condition:
            return None
        known = self.ucr_conditions.get(condition)
        if known is None:
            return condition, condition, False
        return condition, known.label, known.verbatim


def load_ic_config(directory: Path) -> IcConfig:
    """The settings in `directory/ic.yaml`, or the defaults when there is no such file."""
    return load_config(directory, FILE, IcConfig, required=False, error=IcConfigError)


@lru_cache
def ic_config(directory: Path | None = None) -> IcConfig:
    """The configuration beside the configured pathways (cached per directory)."""
    if directory is None:
        from app.config import get_settings

        directory = get_settings().pathways_dir / "config"
    return load_ic_config(directory)
