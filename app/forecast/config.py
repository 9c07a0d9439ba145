"""The estimates' configuration, `pathways/config/forecast.yaml`: windows, paths and the
backtest's dates. Checked when the service starts, like the other files."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from app.configfiles import ConfigFileError, load_config

FILE = "forecast.yaml"


class ForecastConfigError(ConfigFileError):
    """`forecast.yaml` is missing or invalid."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DischargeQueues(_Frozen):
    window_days: int = Field(default=28, ge=7, le=365)
    pathways: tuple[str, ...] = Field(default=("P1", "P2", "P3", "P3b"), min_length=1)


class ChcQueue(_Frozen):
    window_days: int = Field(default=56, ge=7, le=365)


class HeldBack(_Frozen):
    min_overtaken: int = Field(default=5, ge=1, le=1000)
    share: float = Field(default=0.5, gt=0, le=1)


class Queues(_Frozen):
    discharge: DischargeQueues = DischargeQueues()
    chc: ChcQueue = ChcQueue()
    held_back: HeldBack = HeldBack()


class Clearance(_Frozen):
    window_days: int = Field(default=56, ge=7, le=365)
    paths: int = Field(default=400, ge=50, le=5000)
    horizon_weeks: int = Field(default=104, ge=4, le=520)
    fan_weeks: int = Field(default=12, ge=1, le=52)


class Backtest(_Frozen):
    every_days: int = Field(default=7, ge=1, le=31)
    weeks: int = Field(default=12, ge=1, le=104)
    clearance_ahead_weeks: int = Field(default=4, ge=1, le=26)
    keep_minutes: int = Field(default=30, ge=0, le=1440)


class ForecastConfig(_Frozen):
    interval: float = Field(default=0.8, gt=0.5, lt=1)
    paths: int = Field(default=400, ge=50, le=5000)
    seed: int = Field(default=20261204, ge=0)
    horizon_days: int = Field(default=365, ge=28, le=3650)
    queues: Queues = Queues()
    clearance: Clearance = Clearance()
    backtest: Backtest = Backtest()

    @property
    def quantiles(self) -> tuple[float, float]:
        """The lower and upper quantile of a window (0.1 and 0.9 for an 80% interval)."""
        tail = (1 - self.interval) / 2
        return tail, 1 - tail


def load_forecast_config(config_dir: Path) -> ForecastConfig:
    return load_config(config_dir, FILE, ForecastConfig, error=ForecastConfigError)
