"""CHC configuration kept as data in `pathways/config/` and checked with pydantic at load.

Every CHC rule that is local or was not verified (RAG criteria L5, cohort windows and responsible
organisation L4, panel anchor L5, Fast Track target U11, acute-DST threshold U9, overdue age
bands U8), and the published tables (Checklist and DST, U7 verified; review schedule, U10
verified from a secondary source), live in these files, each marked `status: provisional`,
never in code.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.configfiles import ConfigFileError, load_config
from app.engine.durations import parse_duration

Colour = Literal["red", "amber", "green"]
COLOUR_RANK: dict[str, int] = {"red": 0, "amber": 1, "green": 2}
FILES = ("chc-assessment-tools.yaml", "chc-rag.yaml", "chc-local.yaml", "chc-sources.yaml")


class ChcConfigError(ConfigFileError):
    """A CHC configuration file is missing or invalid; the message names the file."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- Checklist and DST (docs/domain.md §7.3, §7.4) -------------------------------------------------
class ChecklistDomain(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z_]*$")
    label: str
    priority: bool = False


class ChecklistThreshold(_Strict):
    id: str
    text: str
    min_a: int = 0
    min_b: int = 0
    a_in_priority_domain: bool = False


class ChecklistTable(_Strict):
    scores: tuple[str, ...]
    domains: tuple[ChecklistDomain, ...] = Field(min_length=1)
    thresholds: tuple[ChecklistThreshold, ...] = Field(min_length=1)


class DstDomain(_Strict):
    key: str = Field(pattern=r"^[a-z][a-z_]*$")
    label: str
    levels: tuple[str, ...] = Field(min_length=2)


class DstRule(_Strict):
    id: str
    text: str
    min_priority: int = 0
    min_severe: int = 0
    min_high: int = 0
    min_high_or_moderate: int = 0
    min_other_at_or_above_moderate: int = 0


class DstTable(_Strict):
    levels: tuple[str, ...]
    domains: tuple[DstDomain, ...] = Field(min_length=1)
    expected: tuple[DstRule, ...] = Field(min_length=1)
    possible: tuple[DstRule, ...] = ()

    @model_validator(mode="after")
    def _levels_known(self) -> DstTable:
        for d in self.domains:
            unknown = [lv for lv in d.levels if lv not in self.levels]
            if unknown:
                raise ValueError(f"DST domain {d.key}: unknown levels {unknown}")
        return self


class AssessmentTools(_Strict):
    version: str
    status: Literal["verified", "provisional"]
    checklist: ChecklistTable
    dst: DstTable


# -- RAG (docs/domain.md §7.11) --------------------------------------------------------------------
class DateWithin(_Strict):
    field: str
    days: int


class RagCondition(_Strict):
    waiting_days_at_least: int | None = None
    waiting_days_below: int | None = None
    flag: str | None = None
    equals: dict[str, str | bool | int] | None = None
    date_within_days: DateWithin | None = None
    states: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> RagCondition:
        if not any(v is not None for v in self.__dict__.values()):
            raise ValueError("a rule needs at least one condition")
        return self


