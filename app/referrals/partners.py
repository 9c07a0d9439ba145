"""The partner directory, read from pathways/config/partners.yaml and checked at start-up: the
organisations a case may send a referral to, the name people see, and the kinds each takes."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.cases.schemas import CODE_PATTERN
from app.configfiles import ConfigFileError, load_config

FILE = "partners.yaml"
Kind = Literal["hub", "council", "provider", "chc", "other"]
KINDS: tuple[str, ...] = get_args(Kind)


class PartnersConfigError(ConfigFileError):
    """partners.yaml is missing or invalid; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Partner(_Strict):
    organisation: str = Field(pattern=CODE_PATTERN, max_length=32)
    name: str = Field(min_length=1, max_length=200)
    kinds: tuple[Kind, ...] = Field(min_length=1)
    # Kinds of referral this partner may send on from a case whose referral it has accepted
    # (a care transfer hub sourcing a package from a provider), besides the case's owner.
    refers_on: tuple[Kind, ...] = ()


class PartnerDirectory(_Strict):
    partners: tuple[Partner, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> PartnerDirectory:
        seen: set[str] = set()
        for partner in self.partners:
            if partner.organisation in seen:
                raise ValueError(f"organisation {partner.organisation} is listed twice")
            seen.add(partner.organisation)
        return self

    def find(self, organisation: str, kind: str | None = None) -> Partner | None:
        for partner in self.partners:
            if partner.organisation == organisation and (kind is None or kind in partner.kinds):
                return partner
        return None

    def name_of(self, organisation: str) -> str:
        partner = self.find(organisation)
        return partner.name if partner is not None else organisation


def load_partners(directory: Path) -> PartnerDirectory:
    return load_config(directory, FILE, PartnerDirectory, error=PartnersConfigError)


@lru_cache
def partners_for(directory: Path) -> PartnerDirectory:
    """The directory of `directory`, read once per process (the service validated it at start)."""
    return load_partners(directory)
