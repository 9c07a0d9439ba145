"""Intermediate-care settings, read from pathways/config/ic.yaml and checked at load.

Everything here is a local choice or a provisional reading of a national measure (docs/domain.md
§8.4, §8.6, §8.9, §13 L8-L9), so it is data, not code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

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


class StillAtHomeFollowUp(_Strict):
    days: int = Field(default=91, ge=1, le=365)
    after_models: tuple[Model, ...] = ("reablement",)
    directions: tuple[Literal["step_up", "step_down"], ...] = ("step_down",)
    not_applicable_outcomes: tuple[str, ...] = ("died",)


class IcConfig(_Strict):
    status: Literal["provisional", "confirmed"] = "provisional"
    ucr_standard_percent: float = Field(default=70, ge=0, le=100)
    step_down_pathways: tuple[str, ...] = ("P1", "P2")
    waiting_list: WaitingList = WaitingList()
    rehabilitation_models: tuple[Model, ...] = ("home_based_ic", "reablement", "bed_based_ic")
    still_at_home_follow_up: StillAtHomeFollowUp = StillAtHomeFollowUp()


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
