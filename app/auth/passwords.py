"""Passwords for people who sign in to the pages (API programs keep their bearer tokens).

- Hashing is pwdlib's recommended hasher, argon2id (argon2-cffi underneath, the reference C
  implementation): memory-hard, so a stolen table is slow to guess through. Only the hash is
  stored; its parameters travel with it, and a sign-in with a hash made under older parameters
  stores a new one (`verify_and_update`). Text is NFKC-normalised first, so the same password
  typed on another keyboard (a composed or a decomposed "é") still matches.
- An administrator issues a password (`issue_password`): a random one, shown once, to be
  changed at the first sign-in. Issuing unlocks the account and signs the person out everywhere.
- Signing in (`sign_in_with_password`) refuses an unknown user, an inactive one, one without a
  password and a wrong password in the same words, after the same work (an unknown name is
  checked against a dummy hash), so the answer does not tell which usernames exist.
- `Lockout.max_failures` failed sign-ins in a row lock the account for `Lockout.period`: then
  even the right password is refused (`AccountLocked`, saying until when). Failures are counted
  by the database in one UPDATE, so attempts made at the same moment are each counted.
- People change their own password (`change_password`) under NCSC's guidance: long enough,
  not the username, not a well-known password; no rules about character classes.

Nothing here logs or stores a password in clear.
"""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import NoReturn

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy.orm import Session

from app.auth import sessions
from app.auth.actor import Actor
from app.auth.repository import AuthRepository, CredentialState
from app.auth.sessions import SessionPolicy, SignedIn
from app.config import Settings, get_settings
from app.db import UnitOfWork
from app.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from app.models import PasswordCredential
from app.timeutil import LONDON

# pwdlib's recommended set-up, named: argon2id with argon2-cffi's default parameters (RFC 9106's
# second recommended option: 64 MiB, 3 passes, 4 lanes).
HASHER = PasswordHash((Argon2Hasher(),))

MIN_LENGTH = 12
MAX_LENGTH = 200
# The one message for every refused sign-in but a locked account.
WRONG = "the username or password is not right"
# Issued passwords: four groups of five from 31 characters that cannot be misread for one
# another (no 0/o, 1/l/i), about 99 bits, easy to read out and type on a ward PC.
ISSUED_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
ISSUED_GROUPS, ISSUED_GROUP_LENGTH = 4, 5
# Passwords long enough for the length rule that are still among the first tried by anyone
# guessing (keyboard runs, "password" with digits, words of this setting). Compared ignoring
# case; a short list on purpose: the length rule does most of the work.
COMMON_PASSWORDS = frozenset(
    {
        "password1234",
        "password12345",
        "password123456",
        "password123!",
        "passwordpassword",
        "password1234!",
        "p@ssw0rd1234",
        "123456789012",
        "1234567890123",
        "12345678901234",
        "123456123456",
        "111111111111",
        "000000000000",
        "qwertyuiop12",
        "qwerty123456",
        "qwertyqwerty",
        "qwertyuiopasdf",
        "1q2w3e4r5t6y",
        "1qaz2wsx3edc",
        "abcdefghijkl",
        "abc123abc123",
        "iloveyou1234",
        "letmein12345",
        "welcome12345",
        "welcome123456",
        "changeme1234",
        "administrator",
        "administrator1",
        "trustno1trustno1",
        "football1234",
        "sunshine1234",
        "monkey123456",
        "princess1234",
        "homefirst123",
        "homefirst1234",
        "hospital1234",
        "nhspassword1",
        "nhsnhsnhsnhs",
        "winter2024!!",
        "summer2024!!",
    }
)


class AccountLocked(Unauthorized):
    code, title = "account_locked", "Account locked after failed sign-ins"

    def __init__(self, locked_until: datetime) -> None:
        local = locked_until.astimezone(LONDON)
        super().__init__(
            "too many failed sign-ins: the account is locked until "
            f"{local:%H:%M} on {local:%d %B %Y} (UK time). Try again then, or ask an "
            "administrator of your organisation to reset your password",
            locked_until=locked_until.isoformat(),
        )
        self.locked_until = locked_until


class WeakPassword(ValidationFailed):
    code, title = "weak_password", "Password not accepted"


class WrongPassword(Forbidden):
    code, title = "wrong_password", "Current password not right"


class NoPassword(Conflict):
    code, title = "no_password", "No password set"


@dataclass(frozen=True)
class Lockout:
    max_failures: int
    period: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> Lockout:
        return cls(
            max_failures=settings.password_max_failures,
            period=timedelta(minutes=settings.password_lockout_minutes),
        )


@dataclass(frozen=True)
class IssuedPassword:
    username: str
    organisation: str
    password: str = field(repr=False)  # shown once; kept out of any repr that reaches a log
    must_change: bool