class RagRule(_Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    colour: Colour
    reason: str
    when: RagCondition


class RagRuleSet(_Strict):
    version: str
    status: Literal["verified", "provisional"]
    rules: tuple[RagRule, ...] = Field(min_length=1)
    green_reason: str

    @model_validator(mode="after")
    def _unique(self) -> RagRuleSet:
        ids = [r.id for r in self.rules]
        if len(ids) != len(set(ids)):
            raise ValueError("RAG rule ids must be unique")
        return self


# -- Local operations (docs/domain.md §7.5-§7.9, §7.12) --------------------------------------------
class Cohort(_Strict):
    key: Literal["covid_period", "restoration"]
    label: str
    discharged_from: date | None = None
    discharged_to: date | None = None
    referred_from: date | None = None
    requires_interim_nhs_funding: bool = False
    responsible_organisation: str


class PanelConfig(_Strict):
    cadence_days: int = Field(ge=1)
    anchor_date: date
    notice_days: int = Field(ge=0, default=0)


class ClaimConfig(_Strict):
    ttl: str
    max_active_per_assessor: int = Field(ge=1)

    @property
    def ttl_delta(self) -> timedelta:
        return parse_duration(self.ttl)


class ReviewConfig(_Strict):
    first_after_days: int = Field(ge=1)
    then_every_days: int = Field(ge=1)


class FastTrackConfig(_Strict):
    package_target: str

    @property
    def target_delta(self) -> timedelta:
        return parse_duration(self.package_target)


class OverdueBand(_Strict):
    key: str
    label: str
    from_weeks: int = Field(ge=0)
    to_weeks: int | None = None


class ReportingConfig(_Strict):
    decision_target_days: int
    decision_target_share: float = Field(gt=0, le=1)
    acute_dst_threshold_share: float = Field(gt=0, le=1)
    overdue_bands: tuple[OverdueBand, ...] = Field(min_length=1)


class SubIcbLocation(_Strict):
    """The reporting unit of the quarterly CHC collection for one HomeFirst organisation."""

    code: str | None = Field(default=None, pattern=r"^[0-9A-Z]{3,5}$")
    name: str
    verified: bool = False

    @model_validator(mode="after")
    def _verified_needs_code(self) -> SubIcbLocation:
        if self.verified and self.code is None:
            raise ValueError("a verified sub-ICB location needs its code")
        return self


class LocalConfig(_Strict):
    version: str
    status: Literal["verified", "provisional"]
    cohorts: tuple[Cohort, ...] = Field(min_length=1)
    unassigned_cohort: str
    panels: PanelConfig
    claims: ClaimConfig
    reviews: ReviewConfig
    fast_track: FastTrackConfig
    reporting: ReportingConfig
    sub_icb_locations: dict[str, SubIcbLocation] = {}

    @model_validator(mode="after")
    def _durations(self) -> LocalConfig:
        for text in (self.claims.ttl, self.fast_track.package_target):
            if parse_duration(text) <= timedelta(0):
                raise ValueError(f"duration {text} must be positive")
        return self


# -- Source lists (docs/domain.md §7.10) -----------------------------------------------------------
class SourceConfig(_Strict):
    version: str
    missing_markers: tuple[str, ...]
    date_formats: tuple[str, ...] = Field(min_length=1)
    yes_values: tuple[str, ...]
    no_values: tuple[str, ...]
    setting_values: dict[str, tuple[str, ...]]
    default: dict[str, tuple[str, ...]]
    sources: dict[str, dict[str, tuple[str, ...]]] = {}

    def headings_for(self, source: str) -> dict[str, tuple[str, ...]]:
        """Canonical field -> accepted headings (lower case), the source's own first."""
        own = self.sources.get(source, {})
        return {
            name: tuple(h.lower() for h in (*own.get(name, ()), *self.default.get(name, ())))
            for name in {*self.default, *own}
        }


class ChcConfig(_Strict):
    tools: AssessmentTools
    rag: RagRuleSet
    local: LocalConfig
    sources: SourceConfig


MODELS: dict[str, type[BaseModel]] = {
    "tools": AssessmentTools,
    "rag": RagRuleSet,
    "local": LocalConfig,
    "sources": SourceConfig,
}


def load_chc_config(directory: Path) -> ChcConfig:
    """Load and validate the four CHC configuration files in `directory`."""
    parts: dict[str, Any] = {
        key: load_config(directory, name, MODELS[key], error=ChcConfigError)
        for key, name in zip(("tools", "rag", "local", "sources"), FILES, strict=True)
    }
    return ChcConfig(**parts)


@lru_cache
def chc_config(directory: Path | None = None) -> ChcConfig:
    """The configuration beside the configured pathways (cached per directory)."""
    if directory is None:
        from app.config import get_settings

        directory = get_settings().pathways_dir / "config"
    return load_chc_config(directory)
