"""The delay ledger's configuration, `pathways/config/ledger.yaml`: tariff versions, the
attribution rule and which organisation answers for which delay reasons.

Checked when the service starts (and by `homefirst pathways check`), like the other files: a
bad file stops the start. None of these figures is national unless its `status` says so; the
README's unverified list names the ones shipped.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from app.configfiles import ConfigFileError, load_config

FILE = "ledger.yaml"
# The reason a delayed day with no open delay reason is attributed to.
NO_REASON = "no-reason-recorded"
NO_REASON_LABEL = "no reason recorded"
NOT_RECORDED = "not recorded"
Attribution = Literal["equal_share", "primary_only"]


class LedgerConfigError(ConfigFileError):
    """`ledger.yaml` is missing or invalid."""


class Tariff(BaseModel):
    """The cost of one delayed bed day from `effective_from` until the next version."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=64)
    effective_from: date
    cost_per_bed_day: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    currency: Literal["GBP"] = "GBP"
    # VERIFIED: verbatim from the cited publication; UNVERIFIED: not checked against one;
    # LOCAL: a local figure (a finance team's), not a published one.
    status: Literal["VERIFIED", "UNVERIFIED", "LOCAL"]
    source: str = Field(min_length=1, max_length=500)
    url: HttpUrl | None = None


class Organisation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1, max_length=64)
    label: str = Field(min_length=1, max_length=200)


class Rule(BaseModel):
    """Days of a reason matching every field given (a missing field matches anything) are the
    organisation's. `reason` is a delay code (or `no-reason-recorded`), `family` a code-list
    family as spelt there, `pathway` the planned pathway on the day (P0-P3)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: str | None = None
    family: str | None = None
    pathway: str | None = None
    organisation: str

    def matches(self, reason: str, family: str | None, pathway: str) -> bool:
        return (
            (self.reason is None or self.reason == reason)
            and (self.family is None or self.family == family)
            and (self.pathway is None or self.pathway == pathway)
        )


class LedgerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attribution: Attribution = "equal_share"
    tariffs: tuple[Tariff, ...] = Field(min_length=1)
    organisations: tuple[Organisation, ...] = Field(min_length=1)
    fallback: str
    responsible: tuple[Rule, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> LedgerConfig:
        problems = []
        versions = [t.version for t in self.tariffs]
        if len(set(versions)) != len(versions):
            problems.append("tariffs: a version is named twice")
        starts = [t.effective_from for t in self.tariffs]
        if len(set(starts)) != len(starts):
            problems.append("tariffs: two versions start on the same date")
        codes = [o.code for o in self.organisations]
        if len(set(codes)) != len(codes):
            problems.append("organisations: a code is listed twice")
        if self.fallback not in codes:
            problems.append(f"fallback {self.fallback!r} is not in organisations")
        for i, rule in enumerate(self.responsible):
            if rule.organisation not in codes:
                problems.append(f"responsible[{i}]: unknown organisation {rule.organisation!r}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def tariff_on(self, day: date) -> Tariff | None:
        """The version in force on `day` (the latest that started by then), or None."""
        found = None
        for tariff in sorted(self.tariffs, key=lambda t: t.effective_from):
            if tariff.effective_from <= day:
                found = tariff
        return found

    def responsible_for(self, reason: str, family: str | None, pathway: str) -> str:
        """The first rule matching the reason, its family and the pathway; else the fallback."""
        for rule in self.responsible:
            if rule.matches(reason, family, pathway):
                return rule.organisation
        return self.fallback

    def label_of(self, organisation: str) -> str:
        return next((o.label for o in self.organisations if o.code == organisation), organisation)

    def tariff(self, version: str) -> Tariff | None:
        return next((t for t in self.tariffs if t.version == version), None)


def load_ledger_config(config_dir: Path) -> LedgerConfig:
    return load_config(config_dir, FILE, LedgerConfig, error=LedgerConfigError)
