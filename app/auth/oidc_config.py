"""Which OpenID Connect identity providers people may sign in through, per organisation.

`pathways/config/identity-providers.yaml` (README "OpenID Connect (NHS CIS2)") lists them; it
is read and checked when the service starts, so a bad file, or a client secret missing from the
environment, stops the start rather than the first person signing in. The file names the
environment variable that holds each client secret, never the secret itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from authlib.common.security import is_secure_transport
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from app.configfiles import ConfigFileError, load_config

FILE = "identity-providers.yaml"
DISCOVERY_PATH = "/.well-known/openid-configuration"


class IdentityProviderConfigError(ConfigFileError):
    """The identity providers file is not valid, or a provider's secret is not set."""


class ProviderEntry(BaseModel):
    """One provider as written in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # In the sign-in address (/sign-in/oidc/{key}), so people can bookmark it.
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
    label: str = Field(min_length=1, max_length=100)  # the sign-in button's text
    organisation: str = Field(min_length=1, max_length=64)  # whose users sign in here
    issuer: str = Field(min_length=1, max_length=500)
    # Where the provider's discovery document is; the issuer's well-known address by default.
    discovery_url: str | None = Field(default=None, max_length=500)
    client_id: str = Field(min_length=1, max_length=200)
    client_secret_env: str = Field(pattern=r"^[A-Z_][A-Z0-9_]{0,99}$")
    token_endpoint_auth_method: Literal["client_secret_basic", "client_secret_post"] = (
        "client_secret_basic"  # noqa: S105 - the name of a method, not a secret
    )
    scopes: tuple[str, ...] = ("openid", "profile")
    # The ID token claim whose value is the HomeFirst username in `organisation`. Choose one
    # the provider controls and people cannot change themselves (`sub` always qualifies).
    username_claim: str = Field(default="sub", min_length=1, max_length=100)

    @field_validator("issuer", "discovery_url")
    @classmethod
    def _secure_url(cls, value: str | None) -> str | None:
        # HTTPS, except on this machine's loopback (a provider run by the tests).
        if value is not None and not (
            urlsplit(value).scheme in ("https", "http") and is_secure_transport(value)
        ):
            raise ValueError("must be an https:// address (http:// only on the loopback)")
        return value

    @field_validator("scopes")
    @classmethod
    def _openid_scope(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if "openid" not in value:
            raise ValueError("must include 'openid' (the ID token comes with it)")
        if any(not s or " " in s for s in value):
            raise ValueError("each scope is one word")
        return value


class ProvidersFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    providers: list[ProviderEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_keys(self) -> ProvidersFile:
        keys = [p.key for p in self.providers]
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        if repeated:
            raise ValueError(f"provider keys must be unique: {', '.join(repeated)}")
        return self


@dataclass(frozen=True)
class IdentityProvider:
    """A provider ready to use: the file's entry with its client secret from the environment."""

    key: str
    label: str
    organisation: str
    issuer: str
    discovery_url: str
    client_id: str
    client_secret: SecretStr  # never printed, never logged
    token_endpoint_auth_method: str
    scopes: tuple[str, ...]
    username_claim: str


def load_identity_providers(
    path: Path, environ: Mapping[str, str] | None = None
) -> dict[str, IdentityProvider]:
    """The providers in `path` (none when the file is absent), by key. Raises
    `IdentityProviderConfigError` naming the file and the problem."""
    entries = load_config(
        path.parent, path.name, ProvidersFile, required=False, error=IdentityProviderConfigError
    )
    env = os.environ if environ is None else environ
    out: dict[str, IdentityProvider] = {}
    for entry in entries.providers:
        secret = env.get(entry.client_secret_env, "")
        if not secret:
            raise IdentityProviderConfigError(
                f"{path}: provider {entry.key!r}: the environment variable "
                f"{entry.client_secret_env} (its client secret) is not set"
            )
        out[entry.key] = IdentityProvider(
            key=entry.key,
            label=entry.label,
            organisation=entry.organisation,
            issuer=entry.issuer,
            discovery_url=entry.discovery_url or entry.issuer.rstrip("/") + DISCOVERY_PATH,
            client_id=entry.client_id,
            client_secret=SecretStr(secret),
            token_endpoint_auth_method=entry.token_endpoint_auth_method,
            scopes=entry.scopes,
            username_claim=entry.username_claim,
        )
    return out
