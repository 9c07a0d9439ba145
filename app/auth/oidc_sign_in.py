"""Signing a person in through their organisation's OpenID Connect provider.

`begin` records an attempt (state, nonce and PKCE verifier, kept server-side) and returns the
provider's authorization address plus a random attempt id for a short-lived cookie. `finish`
takes the provider's answer back: the attempt named by the cookie is used once, its state must
match, the code is exchanged and the ID token checked (`app.auth.oidc_client`), and the person
is the HomeFirst user the configured claim names in the provider's organisation. That user must
already exist and be active: roles come from HomeFirst's administrators, never from the
provider, and nobody is created on the fly. Then a server-side session starts (method "oidc").
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from authlib.common.security import generate_token
from sqlalchemy.orm import Session

from app.auth import sessions
from app.auth.actor import Actor
from app.auth.oidc_attempts import OidcAttemptRepository
from app.auth.oidc_client import InvalidIdToken, OidcClient
from app.auth.repository import AuthRepository
from app.auth.tokens import hash_token
from app.db import UnitOfWork
from app.errors import DomainError
from app.models import OidcSignInAttempt

log = logging.getLogger(__name__)

ATTEMPT_LIFETIME = timedelta(minutes=10)  # from leaving for the provider to coming back
# Used and expired attempts are kept this long after they expire, so a replayed callback is
# told it was used rather than unknown; older ones are deleted when a new attempt begins.
KEEP_EXPIRED = timedelta(hours=1)


class AttemptInvalid(DomainError):
    status_code, code, title = 400, "sign_in_attempt_invalid", "Sign-in not completed"


class ProviderSaidNo(DomainError):
    status_code, code, title = 401, "identity_provider_error", "Not signed in"


class NoAccount(DomainError):
    status_code, code, title = 403, "no_account", "No HomeFirst account"


class AccountInactive(DomainError):
    status_code, code, title = 403, "account_inactive", "Account inactive"


@dataclass(frozen=True)
class Started:
    attempt_id: str  # the cookie's value: never stored, never logged
    authorization_url: str


@dataclass(frozen=True)
class Finished:
    signed_in: sessions.SignedIn
    next_path: str


def begin(
    session: Session, client: OidcClient, *, redirect_uri: str, next_path: str, now: datetime
) -> Started:
    attempt_id = secrets.token_urlsafe(32)
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    code_verifier = generate_token(64)  # RFC 7636: 43 to 128 unreserved characters
    # The provider's discovery document is fetched (or reused) before any transaction opens.
    url = client.authorization_url(
        redirect_uri=redirect_uri, state=state, nonce=nonce, code_verifier=code_verifier
    )
    with UnitOfWork(session):
        repo = OidcAttemptRepository(session)
        repo.purge_expired_before(now - KEEP_EXPIRED)
        repo.add(
            OidcSignInAttempt(
                attempt_hash=hash_token(attempt_id),
                provider=client.provider.key,
                state=state,
                nonce=nonce,
                code_verifier=code_verifier,
                redirect_uri=redirect_uri,
                next_path=next_path,
                created_at=now,
                expires_at=now + ATTEMPT_LIFETIME,
                used_at=None,
            )
        )
    return Started(attempt_id, url)


def finish(
    session: Session,
    client: OidcClient,
    *,
    attempt_id: str | None,
    state: str | None,
    code: str | None,
    error: str | None,
    issuer: str | None,
    now: datetime,
    policy: sessions.SessionPolicy,
) -> Finished:
    """The provider's redirect back (its query parameters), answered with a new session, or
    a `DomainError` saying why not (and then no session)."""
    provider = client.provider
    attempt = _use_attempt(session, attempt_id, now)
    if attempt.provider != provider.key:
        raise AttemptInvalid("this answer is for a sign-in started with another provider")
    if error and state is None:
        # RFC 6749 says an error answer carries the state back, but not every provider does.
        # Nothing is signed in either way, so say what the provider said.
        raise ProviderSaidNo(f"{provider.label} did not sign you in ({error[:100]})")
    if not state or not secrets.compare_digest(state.encode(), attempt.state.encode()):
        raise AttemptInvalid("the answer does not belong to the sign-in this browser started")
    if issuer is not None and issuer != provider.issuer:
        # RFC 9207: the answer names the provider that sent it; it must be the one we asked.
        raise AttemptInvalid("the answer came from another identity provider")
    if error:
        raise ProviderSaidNo(f"{provider.label} did not sign you in ({error[:100]})")
    if not code:
        raise AttemptInvalid("the identity provider's answer carries no code")
    claims = client.claims_for_code(
        code=code,
        redirect_uri=attempt.redirect_uri,
        code_verifier=attempt.code_verifier,
        nonce=attempt.nonce,
        now=now.timestamp(),
    )
    username = claims.get(provider.username_claim)
    if not isinstance(username, str) or not username:
        raise InvalidIdToken(f"the ID token has no {provider.username_claim!r} to sign in with")
    user = AuthRepository(session).user_in(provider.organisation, username)
    session.rollback()  # end the read; starting the session is a transaction of its own
    if user is None:
        log.info("oidc sign-in refused: provider=%s no such user", provider.key)
        raise NoAccount(
            f"{provider.label} signed you in as {username!r}, but HomeFirst has no user of that "
            f"name in {provider.organisation}. Ask your HomeFirst administrator to add you."
        )
    if not user.active:
        log.info("oidc sign-in refused: provider=%s user_id=%s inactive", provider.key, user.id)
        raise AccountInactive(
            f"Your HomeFirst account {username!r} is inactive. Ask your HomeFirst administrator."
        )
    actor = Actor(user.id, user.username, user.organisation, frozenset(user.roles.split()))
    signed_in = sessions.start(session, actor=actor, method="oidc", now=now, policy=policy)
    log.info("oidc sign-in: provider=%s user_id=%s", provider.key, user.id)
    return Finished(signed_in, attempt.next_path)


def _use_attempt(session: Session, attempt_id: str | None, now: datetime) -> OidcSignInAttempt:
    """The browser's attempt, marked used (in its own transaction, before anything is sent to
    the provider), or `AttemptInvalid` saying why not."""
    if not attempt_id:
        raise AttemptInvalid(
            "this browser did not start this sign-in (or did not keep its cookie): start again"
        )
    with UnitOfWork(session):
        repo = OidcAttemptRepository(session)
        attempt = repo.by_hash(hash_token(attempt_id))
        if attempt is None:
            raise AttemptInvalid("this sign-in is not known (or is long over): start again")
        if attempt.used_at is not None or not repo.mark_used(attempt.id, now):
            raise AttemptInvalid("this sign-in has already been used: start again")
        if now >= attempt.expires_at:
            raise AttemptInvalid("this sign-in took too long: start again")
    return attempt