@dataclass(frozen=True)
class PasswordSignedIn(SignedIn):
    # The password was issued by someone else (an administrator, the command line): the page
    # sends the person to choose their own before anything else.
    must_change: bool


# -- rules ----------------------------------------------------------------------------------


def check_strength(password: str, *, username: str) -> None:
    """NCSC's advice for a password someone chooses: at least 12 characters (three random
    words make one), any characters at all, not the username and not a well-known password.
    WeakPassword saying which rule it breaks."""
    text = _prepared(password)
    if len(text) < MIN_LENGTH:
        raise WeakPassword(
            f"a password needs at least {MIN_LENGTH} characters "
            "(three random words together make a good one)",
            min_length=MIN_LENGTH,
        )
    if len(text) > MAX_LENGTH:
        raise WeakPassword(
            f"a password may have at most {MAX_LENGTH} characters", max_length=MAX_LENGTH
        )
    folded = text.casefold()
    if folded == username.casefold():
        raise WeakPassword("a password must not be the username")
    if folded in COMMON_PASSWORDS:
        raise WeakPassword("that password is one of the first anyone guessing would try")


def new_password() -> str:
    """A random password to issue, e.g. `k7mzq-3wtrp-hx9ad-u2ncs` (about 99 bits)."""
    return "-".join(
        "".join(secrets.choice(ISSUED_ALPHABET) for _ in range(ISSUED_GROUP_LENGTH))
        for _ in range(ISSUED_GROUPS)
    )


