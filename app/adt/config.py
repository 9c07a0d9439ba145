"""Which PAS interfaces may send ADT messages, and how their codes map to HomeFirst's
(`pathways/config/adt-interfaces.yaml`; the file's header explains each setting)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.configfiles import ConfigFileError, load_config

FILE = "adt-interfaces.yaml"
_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.&-]{0,63}$"


class AdtConfigError(ConfigFileError):
    """The ADT interfaces file is not valid."""


class Interface(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    sending_application: str = Field(pattern=_CODE)
    sending_facility: str = Field(pattern=_CODE)
    organisation: str = Field(min_length=1, max_length=64)
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    hospital_system: str = Field(min_length=1, max_length=32)
    sites: dict[str, str] = Field(min_length=1)
    wards: dict[str, str] = Field(default_factory=dict)
    nhs_number_authorities: tuple[str, ...] = ("NHS",)
    local_number_types: tuple[str, ...] = ("MR",)
    discharge_destinations: dict[str, str] = Field(default_factory=dict)

    @property
    def sender(self) -> str:
        return sender_of(self.sending_application, self.sending_facility)


def sender_of(application: str, facility: str) -> str:
    """How a sender is written in the message log: MSH-3 and MSH-4."""
    return f"{application}|{facility}"


class AdtInterfaces(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    interfaces: tuple[Interface, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> AdtInterfaces:
        for what, values in (
            ("key", [i.key for i in self.interfaces]),
            ("sender (sending_application, sending_facility)", [i.sender for i in self.interfaces]),
            ("username", [(i.organisation, i.username) for i in self.interfaces]),
        ):
            if len(set(values)) != len(values):
                raise ValueError(f"two interfaces have the same {what}")
        return self

    def for_sender(self, application: str, facility: str) -> Interface | None:
        wanted = sender_of(application, facility)
        return next((i for i in self.interfaces if i.sender == wanted), None)

    def by_key(self, key: str) -> Interface | None:
        return next((i for i in self.interfaces if i.key == key), None)


def load_adt_interfaces(config_dir: Path) -> AdtInterfaces:
    """The file validated; no interfaces when it is absent (no feed configured)."""
    return load_config(config_dir, FILE, AdtInterfaces, required=False, error=AdtConfigError)


@lru_cache(maxsize=4)
def cached_interfaces(config_dir: Path) -> AdtInterfaces:
    return load_adt_interfaces(config_dir)
