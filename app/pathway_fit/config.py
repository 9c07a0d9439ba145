"""The audit's local settings: pathways/config/pathway-fit.yaml, and the 91-day window of the
IC follow-up (pathways/config/ic.yaml), checked when the service starts."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.codelists.loader import CodeSetRegistry
from app.configfiles import ConfigFileError, load_config
from app.ic.config import load_ic_config

FILE = "pathway-fit.yaml"
DESTINATIONS = "ukcore-discharge-destination"
PATHWAYS = ("P0", "P1", "P2", "P3", "P3b")
IC_OUTCOMES = (
    "independent",
    "ongoing_package",
    "equipment_tecs_only",
    "ict_follow_on",
    "long_term_care_home",
    "chc_referral",
    "end_of_life_pathway",
    "readmitted_to_hospital",
    "died",
)


class PathwayFitConfigError(ConfigFileError):
    """pathway-fit.yaml is invalid; the message names the file."""


class PathwayFitFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    care_home_destination_codes: tuple[str, ...] = ("54", "65", "85")
    temporary_bed_pathways: tuple[str, ...] = ("P2",)
    intensive_pathways: tuple[str, ...] = ("P2", "P3")
    lighter_ic_outcomes: tuple[str, ...] = ("independent", "equipment_tecs_only")
    ongoing_support_outcomes: tuple[str, ...] = (
        "ongoing_package",
        "ict_follow_on",
        "long_term_care_home",
        "chc_referral",
        "end_of_life_pathway",
    )

    @field_validator("intensive_pathways", "temporary_bed_pathways")
    @classmethod
    def _pathways(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(PATHWAYS))
        if unknown:
            raise ValueError(f"unknown pathways: {', '.join(unknown)}")
        return value

    @field_validator("lighter_ic_outcomes", "ongoing_support_outcomes")
    @classmethod
    def _outcomes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(value) - set(IC_OUTCOMES))
        if unknown:
            raise ValueError(f"unknown IC outcomes: {', '.join(unknown)}")
        return value


class PathwayFitConfig(PathwayFitFile):
    """The file's settings with the follow-up window of the IC configuration."""

    window_days: int = Field(default=91, ge=1, le=366)


def load_pathway_fit_config(
    config_dir: Path, known_codes: frozenset[str] | None = None
) -> PathwayFitConfig:
    """The settings; `known_codes` (the destination code list's codes) checks the care-home
    codes against it."""
    file = load_config(config_dir, FILE, PathwayFitFile, error=PathwayFitConfigError)
    if known_codes is not None:
        unknown = sorted(set(file.care_home_destination_codes) - known_codes)
        if unknown:
            raise PathwayFitConfigError(
                f"{config_dir / FILE}: care_home_destination_codes: not in "
                f"ukcore-discharge-destination: {', '.join(unknown)}"
            )
    days = load_ic_config(config_dir).still_at_home_follow_up.days
    return PathwayFitConfig(**file.model_dump(), window_days=days)


def pathway_fit_config(pathways_dir: Path, codes: CodeSetRegistry) -> PathwayFitConfig:
    """The settings beside the pathways, the care-home codes checked against every held
    version of the destination code list (a bad file stops the start)."""
    known = frozenset(
        entry.code for version in codes.versions(DESTINATIONS) for entry in version.codes
    )
    return load_pathway_fit_config(pathways_dir / "config", known)
