"""Local discharge settings, read from pathways/config/discharge.yaml."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from app.calc.primary_reason import DEFAULT_FAMILY_PRECEDENCE


class DischargeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    primary_reason_family_precedence: tuple[str, ...] = DEFAULT_FAMILY_PRECEDENCE
    rfd_list_limit: int = Field(default=5000, ge=1, le=50_000)


def load_discharge_config(pathways_dir: Path) -> DischargeConfig:
    path = pathways_dir / "config" / "discharge.yaml"
    if not path.exists():
        return DischargeConfig()
    try:
        return DischargeConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValueError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
