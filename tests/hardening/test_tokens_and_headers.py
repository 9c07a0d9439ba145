"""Tokens (expiry, rotation, revocation at once), security headers, CORS and the rate limit."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from app.auth.service import create_token, revoke_tokens
from app.cli import cli
from app.config import Settings, get_settings
from app.db import get_engine, get_sessionmaker
from app.models import ApiToken
from app.security.headers import DEFAULT_CSP, DOCS_CSP
from app.security.rate_limit import TokenBuckets
from tests.hardening.conftest import serve

ROTATE = "/api/v1/auth/tokens/rotate"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _live_tokens(sessions, user_id: int) -> list[ApiToken]:  # noqa: ANN001
    with sessions() as session:
        rows = session.execute(select(ApiToken).where(ApiToken.user_id == user_id)).scalars()
        return [t for t in rows if t.revoked_at is None]


# -- tokens ---------------------------------------------------------------------------------------
def test_rotation_issues_a_new_token_and_revokes_the_old_at_once(
    client: TestClient, sessions, make_user
) -> None:
    user = make_user("analyst")
    r = client.post(ROTATE, headers=user.headers)
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert set(body) == {"token", "prefix", "username", "expires_at", "revoked_prefix"}
    assert body["token"].startswith("hf_")
    assert body["token"] != user.token
    assert body["prefix"] == body["token"][:10]
    assert body["revoked_prefix"] == user.token[:10]
    assert body["username"] == user.actor.username
    assert body["expires_at"] is None  # the old token never expired, nor does the new one

    old = client.get("/api/v1/pathways", headers=user.headers)
    assert old.status_code == 401
    assert old.json()["detail"] == "the bearer token has been revoked"
    assert client.get("/api/v1/pathways", headers=_bearer(body["token"])).status_code == 200
    again = client.post(ROTATE, headers=user.headers)
    assert again.status_code == 401
    assert again.json()["code"] == "unauthorized"
    (live,) = _live_tokens(sessions, user.actor.user_id)
    assert live.prefix == body["prefix"]


def test_rotation_keeps_the_lifetime_unless_told_otherwise(client, sessions, make_user) -> None:
    user = make_user("analyst")
    with sessions() as session:
        issued = create_token(session, username=user.actor.username, expires_in=timedelta(days=10))
    r = client.post(ROTATE, headers=_bearer(issued.token))
    assert r.status_code == 201, r.text
    expires = datetime.fromisoformat(r.json()["expires_at"])
    assert timedelta(days=9, hours=23) < expires - datetime.now(UTC) <= timedelta(days=10)

    r = client.post(ROTATE, headers=_bearer(r.json()["token"]), json={"expires_in_days": 1})
    assert r.status_code == 201, r.text
    expires = datetime.fromisoformat(r.json()["expires_at"])
    assert timedelta(hours=23) < expires - datetime.now(UTC) <= timedelta(days=1)

    for days in (0, 3651, True, "7"):  # a boolean or text is not a number of days
        bad = client.post(
            ROTATE, headers=_bearer(r.json()["token"]), json={"expires_in_days": days}
        )
        assert bad.status_code == 422, days
        assert bad.json()["errors"][0]["loc"] == ["body", "expires_in_days"]
    assert client.get("/api/v1/pathways", headers=_bearer(r.json()["token"])).status_code == 200


def test_an_expired_or_revoked_token_cannot_be_rotated(client, sessions, make_user) -> None:
    user = make_user("analyst")
    with sessions() as session:
        expired = create_token(
            session, username=user.actor.username, expires_in=timedelta(seconds=-1)
        )
        assert revoke_tokens(session, prefix=user.token[:10]) == 1
    for token, detail in (
        (expired.token, "the bearer token has expired"),
        (user.token, "the bearer token has been revoked"),
        ("hf_not-a-token", "the bearer token is not recognised"),
    ):
        r = client.post(ROTATE, headers=_bearer(token))
        assert r.status_code == 401, r.text
        assert r.json()["detail"] == detail
    # Nothing was issued: the only unrevoked token is the expired one.
    assert [t.prefix for t in _live_tokens(sessions, user.actor.user_id)] == [expired.prefix]


def test_concurrent_rotations_of_one_token_make_exactly_one_new_token(
    live_server: str, sessions, make_user
) -> None:
    user = make_user("analyst")
    n = 8
    barrier = threading.Barrier(n)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def rotate() -> None:
        with httpx.Client(timeout=30) as http:
            barrier.wait()
            r = http.post(f"{live_server}{ROTATE}", headers=user.headers)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=rotate) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(r.status_code for r in results) == {201: 1, 401: n - 1}
    winner = next(r.json() for r in results if r.status_code == 201)
    assert [t.prefix for t in _live_tokens(sessions, user.actor.user_id)] == [winner["prefix"]]


def test_expiry_takes_effect_at_once(client, sessions, make_user) -> None:
    user = make_user("analyst")
    with sessions() as session:
        issued = create_token(
            session, username=user.actor.username, expires_in=timedelta(seconds=1)
        )
    assert client.get("/api/v1/pathways", headers=_bearer(issued.token)).status_code == 200
    assert issued.expires_at is not None
    time.sleep(max(0.0, (issued.expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
    r = client.get("/api/v1/pathways", headers=_bearer(issued.token))
    assert r.status_code == 401
    assert r.json()["detail"] == "the bearer token has expired"


def test_revocation_signs_the_dashboard_out_at_once(settings: Settings, sessions, make_user):  # noqa: ANN201
    user = make_user("manager")
    with serve(settings) as browser:
        browser.headers["Origin"] = "http://testserver"  # a browser's own form posts say so
        login = browser.post("/sign-in/token", data={"token": user.token}, follow_redirects=False)
        assert login.status_code == 303
        assert browser.get("/dashboard", follow_redirects=False).status_code == 200
        with sessions() as session:
            revoke_tokens(session, prefix=user.token[:10])
        r = browser.get("/dashboard", follow_redirects=False)
        assert r.status_code == 303
        assert r.headers["location"] == "/?next=/dashboard"


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    yield CliRunner()
    get_engine().dispose()
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()


def test_tokens_rotate_from_the_command_line(cli_env: CliRunner, client, make_user) -> None:
    user = make_user("analyst")
    result = cli_env.invoke(cli, ["tokens", "rotate", user.token[:10], "--expires-days", "30"])
    assert result.exit_code == 0, result.output
    new = result.stdout.strip().splitlines()[0]
    assert new.startswith("hf_")
    assert new != user.token
    assert f"replaces {user.token[:10]}, now revoked" in result.stderr
    assert client.get("/api/v1/pathways", headers=user.headers).status_code == 401
    assert client.get("/api/v1/pathways", headers=_bearer(new)).status_code == 200
    again = cli_env.invoke(cli, ["tokens", "rotate", user.token[:10]])
    assert again.exit_code == 1
    assert "no live token with prefix" in again.output


# -- security headers ---------------------------------------------------------------------------
BASE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=31536000",
}


@pytest.mark.parametrize(
    ("method", "path", "status", "auth"),
    [
        ("GET", "/api/v1/pathways", 200, True),
        ("GET", "/api/v1/cases", 401, False),
        ("GET", "/api/v1/cases/999999999", 404, True),
        ("GET", "/api/v1/cases?limit=0", 422, True),
        ("DELETE", "/api/v1/pathways", 405, True),
        ("GET", "/api/v1/rfd?format=csv", 200, True),
        ("GET", "/no/such/page", 404, False),
        ("GET", "/healthz", 200, False),
        ("GET", "/openapi.json", 200, False),
        ("GET", "/", 200, False),  # the sign-in page
        ("GET", "/dashboard/login", 303, False),
        ("GET", "/dashboard", 303, False),
    ],
)
def test_security_headers_on_every_response(client, make_user, method, path, status, auth):  # noqa: ANN001, ANN201
    user = make_user("discharge_team")
    r = client.request(method, path, headers=user.headers if auth else {}, follow_redirects=False)
    assert r.status_code == status, r.text
    expected = dict(BASE_HEADERS)
    if path in ("/", "/dashboard") and status == 200:
        # The screens hold forms posting to this site: under `no-referrer` a browser
        # sends `Origin: null` with them, which the cross-site guard must refuse. Same-origin
        # still sends no referrer to any other site.
        expected["referrer-policy"] = "same-origin"
    for name, value in expected.items():
        assert r.headers[name] == value, name
    assert r.headers["content-security-policy"] == DEFAULT_CSP
    assert r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_the_dashboard_css_may_be_cached_and_the_docs_get_their_own_policy(client) -> None:
    css = client.get("/dashboard/static/dashboard.css")
    assert css.status_code == 200
    assert css.headers["x-content-type-options"] == "nosniff"
    assert "no-store" not in css.headers.get("cache-control", "")
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-security-policy"] == DOCS_CSP
    assert docs.headers["x-frame-options"] == "DENY"


def test_hsts_and_the_policy_are_configurable(settings: Settings) -> None:
    with serve(settings, hsts_seconds=0, content_security_policy="x-test") as c:
        r = c.get("/healthz")
    assert r.status_code == 200
    assert "strict-transport-security" not in r.headers
    assert r.headers["content-security-policy"] == "x-test"
    assert r.headers["x-frame-options"] == "DENY"


# -- CORS -----------------------------------------------------------------------------------------
PREFLIGHT = {
    "Origin": "https://ward.example",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,if-match",
}


def test_cors_is_closed_by_default(client, make_user) -> None:
    user = make_user("analyst")
    pre = client.options("/api/v1/cases", headers=PREFLIGHT)
    assert pre.status_code == 405
    assert "access-control-allow-origin" not in pre.headers
    r = client.get("/api/v1/pathways", headers={**user.headers, "Origin": "https://ward.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


def test_cors_allows_only_configured_origins(settings: Settings, make_user) -> None:
    user = make_user("analyst")
    with serve(settings, cors_allow_origins=["https://ward.example"]) as c:
        pre = c.options("/api/v1/cases", headers=PREFLIGHT)
        assert pre.status_code == 200, pre.text
        assert pre.headers["access-control-allow-origin"] == "https://ward.example"
        assert "if-match" in pre.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in pre.headers
        assert pre.headers["x-content-type-options"] == "nosniff"
        other = c.options("/api/v1/cases", headers={**PREFLIGHT, "Origin": "https://evil.example"})
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
        r = c.get("/api/v1/pathways", headers={**user.headers, "Origin": "https://ward.example"})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://ward.example"
        assert "ETag" in r.headers["access-control-expose-headers"]


# -- rate limit -----------------------------------------------------------------------------------
def test_the_rate_limit_is_per_token_with_429_and_retry_after(settings: Settings, make_user):  # noqa: ANN201
    a, b = make_user("analyst"), make_user("analyst")
    # One token every 5 seconds after a burst of 3: the burst is spent long before a refill,
    # however busy the machine (at 1 a second, a loaded machine refilled one mid-burst).
    with serve(settings, rate_limit_per_minute=12, rate_limit_burst=3) as c:
        assert [c.get("/api/v1/pathways", headers=a.headers).status_code for _ in range(3)] == [
            200,
            200,
            200,
        ]
        r = c.get("/api/v1/pathways", headers=a.headers)
        assert r.status_code == 429
        wait = int(r.headers["retry-after"])
        assert 1 <= wait <= 5
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.json() == {
            "type": "https://homefirst.example/problems/rate_limited",
            "title": "Too many requests",
            "status": 429,
            "code": "rate_limited",
            "detail": f"This token has sent too many requests; retry after {wait} seconds.",
            "retry_after_seconds": wait,
        }
        # Another token has its own bucket; no token at all is refused by authentication.
        assert c.get("/api/v1/pathways", headers=b.headers).status_code == 200
        assert c.get("/api/v1/pathways").status_code == 401
        time.sleep(wait + 0.05)  # as told: then one more request, and only one
        assert c.get("/api/v1/pathways", headers=a.headers).status_code == 200
        assert c.get("/api/v1/pathways", headers=a.headers).status_code == 429


def test_the_default_limit_is_high_and_zero_turns_it_off(settings: Settings, make_user) -> None:
    assert Settings().rate_limit_per_minute >= 6000
    user = make_user("analyst")
    with serve(settings, rate_limit_per_minute=0, rate_limit_burst=1) as c:
        codes = {c.get("/healthz", headers=user.headers).status_code for _ in range(20)}
    assert codes == {200}


def test_token_buckets_refill_at_the_configured_rate() -> None:
    now = [100.0]
    buckets = TokenBuckets(per_minute=120, burst=2, max_keys=2, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)  # 2 per second: half a second to the next
    now[0] += 0.5
    assert buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] += 60
    assert [buckets.take("a"), buckets.take("a"), buckets.take("a") > 0] == [0.0, 0.0, True]
    buckets.take("b")
    buckets.take("c")  # over max_keys: the least recently seen key ("a") is forgotten
    assert buckets.take("a") == 0.0
