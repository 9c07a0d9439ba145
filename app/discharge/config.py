"""Local discharge settings, read from pathways/config/discharge.yaml."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from app.configfiles import load_config
from app.discharge.primary_reason import DEFAULT_FAMILY_PRECEDENCE

FILE = "discharge.yaml"


class DischargeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    primary_reason_family_precedence: tuple[str, ...] = DEFAULT_FAMILY_PRECEDENCE
    rfd_list_limit: int = Field(default=5000, ge=1, le=50_000)
    huddle_longest_waits: int = Field(default=10, ge=1, le=200)


def load_discharge_config(pathways_dir: Path) -> DischargeConfig:
    return load_discharge_settings(pathways_dir / "config")


def load_discharge_settings(config_dir: Path) -> DischargeConfig:
    """The settings in `config_dir/discharge.yaml` (the workflow's `load_config`)."""
    return load_config(config_dir, FILE, DischargeConfig, required=False)
