"""Talking to an OpenID Connect provider, through Authlib: discovery, the authorization request
(state, nonce, PKCE S256), the code exchange, and checking the ID token.

The ID token is accepted only when its signature verifies against the provider's published
keys (JWKS) with an algorithm the provider announces, and its issuer, audience, expiry, nonce
(and access-token hash, when present) are right. The discovery document and keys are kept for
`METADATA_TTL`; a token signed with a key id not among them fetches the keys again (a provider
rotating its keys), at most once every `JWKS_REFRESH_AT_MOST_EVERY`.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from app.auth.oidc_config import IdentityProvider
from app.errors import DomainError

METADATA_TTL = 3600.0  # seconds
JWKS_REFRESH_AT_MOST_EVERY = 60.0  # seconds
HTTP_TIMEOUT = 10.0  # seconds, for each request to the provider
CLOCK_LEEWAY = 60  # seconds allowed between the provider's clock and ours
log = logging.getLogger(__name__)


class ProviderUnavailable(DomainError):
    status_code, code, title = 502, "identity_provider_unavailable", "Sign-in service unavailable"


def _unavailable(provider: IdentityProvider, reason: str) -> ProviderUnavailable:
    """What the person is told is short; the log keeps the reason (never a token or secret)."""
    log.warning("identity provider %s: %s", provider.key, reason)
    return ProviderUnavailable(
        f"{provider.label} could not be reached or did not answer properly. Try again later; "
        "if it goes on, tell your administrator."
    )


class ProviderRefused(DomainError):
    status_code, code, title = 401, "identity_provider_refused", "Not signed in"


class InvalidIdToken(DomainError):
    status_code, code, title = 401, "invalid_id_token", "Not signed in"


@dataclass(frozen=True)
class _Metadata:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    loaded_at: float


class OidcClient:
    """One provider's client. Thread-safe: routes run in a thread pool."""

    def __init__(self, provider: IdentityProvider) -> None:
        self.provider = provider
        self._lock = threading.Lock()
        self._metadata: _Metadata | None = None
        self._keys: KeySet | None = None
        self._keys_loaded_at = 0.0

    # -- the authorization request ----------------------------------------------------------
    def authorization_url(
        self, *, redirect_uri: str, state: str, nonce: str, code_verifier: str
    ) -> str:
        metadata = self._current_metadata()
        with self._session(redirect_uri) as session:
            url, _ = session.create_authorization_url(
                metadata.authorization_endpoint,
                state=state,
                nonce=nonce,
                code_verifier=code_verifier,
            )
        return str(url)

    # -- the callback -----------------------------------------------------------------------
    def claims_for_code(
        self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str, now: float
    ) -> dict[str, Any]:
        """Exchange the code for tokens and return the ID token's claims, once verified."""
        metadata = self._current_metadata()
        try:
            with self._session(redirect_uri) as session:
                token = session.fetch_token(
                    metadata.token_endpoint,
                    code=code,
                    code_verifier=code_verifier,
                    timeout=HTTP_TIMEOUT,
                )
        except OAuthError as exc:
            raise ProviderRefused(
                f"the identity provider refused the sign-in code ({exc.error})"
            ) from None
        except (requests.RequestException, ValueError) as exc:
            raise _unavailable(self.provider, f"token endpoint: {exc}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise InvalidIdToken("the identity provider sent no ID token")
        access_token = token.get("access_token")
        return self.verified_claims(
            id_token,
            nonce=nonce,
            access_token=access_token if isinstance(access_token, str) else None,
            now=now,
        )

    def verified_claims(
        self, id_token: str, *, nonce: str, access_token: str | None, now: float
    ) -> dict[str, Any]:
        metadata = self._current_metadata()
        registry = JWSRegistry(algorithms=list(metadata.algorithms), strict_check_header=False)
        try:
            try:
                decoded = jwt.decode(id_token, self._key_set(), registry=registry)
            except InvalidKeyIdError:
                decoded = jwt.decode(id_token, self._key_set(refresh=True), registry=registry)
            params: dict[str, Any] = {"nonce": nonce, "client_id": self.provider.client_id}
            if access_token is not None:
                params["access_token"] = access_token
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {
                    "iss": {"essential": True, "value": self.provider.issuer},
                    "aud": {"essential": True, "value": self.provider.client_id},
                },
                params,
            )
            claims.validate(now=int(now), leeway=CLOCK_LEEWAY)
        except JoseError as exc:
            log.warning("identity provider %s: ID token refused: %s", self.provider.key, exc)
            raise InvalidIdToken(
                f"the identity provider's ID token could not be accepted ({exc.error})"
            ) from None
        return dict(claims)

    # -- discovery and keys -----------------------------------------------------------------
    def _current_metadata(self) -> _Metadata:
        with self._lock:
            cached = self._metadata
            if cached is not None and time.monotonic() - cached.loaded_at < METADATA_TTL:
                return cached
            self._metadata = self._load_metadata()
            self._keys = None
            return self._metadata

    def _load_metadata(self) -> _Metadata:
        document = self._get_json(self.provider.discovery_url, "discovery document")
        try:
            OpenIDProviderMetadata(document).validate()
        except ValueError as exc:
            raise _unavailable(self.provider, f"discovery document: {exc}") from None
        if document.get("issuer") != self.provider.issuer:
            # OpenID Connect Discovery 1.0 §4.3: the issuer must be exactly the one configured.
            raise _unavailable(
                self.provider,
                f"the discovery document names issuer {document.get('issuer')!r}, "
                f"not the configured {self.provider.issuer!r}",
            )
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(field), str):
                raise _unavailable(self.provider, f"the discovery document lacks {field}")
        algorithms = document.get("id_token_signing_alg_values_supported") or ["RS256"]
        return _Metadata(
            authorization_endpoint=document["authorization_endpoint"],
            token_endpoint=document["token_endpoint"],
            jwks_uri=document["jwks_uri"],
            # Never an unsigned token, whatever the document says.
            algorithms=tuple(a for a in algorithms if isinstance(a, str) and a != "none"),
            loaded_at=time.monotonic(),
        )

    def _key_set(self, *, refresh: bool = False) -> KeySet:
        metadata = self._current_metadata()
        with self._lock:
            now = time.monotonic()
            stale = refresh and now - self._keys_loaded_at >= JWKS_REFRESH_AT_MOST_EVERY
            if self._keys is None or stale:
                document = self._get_json(metadata.jwks_uri, "keys (JWKS)")
                try:
                    self._keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
                except (JoseError, ValueError, TypeError, KeyError) as exc:
                    raise _unavailable(self.provider, f"keys (JWKS) not readable: {exc}") from None
                self._keys_loaded_at = now
            return self._keys

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            with requests.Session() as session:
                response = session.get(url, timeout=HTTP_TIMEOUT)
                response.raise_for_status()
                document = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise _unavailable(self.provider, f"{what} not fetched: {exc}") from None
        if not isinstance(document, dict):
            raise _unavailable(self.provider, f"{what} is not a JSON object")
        return document

    def _session(self, redirect_uri: str) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.provider.client_id,
            client_secret=self.provider.client_secret.get_secret_value(),
            token_endpoint_auth_method=self.provider.token_endpoint_auth_method,
            scope=" ".join(self.provider.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
        )
