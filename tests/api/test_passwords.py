"""Passwords for people who sign in (issue 14): issued by an administrator or the command line,
stored as argon2id hashes only, checked at sign-in with a lockout, changed by their owner.
Every test runs on SQLite and on PostgreSQL.

The hashing here is argon2id with small parameters: what is tested (who is refused, what is
counted, what is stored) does not depend on the cost, and the real parameters take about a
second a hash on a loaded test machine. tests/unit/test_password_rules.py checks the real ones.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import String, Text, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.admin import service as admin_service
from app.auth import passwords
from app.auth import sessions as web_sessions
from app.auth.passwords import (
    AccountLocked,
    Lockout,
    NoPassword,
    WeakPassword,
    WrongPassword,
    change_password,
    issue_password,
    sign_in_with_password,
)
from app.auth.sessions import SessionPolicy
from app.cli import cli
from app.config import get_settings
from app.db import get_engine, get_sessionmaker
from app.errors import NotFound, Unauthorized
from app.models import Base, PasswordCredential, User

POLICY = SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
LOCKOUT = Lockout(max_failures=3, period=timedelta(minutes=15))
T0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
GOOD = "correct horse battery staple"
FAST = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=8 * 1024, parallelism=1),))


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(passwords, "HASHER", FAST)
    passwords._dummy_hash.cache_clear()  # made again with these parameters
    yield
    passwords._dummy_hash.cache_clear()


def _issue(sessions: sessionmaker[Session], user: Any, password: str | None = GOOD) -> str:
    with sessions() as session:
        issued = issue_password(
            session,
            organisation=user.org,
            username=user.actor.username,
            set_by=None,
            now=T0,
            password=password,
        )
    return issued.password


def _sign_in(
    sessions: sessionmaker[Session],
    user: Any,
    password: str,
    *,
    now: datetime = T0,
    lockout: Lockout = LOCKOUT,
) -> passwords.PasswordSignedIn:
    with sessions() as session:
        return sign_in_with_password(
            session,
            organisation=user.org,
            username=user.actor.username,
            password=password,
            now=now,
            policy=POLICY,
            lockout=lockout,
        )


def _refusal(sessions: sessionmaker[Session], org: str, username: str, password: str) -> Any:
    with sessions() as session, pytest.raises(Unauthorized) as refused:
        sign_in_with_password(
            session,
            organisation=org,
            username=username,
            password=password,
            now=T0,
            policy=POLICY,
            lockout=LOCKOUT,
        )
    return refused.value


def _credential(sessions: sessionmaker[Session], user_id: int) -> PasswordCredential:
    with sessions() as session:
        found = session.get(PasswordCredential, user_id)
        assert found is not None
        return found


def _signed_in(sessions: sessionmaker[Session], session_id: str, now: datetime) -> bool:
    with sessions() as session:
        try:
            web_sessions.current(session, session_id, now=now, policy=POLICY)
        except Unauthorized:
            return False
    return True


# -- storage --------------------------------------------------------------------------------


def test_only_an_argon2id_hash_is_stored(sessions: sessionmaker[Session], make_user) -> None:
    user = make_user("discharge_team")
    plain = _issue(sessions, user, password=None)
    stored = _credential(sessions, user.actor.user_id)
    assert stored.password_hash.startswith("$argon2id$")
    assert (stored.must_change, stored.failed_attempts, stored.locked_until) == (True, 0, None)
    # The password is in no text column of any table (it was used to sign in, too).
    _sign_in(sessions, user, plain)
    with sessions() as session:
        for table in Base.metadata.sorted_tables:
            texts = [c for c in table.columns if isinstance(c.type, String | Text)]
            if not texts:
                continue
            hits = session.execute(
                select(func.count())
                .select_from(table)
                .where(or_(*(c.contains(plain) for c in texts)))
            ).scalar_one()
            assert hits == 0, f"the password is in {table.name}"


def test_an_issued_password_is_random_readable_and_must_be_changed(
    sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("ward_clinician")
    first, second = _issue(sessions, user, None), _issue(sessions, user, None)
    assert first != second
    signed = _sign_in(sessions, user, second)
    assert signed.must_change is True
    assert _refusal(sessions, user.org, user.actor.username, first).detail == passwords.WRONG


# -- signing in -----------------------------------------------------------------------------


def test_the_right_password_signs_in(sessions: sessionmaker[Session], make_user) -> None:
    user = make_user("discharge_team", "ward_clinician")
    _issue(sessions, user)
    signed = _sign_in(sessions, user, GOOD)
    assert (signed.actor.user_id, signed.actor.organisation) == (user.actor.user_id, user.org)
    assert signed.actor.roles == frozenset({"discharge_team", "ward_clinician"})
    assert signed.must_change is False  # given explicitly (the demo's own)
    assert signed.expires_at == T0 + POLICY.absolute
    with sessions() as session:
        actor = web_sessions.current(session, signed.session_id, now=T0, policy=POLICY)
    assert actor.username == user.actor.username
    # The same password typed with a decomposed accent still matches (NFKC on both sides).
    accented = make_user("analyst")
    _issue(sessions, accented, password="caf\u00e9 au lait le matin")
    assert _sign_in(sessions, accented, "cafe\u0301 au lait le matin").actor.username


def test_every_refusal_but_a_lock_says_the_same(
    sessions: sessionmaker[Session], make_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = make_user("discharge_team")
    _issue(sessions, user)
    inactive = make_user("discharge_team", org=user.org)
    _issue(sessions, inactive)
    with sessions() as session:
        session.execute(update(User).where(User.id == inactive.actor.user_id).values(active=False))
        session.commit()
    no_password = make_user("discharge_team", org=user.org)
    checked: list[str] = []
    real_verify = passwords.HASHER.verify

    def counting_verify(password: str | bytes, hash: str | bytes) -> bool:
        checked.append(str(hash))
        return real_verify(password, hash)

    monkeypatch.setattr(passwords.HASHER, "verify", counting_verify)
    refusals = {
        "unknown user": _refusal(sessions, user.org, "nobody-" + uuid.uuid4().hex[:6], GOOD),
        "another organisation": _refusal(sessions, "ELSEWHERE", user.actor.username, GOOD),
        "wrong password": _refusal(sessions, user.org, user.actor.username, GOOD + "!"),
        "inactive user": _refusal(sessions, user.org, inactive.actor.username, GOOD),
        "no password": _refusal(sessions, user.org, no_password.actor.username, GOOD),
    }
    answers = {(type(e), e.code, e.detail, e.status_code) for e in refusals.values()}
    assert answers == {(Unauthorized, "unauthorized", passwords.WRONG, 401)}
    # Where there was no hash to check, a dummy one was checked all the same (same work).
    assert len(checked) == 4  # all but the wrong password (verify_and_update checks that one)
    assert all(h.startswith("$argon2id$") for h in checked)
    # Only the wrong password of a real account counts towards its lockout.
    assert _credential(sessions, user.actor.user_id).failed_attempts == 1
    assert _credential(sessions, inactive.actor.user_id).failed_attempts == 0


def test_repeated_failures_lock_the_account_for_a_while(
    sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("discharge_team")
    _issue(sessions, user)
    name = user.actor.username
    for _ in range(LOCKOUT.max_failures - 1):
        assert type(_refusal(sessions, user.org, name, "not it at all")) is Unauthorized
    locked = _refusal(sessions, user.org, name, "not it at all")
    assert isinstance(locked, AccountLocked)
    until = T0 + LOCKOUT.period
    assert (locked.code, locked.status_code, locked.locked_until) == ("account_locked", 401, until)
    assert "09:15 on 04 December 2026 (UK time)" in locked.detail
    assert "administrator" in locked.detail
    # While locked, even the right password is refused, and the lock is not extended.
    for minutes in (1, 14):
        with pytest.raises(AccountLocked) as again:
            _sign_in(sessions, user, GOOD, now=T0 + timedelta(minutes=minutes))
        assert again.value.locked_until == until
    stored = _credential(sessions, user.actor.user_id)
    assert (stored.failed_attempts, stored.locked_until) == (LOCKOUT.max_failures, until)
    # Once the lock has run out, the right password signs in and clears the count.
    signed = _sign_in(sessions, user, GOOD, now=until + timedelta(seconds=1))
    assert signed.actor.username == name
    stored = _credential(sessions, user.actor.user_id)
    assert (stored.failed_attempts, stored.locked_until) == (0, None)


def test_a_success_resets_the_count_and_an_expired_lock_starts_it_again(
    sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("discharge_team")
    _issue(sessions, user)
    wrong = "definitely wrong"
    for _ in range(LOCKOUT.max_failures - 1):
        with pytest.raises(Unauthorized):
            _sign_in(sessions, user, wrong)
    _sign_in(sessions, user, GOOD)
    for _ in range(LOCKOUT.max_failures - 1):  # as many again: still not locked
        with pytest.raises(Unauthorized) as refused:
            _sign_in(sessions, user, wrong)
        assert type(refused.value) is Unauthorized
    with pytest.raises(AccountLocked):
        _sign_in(sessions, user, wrong)
    # After the lock, one more failure is the first of a new run, not a new lock.
    later = T0 + LOCKOUT.period + timedelta(minutes=1)
    with pytest.raises(Unauthorized) as refused:
        _sign_in(sessions, user, wrong, now=later)
    assert type(refused.value) is Unauthorized
    assert _credential(sessions, user.actor.user_id).failed_attempts == 1


def test_the_lockout_follows_the_settings(sessions: sessionmaker[Session], make_user) -> None:
    from app.config import Settings

    lockout = Lockout.from_settings(Settings(password_max_failures=2, password_lockout_minutes=45))
    assert lockout == Lockout(2, timedelta(minutes=45))
    user = make_user("analyst")
    _issue(sessions, user)
    with pytest.raises(Unauthorized) as first:
        _sign_in(sessions, user, "wrong wrong wrong", lockout=lockout)
    assert type(first.value) is Unauthorized
    with pytest.raises(AccountLocked) as second:
        _sign_in(sessions, user, "wrong wrong wrong", lockout=lockout)
    assert second.value.locked_until == T0 + timedelta(minutes=45)


def test_failures_at_the_same_moment_are_each_counted(
    sessions: sessionmaker[Session], make_user
) -> None:
    """Threads, each with its own connection, sign in wrongly at once: the count is the number
    of attempts (a read-then-write count would lose the ones that overlapped)."""
    user = make_user("discharge_team")
    _issue(sessions, user)
    attempts = 8
    roomy = Lockout(max_failures=1000, period=timedelta(minutes=15))
    start = threading.Barrier(attempts)
    outcomes: list[str] = []

    def attempt() -> None:
        start.wait()
        try:
            _sign_in(sessions, user, "wrong at the same time", lockout=roomy)
        except Unauthorized as exc:
            outcomes.append(exc.code)
        except Exception as exc:  # noqa: BLE001 - any other error fails the test below
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert outcomes == ["unauthorized"] * attempts
    assert _credential(sessions, user.actor.user_id).failed_attempts == attempts


def test_the_count_itself_is_one_statement_under_contention(
    sessions: sessionmaker[Session], make_user
) -> None:
    """The repository's count without the hashing in front of it, so the statements really do
    meet: 16 threads, 5 rounds each; every one is counted, and the lock comes at the limit."""
    from app.auth.repository import AuthRepository

    user = make_user("discharge_team")
    _issue(sessions, user)
    threads, rounds, limit = 16, 5, 50
    start = threading.Barrier(threads)
    locks: list[datetime | None] = []

    def hammer() -> None:
        start.wait()
        for _ in range(rounds):
            with sessions() as session:
                counted = AuthRepository(session).count_failed_sign_in(
                    user.actor.user_id,
                    now=T0,
                    max_failures=limit,
                    lock_until=T0 + timedelta(minutes=15),
                )
                session.commit()
            locks.append(counted[1] if counted else None)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    stored = _credential(sessions, user.actor.user_id)
    # The first `limit` attempts are counted; the one reaching it locks; the rest find it
    # locked and count nothing.
    assert (stored.failed_attempts, stored.locked_until) == (limit, T0 + timedelta(minutes=15))
    assert len(locks) == threads * rounds
    assert sum(1 for lock in locks if lock is not None) == 1


def test_a_hash_made_under_older_parameters_is_renewed_at_sign_in(
    sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("analyst")
    _issue(sessions, user)
    weak = Argon2Hasher(time_cost=2, memory_cost=1024, parallelism=1).hash(GOOD)
    with sessions() as session:
        session.execute(
            update(PasswordCredential)
            .where(PasswordCredential.user_id == user.actor.user_id)
            .values(password_hash=weak)
        )
        session.commit()
    _sign_in(sessions, user, GOOD)
    renewed = _credential(sessions, user.actor.user_id).password_hash
    assert renewed != weak
    assert passwords.HASHER.hashers[0].check_needs_rehash(renewed) is False
    assert _sign_in(sessions, user, GOOD).actor.username == user.actor.username


def test_issuing_unlocks_and_signs_out_everywhere(
    client: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    admin = make_user("admin")
    user = make_user("ward_clinician", org=admin.org)
    _issue(sessions, user)
    browser = _sign_in(sessions, user, GOOD)
    for _ in range(LOCKOUT.max_failures):
        with pytest.raises(Unauthorized):
            _sign_in(sessions, user, "not the password")
    with pytest.raises(AccountLocked):
        _sign_in(sessions, user, GOOD)
    assert _signed_in(sessions, browser.session_id, T0)
    r = client.post(f"/api/v1/admin/users/{user.actor.username}/password", headers=admin.headers)
    assert r.status_code == 201, r.text
    assert not _signed_in(sessions, browser.session_id, T0)
    stored = _credential(sessions, user.actor.user_id)
    assert (stored.failed_attempts, stored.locked_until, stored.last_failed_at) == (0, None, None)
    assert (stored.set_by_user_id, stored.must_change) == (admin.actor.user_id, True)
    with pytest.raises(Unauthorized):
        _sign_in(sessions, user, GOOD)  # the old password is gone
    assert _sign_in(sessions, user, r.json()["password"]).must_change is True


def test_an_unknown_user_cannot_be_given_a_password(
    sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("analyst")
    with sessions() as session, pytest.raises(NotFound):
        issue_password(
            session, organisation="ELSEWHERE", username=user.actor.username, set_by=None, now=T0
        )
    with sessions() as session:
        assert session.get(PasswordCredential, user.actor.user_id) is None


# -- changing one's own -----------------------------------------------------------------------


def _change(sessions: sessionmaker[Session], user: Any, current: str, new: str, **kw: Any) -> None:
    with sessions() as session:
        change_password(
            session,
            user_id=user.actor.user_id,
            current=current,
            new=new,
            now=T0,
            lockout=LOCKOUT,
            **kw,
        )


@pytest.mark.parametrize(
    ("new", "why"),
    [
        ("short one", "at least 12 characters"),
        ("x" * 201, "at most 200 characters"),
        ("Password1234", "first anyone guessing would try"),
        ("QWERTY123456", "first anyone guessing would try"),
        ("{username}", "must not be the username"),
        ("{USERNAME}", "must not be the username"),
        (GOOD, "must differ from the current one"),
    ],
)
def test_a_weak_new_password_is_refused_saying_why(
    sessions: sessionmaker[Session], make_user, new: str, why: str
) -> None:
    user = make_user("discharge_team")
    _issue(sessions, user)
    name = user.actor.username
    new = new.replace("{username}", name).replace("{USERNAME}", name.upper())
    with pytest.raises(WeakPassword) as refused:
        _change(sessions, user, GOOD, new)
    assert (refused.value.code, refused.value.status_code) == ("weak_password", 422)
    assert why in refused.value.detail
    assert _sign_in(sessions, user, GOOD).actor.username == name  # unchanged


def test_a_person_changes_their_own_password(sessions: sessionmaker[Session], make_user) -> None:
    user = make_user("discharge_team")
    issued = _issue(sessions, user, None)
    here = _sign_in(sessions, user, issued)
    elsewhere = _sign_in(sessions, user, issued)
    assert here.must_change
    with pytest.raises(WrongPassword) as wrong:
        _change(sessions, user, "not my password", "a long enough new one")
    assert (wrong.value.code, wrong.value.status_code) == ("wrong_password", 403)
    assert _credential(sessions, user.actor.user_id).failed_attempts == 1  # counted
    # No composition rules: any 12 characters that are not common will do, spaces included.
    _change(sessions, user, issued, "plain lowercase words", keep_session=here.session_id)
    stored = _credential(sessions, user.actor.user_id)
    assert (stored.must_change, stored.failed_attempts, stored.set_by_user_id) == (
        False,
        0,
        user.actor.user_id,
    )
    assert _signed_in(sessions, here.session_id, T0)
    assert not _signed_in(sessions, elsewhere.session_id, T0)
    assert _sign_in(sessions, user, "plain lowercase words").must_change is False
    with pytest.raises(Unauthorized):
        _sign_in(sessions, user, issued)


def test_wrong_current_passwords_lock_the_account_too(
    sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("discharge_team")
    _issue(sessions, user)
    for _ in range(LOCKOUT.max_failures - 1):
        with pytest.raises(WrongPassword):
            _change(sessions, user, "guess guess guess", "another long password")
    with pytest.raises(AccountLocked):
        _change(sessions, user, "guess guess guess", "another long password")
    with pytest.raises(AccountLocked):
        _change(sessions, user, GOOD, "another long password")
    with pytest.raises(AccountLocked):
        _sign_in(sessions, user, GOOD)


def test_someone_without_a_password_is_told_to_ask_for_one(
    sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("discharge_team")
    with pytest.raises(NoPassword) as refused:
        _change(sessions, user, "anything at all", "a long enough new one")
    assert (refused.value.code, refused.value.status_code) == ("no_password", 409)


# -- over HTTP --------------------------------------------------------------------------------


def test_an_admin_issues_a_password_shown_once(
    client: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    admin = make_user("admin")
    nurse = make_user("ward_clinician", org=admin.org)
    r = client.post(f"/api/v1/admin/users/{nurse.actor.username}/password", headers=admin.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"username", "organisation", "password", "must_change"}
    assert (body["username"], body["organisation"], body["must_change"]) == (
        nurse.actor.username,
        admin.org,
        True,
    )
    assert r.headers["cache-control"] == "no-store"
    assert _sign_in(sessions, nurse, body["password"]).must_change is True
    # Shown nowhere else: not in the user list, and a second issue replaces the first.
    listed = client.get("/api/v1/admin/users", headers=admin.headers)
    assert body["password"] not in listed.text
    again = client.post(
        f"/api/v1/admin/users/{nurse.actor.username}/password", headers=admin.headers
    )
    assert again.json()["password"] != body["password"]
    with pytest.raises(Unauthorized):
        _sign_in(sessions, nurse, body["password"])


def test_only_an_admin_of_the_same_organisation_issues_one(
    client: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    admin = make_user("admin")
    nurse = make_user("ward_clinician", org=admin.org)
    theirs = make_user("admin")  # another organisation's administrator
    manager = make_user("manager", "discharge_team", org=admin.org)
    path = f"/api/v1/admin/users/{nurse.actor.username}/password"
    r = client.post(path, headers=theirs.headers)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    assert admin.org not in r.text
    r = client.post(path, headers=manager.headers)
    assert (r.status_code, r.json()["code"]) == (403, "forbidden")
    assert client.post(path).status_code == 401
    r = client.post("/api/v1/admin/users/no.such.person/password", headers=admin.headers)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")
    with sessions() as session:
        assert session.get(PasswordCredential, nurse.actor.user_id) is None


def test_changing_ones_own_password_over_http(
    client: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("discharge_team")
    path = "/api/v1/auth/password"
    body = {"current": "nothing yet", "new": "a good long passphrase"}
    r = client.post(path, headers=user.headers, json=body)
    assert (r.status_code, r.json()["code"]) == (409, "no_password")
    issued = _issue(sessions, user, None)
    r = client.post(path, headers=user.headers, json=body)
    assert (r.status_code, r.json()["code"]) == (403, "wrong_password")
    r = client.post(path, headers=user.headers, json={"current": issued, "new": "too short"})
    assert (r.status_code, r.json()["code"]) == (422, "weak_password")
    assert "12 characters" in r.json()["detail"]
    r = client.post(path, headers=user.headers, json={**body, "extra": 1})
    assert (r.status_code, r.json()["code"]) == (422, "validation_failed")
    assert client.post(path, json=body).status_code == 401
    r = client.post(path, headers=user.headers, json={**body, "current": issued})
    assert r.status_code == 204, r.text
    assert _sign_in(sessions, user, body["new"]).must_change is False


# -- the command line -------------------------------------------------------------------------


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    yield CliRunner()
    get_engine().dispose()
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()


def test_the_command_line_prints_a_password_that_signs_in(
    cli_env: CliRunner, sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("discharge_team")
    result = cli_env.invoke(cli, ["users", "set-password", user.actor.username, "--org", user.org])
    assert result.exit_code == 0, result.output
    printed = result.stdout.strip().splitlines()
    assert len(printed) == 1  # the password alone on stdout; the note goes to stderr
    assert "shown once" in result.stderr
    signed = _sign_in(sessions, user, printed[0])
    assert (signed.actor.username, signed.must_change) == (user.actor.username, True)
    stored = _credential(sessions, user.actor.user_id)
    assert stored.set_by_user_id is None
    missing = cli_env.invoke(cli, ["users", "set-password", "no.such.person", "--org", user.org])
    assert missing.exit_code == 1
    assert "no user 'no.such.person'" in missing.output


def test_the_admin_service_refuses_a_non_admin(sessions: sessionmaker[Session], make_user) -> None:
    """The service checks the role itself too, not only the route."""
    from app.errors import Forbidden

    clerk = make_user("analyst")
    with sessions() as session, pytest.raises(Forbidden):
        admin_service.issue_password(session, actor=clerk.actor, username=clerk.actor.username)
