"""Dashboard sign-in: a server-side session, not the token, in a locked-down cookie; sign-out,
idle and absolute expiry, deactivation and token revocation end it; cross-site posts refused.

Time is injected by replacing the clock the screens read (`app.web.access.utcnow`,
`app.web.signin.utcnow`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from http.cookies import SimpleCookie

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.auth import sessions as web_sessions
from app.auth.service import create_token, revoke_tokens
from app.auth.tokens import hash_token
from app.config import Settings
from app.errors import Unauthorized
from app.models import User, WebSession
from app.security.cookies import SESSION_COOKIE
from app.timeutil import utcnow
from app.web import access as web_access
from app.web import signin as web_signin
from tests.hardening.conftest import serve

HOST = "http://testserver"
SAME_SITE = {"Origin": HOST}


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    # The screens read the session (app.web.access) and sign in (app.web.signin) at this time.
    monkeypatch.setattr(web_access, "utcnow", c)
    monkeypatch.setattr(web_signin, "utcnow", c)
    return c


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    """A browser of its own (its own cookie jar) on the shared service (not entered: the
    service's lifespan belongs to `client`)."""
    return TestClient(client.app, raise_server_exceptions=False)


def _sign_in(browser: TestClient, token: str, headers: dict[str, str] | None = None) -> str:
    r = browser.post(
        "/sign-in/token",
        data={"token": token, "next": "/dashboard"},
        headers=SAME_SITE if headers is None else headers,
        follow_redirects=False,
    )
    assert (r.status_code, r.headers.get("location")) == (303, "/dashboard"), r.text
    return r.headers["set-cookie"]


def _signed_in(browser: TestClient) -> bool:
    r = browser.get("/dashboard", follow_redirects=False)
    assert r.status_code in (200, 303), r.text
    return r.status_code == 200


def _cookie_value(set_cookie: str) -> str:
    jar: SimpleCookie = SimpleCookie()
    jar.load(set_cookie)
    return jar[SESSION_COOKIE].value


def _row(sessions: sessionmaker[Session], session_id: str) -> WebSession | None:
    with sessions() as s:
        return s.execute(
            select(WebSession).where(WebSession.session_hash == hash_token(session_id))
        ).scalar_one_or_none()


# -- the cookie and what is stored -----------------------------------------------------------------
def test_the_cookie_holds_a_random_session_id_stored_only_hashed(
    browser: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("manager")
    set_cookie = _sign_in(browser, user.token)
    value = _cookie_value(set_cookie)
    assert user.token not in set_cookie
    assert len(value) >= 43  # 32 random bytes, URL-safe base64
    attributes = [a.strip().lower() for a in set_cookie.split(";")]
    assert "httponly" in attributes
    assert "samesite=strict" in attributes
    assert "path=/" in attributes  # every screen shares the one sign-in
    assert "secure" not in attributes  # plain HTTP here: a Secure cookie would never come back
    row = _row(sessions, value)
    assert row is not None
    assert (row.user_id, row.method, row.revoked_at) == (user.actor.user_id, "token", None)
    assert row.session_hash == hash_token(value) != value
    assert row.expires_at - row.created_at == timedelta(hours=12)
    with sessions() as s:
        stored = [tuple(r) for r in s.execute(select(WebSession.__table__)).all()]
    assert not any(value in str(cell) or user.token in str(cell) for r in stored for cell in r)
    assert _signed_in(browser)


def test_the_cookie_is_secure_over_https_or_when_configured(settings: Settings, make_user) -> None:
    user = make_user("manager")
    with serve(settings) as app_client:
        https = TestClient(app_client.app, base_url="https://testserver")
        set_cookie = _sign_in(https, user.token, {"Origin": "https://testserver"})
        assert "secure" in [a.strip().lower() for a in set_cookie.split(";")]
    with serve(settings, session_cookie_secure=True) as http:
        set_cookie = _sign_in(http, user.token)
        assert "secure" in [a.strip().lower() for a in set_cookie.split(";")]


# -- ending a session ------------------------------------------------------------------------------
def test_sign_out_revokes_the_session_and_the_old_cookie_is_refused(
    browser: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("manager")
    value = _cookie_value(_sign_in(browser, user.token))
    assert _signed_in(browser)
    r = browser.post("/sign-out", headers=SAME_SITE, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/?signed_out=1")
    row = _row(sessions, value)
    assert row is not None
    assert row.revoked_at is not None
    # A copy of the cookie kept from before the sign-out opens nothing.
    browser.cookies.set(SESSION_COOKIE, value, path="/")
    assert not _signed_in(browser)


def test_idle_and_absolute_expiry(
    browser: TestClient, sessions: sessionmaker[Session], make_user, clock: Clock
) -> None:
    user = make_user("manager")
    _sign_in(browser, user.token)
    start = clock.now
    # Used every 25 minutes (idle limit 30): alive until the absolute limit of 12 hours.
    for step in range(1, 29):
        clock.now = start + timedelta(minutes=25 * step)
        assert _signed_in(browser), step
    clock.now = start + timedelta(hours=12)
    assert not _signed_in(browser)

    _sign_in(browser, user.token)
    start = clock.now
    clock.now = start + timedelta(minutes=29)
    assert _signed_in(browser)  # 29 minutes without use: still alive (and seen now)
    clock.now += timedelta(minutes=30)
    assert not _signed_in(browser)  # 30 minutes without use: over
    clock.now += timedelta(minutes=1)
    assert not _signed_in(browser)  # and stays over


def test_the_policy_comes_from_the_settings(settings: Settings, make_user, monkeypatch) -> None:
    user = make_user("manager")
    clock = Clock()
    monkeypatch.setattr(web_access, "utcnow", clock)
    monkeypatch.setattr(web_signin, "utcnow", clock)
    with serve(settings, session_idle_minutes=5, session_absolute_hours=1) as b:
        b.headers.update(SAME_SITE)
        start = clock.now
        _sign_in(b, user.token)
        clock.now = start + timedelta(minutes=4)
        assert _signed_in(b)
        clock.now = start + timedelta(minutes=9, seconds=30)
        assert not _signed_in(b)
        _sign_in(b, user.token)
        again = clock.now
        for minutes in range(4, 60, 4):  # never 5 minutes without use
            clock.now = again + timedelta(minutes=minutes)
            assert _signed_in(b), minutes
        clock.now = again + timedelta(hours=1)  # 4 minutes after the last use: the hour is up
        assert not _signed_in(b)


def test_deactivating_the_user_ends_the_session(
    browser: TestClient, client: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    admin = make_user("admin")
    user = make_user("manager", org=admin.org)
    value = _cookie_value(_sign_in(browser, user.token))
    assert _signed_in(browser)
    r = client.post(f"/api/v1/admin/users/{user.actor.username}/deactivate", headers=admin.headers)
    assert r.status_code == 200, r.text
    assert not _signed_in(browser)
    row = _row(sessions, value)
    assert row is not None
    assert row.revoked_at is not None
    # Reactivated by hand: the session stays ended.
    with sessions() as s:
        s.execute(update(User).where(User.id == user.actor.user_id).values(active=True))
        s.commit()
    assert not _signed_in(browser)


def test_revoking_the_sign_in_token_ends_the_session_but_not_others(
    sessions: sessionmaker[Session], client: TestClient, make_user
) -> None:
    user = make_user("manager")
    with sessions() as s:
        second = create_token(s, username=user.actor.username, organisation=user.org).token
    first_browser, second_browser = TestClient(client.app), TestClient(client.app)
    _sign_in(first_browser, user.token)
    _sign_in(second_browser, second)
    with sessions() as s:
        revoke_tokens(s, prefix=user.token[:10])
    assert not _signed_in(first_browser)
    assert _signed_in(second_browser)


def test_signing_in_again_ends_the_previous_session(
    browser: TestClient, sessions: sessionmaker[Session], make_user
) -> None:
    user = make_user("manager")
    first = _cookie_value(_sign_in(browser, user.token))
    second = _cookie_value(_sign_in(browser, user.token))
    assert first != second
    old, new = _row(sessions, first), _row(sessions, second)
    assert old is not None
    assert old.revoked_at is not None
    assert new is not None
    assert new.revoked_at is None


def test_the_module_refuses_with_reasons(sessions: sessionmaker[Session], make_user) -> None:
    """The reusable module on its own (the screens of issue 14 will call it the same way)."""
    user = make_user("manager")
    policy = web_sessions.SessionPolicy(idle=timedelta(minutes=30), absolute=timedelta(hours=12))
    now = utcnow()
    with sessions() as s:
        signed = web_sessions.start(s, actor=user.actor, method="password", now=now, policy=policy)
        assert web_sessions.current(s, signed.session_id, now=now, policy=policy) == user.actor
        late = now + timedelta(minutes=31)
        with pytest.raises(Unauthorized, match="without use"):
            web_sessions.current(s, signed.session_id, now=late, policy=policy)
        with pytest.raises(Unauthorized, match="not signed in"):
            web_sessions.current(s, "not-a-session", now=now, policy=policy)
        assert web_sessions.end(s, signed.session_id, now=now) is True
        assert web_sessions.end(s, signed.session_id, now=now) is False
        with pytest.raises(Unauthorized, match="signed out"):
            web_sessions.current(s, signed.session_id, now=now, policy=policy)


# -- cross-site requests ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "http://testserver:8443"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/form"},
        {"Origin": "null", "Referer": "https://evil.example/form"},
        {},
    ],
    ids=["other", "lookalike", "other-port", "null", "referer", "null+referer", "none"],
)
def test_cross_site_posts_are_refused(
    browser: TestClient, sessions: sessionmaker[Session], make_user, headers: dict[str, str]
) -> None:
    user = make_user("manager")
    # Login CSRF: a sign-in form posted from elsewhere signs no one in.
    r = browser.post(
        "/sign-in/token", data={"token": user.token}, headers=headers, follow_redirects=False
    )
    assert (r.status_code, r.json()["code"]) == (403, "cross_site_request")
    assert "set-cookie" not in r.headers
    # A signed-in browser: a cross-site sign-out (or any other post) is refused too.
    value = _cookie_value(_sign_in(browser, user.token))
    r = browser.post("/sign-out", headers=headers, follow_redirects=False)
    assert (r.status_code, r.json()["code"]) == (403, "cross_site_request")
    row = _row(sessions, value)
    assert row is not None
    assert row.revoked_at is None
    assert _signed_in(browser)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": HOST},
        {"Origin": "http://TESTSERVER:80"},
        {"Referer": f"{HOST}/"},
        {"Origin": "null", "Referer": f"{HOST}/dashboard"},
    ],
    ids=["origin", "origin-default-port", "referer", "null+referer"],
)
def test_same_site_posts_are_accepted(
    browser: TestClient, make_user, headers: dict[str, str]
) -> None:
    user = make_user("manager")
    _sign_in(browser, user.token, headers)
    assert _signed_in(browser)
    r = browser.post("/sign-out", headers=headers, follow_redirects=False)
    assert r.status_code == 303
    assert not _signed_in(browser)


def test_trusted_origins_behind_a_proxy(settings: Settings, make_user) -> None:
    user = make_user("manager")
    proxied = {"Origin": "https://homefirst.example.nhs.uk"}
    with serve(settings, trusted_origins=["https://homefirst.example.nhs.uk"]) as b:
        _sign_in(b, user.token, proxied)
    with serve(settings) as b:
        r = b.post("/sign-in/token", data={"token": user.token}, headers=proxied)
        assert (r.status_code, r.json()["code"]) == (403, "cross_site_request")


def test_bearer_requests_without_the_cookie_are_not_browser_sessions(
    client: TestClient, make_user
) -> None:
    """An API client sends no Origin; its token is not something a browser attaches by itself."""
    user = make_user("analyst")
    r = client.post("/api/v1/auth/tokens/rotate", headers=user.headers)
    assert r.status_code == 201, r.text