def _prepared(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


@cache
def _dummy_hash() -> str:
    """A hash of nothing anyone knows, made as real ones are: checking a password against it
    costs what checking a real one does."""
    return HASHER.hash(secrets.token_urlsafe(32))


# -- issuing ----------------------------------------------------------------------------------


def issue_password(
    session: Session,
    *,
    organisation: str,
    username: str,
    set_by: Actor | None,
    now: datetime,
    password: str | None = None,
) -> IssuedPassword:
    """Give the organisation's user a new password and return it, once: a random one that
    must be changed at the next sign-in, or `password` as given (the demo's; it must pass
    `check_strength`, and need not be changed). The account is unlocked, its failures cleared,
    and every signed-in browser of the user signed out. NotFound for a user not in
    `organisation`. Only the hash is stored."""
    if password is not None:
        check_strength(password, username=username)
    plain = password if password is not None else new_password()
    must_change = password is None
    hashed = HASHER.hash(_prepared(plain))  # before the transaction: it takes a while
    with UnitOfWork(session):
        repo = AuthRepository(session)
        user = repo.user_in(organisation, username, for_update=True)
        if user is None:
            raise NotFound(f"no user {username!r} in {organisation}")
        _store(
            repo,
            user.id,
            hashed,
            now=now,
            # SYSTEM_ACTOR (user 0) is no row of `users`: recorded as no one.
            set_by=set_by.user_id if set_by is not None and set_by.user_id > 0 else None,
            must_change=must_change,
        )
        sessions.end_all_for(session, user.id, now=now)
    return IssuedPassword(user.username, user.organisation, plain, must_change)


def _store(
    repo: AuthRepository,
    user_id: int,
    hashed: str,
    *,
    now: datetime,
    set_by: int | None,
    must_change: bool,
) -> None:
    """The user's password row, written whole (made if they had none)."""
    credential = repo.credential_for_update(user_id)
    if credential is None:
        repo.add(
            PasswordCredential(
                user_id=user_id,
                password_hash=hashed,
                set_at=now,
                set_by_user_id=set_by,
                must_change=must_change,
                failed_attempts=0,
                locked_until=None,
                last_failed_at=None,
            )
        )
        return
    credential.password_hash = hashed
    credential.set_at = now
    credential.set_by_user_id = set_by
    credential.must_change = must_change
    credential.failed_attempts = 0
    credential.locked_until = None
    credential.last_failed_at = None


# -- signing in -------------------------------------------------------------------------------


def sign_in_with_password(
    session: Session,
    *,
    organisation: str,
    username: str,
    password: str,
    now: datetime,
    policy: SessionPolicy,
    lockout: Lockout | None = None,
) -> PasswordSignedIn:
    """A new browser session (method "password") for the organisation's user whose password
    this is. Unauthorized (always `WRONG`) for an unknown, inactive or password-less user or a
    wrong password; AccountLocked while the account is locked, whatever the password. A wrong
    password is counted; the right one clears the count. `lockout`: from the settings unless
    given. `must_change` on the answer: the page must have the person choose a new password."""
    lockout = lockout or Lockout.from_settings(get_settings())
    repo = AuthRepository(session)
    state = repo.credential_state(organisation, username)
    session.rollback()  # end the read: no transaction stays open while the hash is checked
    if state is None or not state.active or state.password_hash is None:
        HASHER.verify(_prepared(password), _dummy_hash())  # the same work as a real check
        raise Unauthorized(WRONG)
    if state.locked_until is not None and state.locked_until > now:
        raise AccountLocked(state.locked_until)
    right, rehashed = HASHER.verify_and_update(_prepared(password), state.password_hash)
    if not right:
        _count_failure(session, state.user_id, now=now, lockout=lockout, refusal=WRONG)
    with UnitOfWork(session):
        cleared = repo.record_sign_in(
            state.user_id, verified_hash=state.password_hash, now=now, rehashed=rehashed
        )
    if not cleared:  # locked, or the password replaced, between the read and now
        _refuse_as_now(session, state.user_id, now=now, refusal=WRONG)
    signed = sessions.start(session, actor=_actor(state), method="password", now=now, policy=policy)
    return PasswordSignedIn(
        signed.session_id, signed.actor, signed.expires_at, must_change=bool(state.must_change)
    )


def _actor(state: CredentialState) -> Actor:
    return Actor(state.user_id, state.username, state.organisation, frozenset(state.roles.split()))


def _count_failure(
    session: Session, user_id: int, *, now: datetime, lockout: Lockout, refusal: str
) -> NoReturn:
    """Count a wrong password (committed before the refusal is raised), then refuse: with
    AccountLocked when this failure locked the account, else Unauthorized(`refusal`)."""
    with UnitOfWork(session):
        counted = AuthRepository(session).count_failed_sign_in(
            user_id, now=now, max_failures=lockout.max_failures, lock_until=now + lockout.period
        )
    if counted is None:  # another failure locked it meanwhile
        _refuse_as_now(session, user_id, now=now, refusal=refusal)
    _failures, locked_until = counted
    if locked_until is not None:
        raise AccountLocked(locked_until)
    raise Unauthorized(refusal)


def _refuse_as_now(session: Session, user_id: int, *, now: datetime, refusal: str) -> NoReturn:
    state = AuthRepository(session).credential_state_of(user_id)
    session.rollback()
    if state is not None and state.locked_until is not None and state.locked_until > now:
        raise AccountLocked(state.locked_until)
    raise Unauthorized(refusal)


# -- changing one's own -----------------------------------------------------------------------


def change_password(
    session: Session,
    *,
    user_id: int,
    current: str,
    new: str,
    now: datetime,
    lockout: Lockout | None = None,
    keep_session: str | None = None,
) -> None:
    """The signed-in person replaces their password: `current` must be right (a wrong one
    counts towards the lockout, as at sign-in: WrongPassword, or AccountLocked) and `new` pass
    `check_strength` and differ from it (WeakPassword). It need not be changed again. Every
    other signed-in browser of theirs is signed out; `keep_session` (the id of the one making
    the change) stays. NoPassword for someone who has none yet."""
    lockout = lockout or Lockout.from_settings(get_settings())
    repo = AuthRepository(session)
    state = repo.credential_state_of(user_id)
    session.rollback()  # end the read before the hashing
    if state is None or not state.active:
        raise Unauthorized("the user is inactive")
    if state.password_hash is None:
        raise NoPassword(
            "you have no password yet: an administrator of your organisation can issue one"
        )
    if state.locked_until is not None and state.locked_until > now:
        raise AccountLocked(state.locked_until)
    check_strength(new, username=state.username)
    if _prepared(new) == _prepared(current):
        raise WeakPassword("the new password must differ from the current one")
    if not HASHER.verify(_prepared(current), state.password_hash):
        try:
            _count_failure(session, user_id, now=now, lockout=lockout, refusal=WRONG)
        except AccountLocked:
            raise
        except Unauthorized:
            raise WrongPassword("the current password is not right") from None
    hashed = HASHER.hash(_prepared(new))
    with UnitOfWork(session):
        credential = repo.credential_for_update(user_id)
        if credential is None or credential.password_hash != state.password_hash:
            # An administrator issued another one meanwhile: that one stands.
            raise WrongPassword("your password was reset meanwhile: sign in with the new one")
        _store(repo, user_id, hashed, now=now, set_by=user_id, must_change=False)
        sessions.end_all_for(session, user_id, now=now, keep=keep_session)


def must_change(session: Session, user_id: int) -> bool:
    """Whether the person still has a password an administrator issued, to be replaced before
    they do anything else (the screens send them to change it)."""
    state = AuthRepository(session).credential_state_of(user_id)
    session.rollback()  # end the read
    return bool(state is not None and state.must_change)
