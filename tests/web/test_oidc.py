"""Signing in through OpenID Connect, against a real OpenID provider started here.

The provider is `oidc-provider-mock` (an OpenID provider built on Authlib) served over HTTP on
a free port; HomeFirst fetches its discovery document and keys and calls its token endpoint as
it would NHS CIS2's. The test plays the browser: it follows each redirect itself, keeping
HomeFirst's cookies, and on the provider's authorization page chooses who signs in. The
provider is reached as `localhost` and HomeFirst as `testserver` (in the browser test,
`127.0.0.1`), so the provider is another site, as in real life.

A thin WSGI wrapper around the provider records what HomeFirst sent to the token endpoint (to
check PKCE) and can make the provider misbehave: publish other keys than it signs with, or
issue the ID token for another client.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import oidc_provider_mock
import pytest
import werkzeug.serving
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from joserfc.jwk import RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.admin import service as admin_service
from app.auth import sessions as web_sessions
from app.auth.oidc_config import IdentityProviderConfigError, load_identity_providers
from app.config import PROJECT_ROOT, Settings
from app.main import create_app
from app.models import OidcSignInAttempt, WebSession
from app.security.cookies import SESSION_COOKIE
from app.security.headers import DEFAULT_CSP
from app.timeutil import utcnow
from app.web.oidc import ATTEMPT_COOKIE, safe_next, sign_in_options

# The provider's own Authlib server code warns about an Authlib API it still uses.
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")
SECRET_ENV = "HOMEFIRST_TEST_OIDC_SECRET"
SECRET = "s3cret-for-the-test-provider"
CLIENT_ID = "homefirst-test"
BASE = "http://testserver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REQUIRE_BROWSER = os.environ.get("HOMEFIRST_REQUIRE_BROWSER") == "1"


# -- the provider ---------------------------------------------------------------------------
@dataclass
class Provider:
    """The running provider and the switches of its wrapper."""

    issuer: str
    token_requests: list[tuple[dict[str, str], str | None]] = field(default_factory=list)
    published_keys: dict[str, Any] | None = None  # publish these instead of its own keys
    token_client: str | None = None  # answer the token request as if this client asked

    def set_claims(self, sub: str, claims: dict[str, Any]) -> None:
        r = httpx.put(f"{self.issuer}/users/{sub}", json=claims)
        assert r.status_code == 204, r.text

    def real_keys(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.issuer}/jwks").json())


class _Wrapper:
    def __init__(self, app: Callable[..., Any], provider: Provider) -> None:
        self.app = app
        self.provider = provider

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
        if path == "/jwks" and self.provider.published_keys is not None:
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps(self.provider.published_keys).encode()]
        if path == "/oauth2/token" and method == "POST":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            form = dict(parse_qsl(body.decode()))
            self.provider.token_requests.append((form, environ.get("HTTP_AUTHORIZATION")))
            if self.provider.token_client is not None:
                basic = base64.b64encode(f"{self.provider.token_client}:any".encode()).decode()
                environ["HTTP_AUTHORIZATION"] = f"Basic {basic}"
            environ["wsgi.input"] = io.BytesIO(body)
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    server = werkzeug.serving.make_server("127.0.0.1", 0, lambda e, s: wrapper(e, s), threaded=True)
    port = server.server_port
    state = Provider(issuer=f"http://localhost:{port}")
    wrapper = _Wrapper(oidc_provider_mock.app(require_nonce=True), state)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()


@pytest.fixture(autouse=True)
def _provider_behaves(provider: Provider) -> None:
    provider.published_keys = None
    provider.token_client = None
    provider.token_requests.clear()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- HomeFirst configured for it ------------------------------------------------------------
@dataclass(frozen=True)
class World:
    settings: Settings
    app: FastAPI
    sessions: sessionmaker[Session]
    org: str  # the organisation signing in through "nhs" (sub = username)
    org2: str  # the organisation signing in through "trust" (preferred_username = username)
    make_user: Any


def _providers_file(path: Path, issuer: str, org: str, org2: str) -> Path:
    common = {"client_id": CLIENT_ID, "client_secret_env": SECRET_ENV}
    providers = [
        {"key": "nhs", "label": "Sign in with NHS CIS2", "organisation": org, "issuer": issuer}
        | common,
        {
            "key": "trust",
            "label": "Sign in with the trust's directory",
            "organisation": org2,
            "issuer": issuer,
            "scopes": ["openid", "profile"],
            "username_claim": "preferred_username",
            "token_endpoint_auth_method": "client_secret_post",
        }
        | common,
        {
            "key": "down",
            "label": "Sign in with a provider that is down",
            "organisation": org,
            "issuer": f"http://127.0.0.1:{_closed_port()}",
        }
        | common,
    ]
    path.write_text(yaml.safe_dump({"providers": providers}))
    return path


def _app(settings: Settings) -> FastAPI:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(SECRET_ENV, SECRET)
        return create_app(settings)


@pytest.fixture(scope="module")
def world(
    db_url: str,
    sessions: sessionmaker[Session],
    provider: Provider,
    tmp_path_factory: pytest.TempPathFactory,
    make_user_module: Any,
) -> World:
    tag = uuid.uuid4().hex[:8].upper()
    org, org2 = f"OIDC-{tag}", f"OIDC2-{tag}"
    path = _providers_file(tmp_path_factory.mktemp("idp") / "idp.yaml", provider.issuer, org, org2)
    settings = Settings(
        database_url=db_url,
        identity_providers_file=path,
        clock_sweep_interval_seconds=0,
        live_figures_max_age_seconds=0,
        chc_import_poll_seconds=0,
    )
    return World(settings, _app(settings), sessions, org, org2, make_user_module)


@pytest.fixture
def browser(world: World) -> Iterator[TestClient]:
    """A fresh browser: its own cookie jar."""
    with TestClient(world.app, base_url=BASE, raise_server_exceptions=False) as client:
        yield client


# -- the browser's part ----------------------------------------------------------------------
def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = _query(url) | changes
    return urlunsplit(parts._replace(query=urlencode(query)))


def _to_provider(browser: TestClient, key: str = "nhs", next_path: str | None = None) -> str:
    """Start signing in; the provider's authorization address HomeFirst sent the browser to."""
    params = {"next": next_path} if next_path is not None else None
    r = browser.get(f"/sign-in/oidc/{key}", params=params, follow_redirects=False)
    assert r.status_code == 303, r.text
    return str(r.headers["location"])


def _at_provider(authorize_url: str, form: dict[str, str]) -> str:
    """The person's choice on the provider's page; the address it sends the browser back to."""
    r = httpx.post(authorize_url, data=form, follow_redirects=False)
    assert r.status_code == 302, r.text
    callback = str(r.headers["location"])
    assert callback.startswith(f"{BASE}/sign-in/oidc/")
    return callback


def _sign_in(
    browser: TestClient,
    sub: str,
    *,
    key: str = "nhs",
    next_path: str | None = None,
    tamper: Callable[[str], str] = lambda url: url,
) -> tuple[httpx.Response, str]:
    callback = _at_provider(tamper(_to_provider(browser, key, next_path)), {"sub": sub})
    return browser.get(callback, follow_redirects=False), callback


def _refusal(r: httpx.Response) -> str:
    """The machine-readable code of a refusal page."""
    found = re.search(r'data-problem="([a-z_]+)"', r.text)
    assert found, r.text
    return found.group(1)


def _signed_in_as(world: World, browser: TestClient) -> str | None:
    raw = browser.cookies.get(SESSION_COOKIE)
    if raw is None:
        return None
    policy = web_sessions.SessionPolicy.from_settings(world.settings)
    with world.sessions() as db:
        actor = web_sessions.current(db, raw, now=utcnow(), policy=policy)
    return f"{actor.username}@{actor.organisation}"


def _continues_to(r: httpx.Response) -> str:
    assert r.status_code == 200, r.text
    found = re.search(r'<meta http-equiv="refresh" content="0;url=([^"]*)">', r.text)
    assert found, r.text
    link = re.search(r'<a id="continue" href="([^"]*)">', r.text)
    assert link
    assert link.group(1) == found.group(1)
    return found.group(1).replace("&amp;", "&")


# -- the code flow ---------------------------------------------------------------------------
def test_full_code_flow_signs_in_as_the_homefirst_user(
    world: World, provider: Provider, browser: TestClient
) -> None:
    user = world.make_user("manager", org=world.org)
    start = browser.get("/sign-in/oidc/nhs", params={"next": "/dashboard"}, follow_redirects=False)
    assert start.status_code == 303
    cookie = start.headers["set-cookie"]
    assert cookie.startswith(f"{ATTEMPT_COOKIE}=")
    for attribute in ("HttpOnly", "Max-Age=600", "Path=/sign-in/oidc", "SameSite=lax"):
        assert attribute.lower() in cookie.lower()
    authorize = str(start.headers["location"])
    assert authorize.startswith(f"{provider.issuer}/oauth2/authorize?")
    asked = _query(authorize)
    assert asked["response_type"] == "code"
    assert asked["client_id"] == CLIENT_ID
    assert asked["redirect_uri"] == f"{BASE}/sign-in/oidc/nhs/callback"
    assert asked["scope"].split() == ["openid", "profile"]
    assert asked["code_challenge_method"] == "S256"
    assert len(asked["state"]) >= 32
    assert len(asked["nonce"]) >= 32
    # Nothing of the attempt is in the browser but its id: state, nonce and verifier stay here.
    assert asked["state"] not in cookie
    assert asked["nonce"] not in cookie

    callback = _at_provider(authorize, {"sub": user.actor.username})
    r = browser.get(callback, follow_redirects=False)
    assert _continues_to(r) == "/dashboard"
    assert user.actor.username in r.text
    assert "<script" not in r.text
    assert r.headers["content-security-policy"] == DEFAULT_CSP
    assert r.headers["cache-control"] == "no-store"
    assert _signed_in_as(world, browser) == f"{user.actor.username}@{world.org}"
    assert browser.cookies.get(ATTEMPT_COOKIE) is None  # used: the browser forgets it

    # PKCE: HomeFirst proved to the token endpoint that it started this request.
    ((form, authorization),) = provider.token_requests
    assert form["grant_type"] == "authorization_code"
    verifier = form["code_verifier"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert digest.decode() == asked["code_challenge"]
    assert form["redirect_uri"] == asked["redirect_uri"]
    assert authorization == "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()

    with world.sessions() as db:
        row = db.execute(select(WebSession).where(WebSession.user_id == user.actor.user_id)).one()
        assert row[0].method == "oidc"
    # The session is a signed-in browser like any other: the dashboard answers as that user.
    page = browser.get("/dashboard", follow_redirects=False)
    assert page.status_code == 200
    assert user.actor.username in page.text


def test_the_username_may_come_from_another_claim_within_the_providers_organisation(
    world: World, provider: Provider, browser: TestClient
) -> None:
    user = world.make_user("discharge_team", org=world.org2)
    sub = f"cis2-{uuid.uuid4()}"
    provider.set_claims(sub, {"preferred_username": user.actor.username})
    r, _ = _sign_in(browser, sub, key="trust")
    assert _continues_to(r) == "/"
    assert _signed_in_as(world, browser) == f"{user.actor.username}@{world.org2}"
    # client_secret_post: the secret went in the form, not a header.
    ((form, authorization),) = provider.token_requests
    assert (form["client_id"], form["client_secret"], authorization) == (CLIENT_ID, SECRET, None)


def test_a_user_of_that_name_in_another_organisation_is_not_signed_in(
    world: World, browser: TestClient
) -> None:
    elsewhere = world.make_user("manager")  # same name nowhere in world.org
    r, _ = _sign_in(browser, elsewhere.actor.username)
    assert r.status_code == 403
    assert _refusal(r) == "no_account"
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_an_unknown_user_is_refused_and_not_created(world: World, browser: TestClient) -> None:
    name = f"nobody-{uuid.uuid4().hex[:8]}"
    r, _ = _sign_in(browser, name)
    assert r.status_code == 403
    assert _refusal(r) == "no_account"
    assert name in r.text
    assert "administrator" in r.text
    assert browser.cookies.get(SESSION_COOKIE) is None
    with world.sessions() as db:
        from app.auth.repository import AuthRepository

        assert AuthRepository(db).user_in(world.org, name) is None


def test_an_inactive_user_is_refused(world: World, browser: TestClient) -> None:
    admin = world.make_user("admin", org=world.org)
    user = world.make_user("manager", org=world.org)
    with world.sessions() as db:
        admin_service.deactivate(db, actor=admin.actor, username=user.actor.username)
    r, _ = _sign_in(browser, user.actor.username)
    assert r.status_code == 403
    assert _refusal(r) == "account_inactive"
    assert browser.cookies.get(SESSION_COOKIE) is None


# -- `next` ------------------------------------------------------------------------------------
def test_next_on_this_site_is_kept_and_off_site_is_ignored(
    world: World, browser: TestClient
) -> None:
    user = world.make_user("manager", org=world.org)
    r, _ = _sign_in(browser, user.actor.username, next_path="/dashboard?site=A&date=2026-01-02")
    assert _continues_to(r) == "/dashboard?site=A&date=2026-01-02"
    r, _ = _sign_in(browser, user.actor.username, next_path="https://evil.example/phish")
    assert _continues_to(r) == "/"
    r, _ = _sign_in(browser, user.actor.username, next_path="//evil.example/phish")
    assert _continues_to(r) == "/"


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil.example",
        "/sign-in/oidc/nhs",
        "/" + "a" * 1000,
        "",
        None,
    ],
)
def test_safe_next_refuses_anything_but_a_path_here(value: str | None) -> None:
    assert safe_next(value) == "/"


def test_safe_next_keeps_a_path_with_its_query() -> None:
    assert safe_next("/tracker?ward=3#top") == "/tracker?ward=3#top"


# -- refusals ---------------------------------------------------------------------------------
def test_the_provider_saying_no_is_a_refusal(world: World, browser: TestClient) -> None:
    callback = _at_provider(_to_provider(browser), {"action": "deny"})
    assert _query(callback)["error"] == "access_denied"
    r = browser.get(callback, follow_redirects=False)
    assert r.status_code == 401
    assert _refusal(r) == "identity_provider_error"
    assert "access_denied" in r.text
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_a_wrong_state_is_refused_and_uses_up_the_attempt(
    world: World, browser: TestClient
) -> None:
    user = world.make_user("manager", org=world.org)
    callback = _at_provider(_to_provider(browser), {"sub": user.actor.username})
    attempt = browser.cookies.get(ATTEMPT_COOKIE)
    r = browser.get(_with_query(callback, state="not-the-state"), follow_redirects=False)
    assert r.status_code == 400
    assert _refusal(r) == "sign_in_attempt_invalid"
    assert browser.cookies.get(SESSION_COOKIE) is None
    # The genuine answer afterwards finds the attempt used.
    browser.cookies.set(ATTEMPT_COOKIE, attempt, path="/sign-in/oidc")
    r = browser.get(callback, follow_redirects=False)
    assert r.status_code == 400
    assert "already been used" in r.text
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_a_replayed_callback_is_refused(world: World, browser: TestClient) -> None:
    user = world.make_user("manager", org=world.org)
    callback = _at_provider(_to_provider(browser), {"sub": user.actor.username})
    attempt = browser.cookies.get(ATTEMPT_COOKIE)
    assert attempt is not None
    first = browser.get(callback, follow_redirects=False)
    assert first.status_code == 200
    browser.cookies.clear()
    # The same answer again, cookie and all (someone who copied both): used once only.
    browser.cookies.set(ATTEMPT_COOKIE, attempt, path="/sign-in/oidc")
    again = browser.get(callback, follow_redirects=False)
    assert again.status_code == 400
    assert _refusal(again) == "sign_in_attempt_invalid"
    assert "already been used" in again.text
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_an_answer_opened_in_another_browser_is_refused(world: World, browser: TestClient) -> None:
    """Login CSRF: an attacker's own callback address, sent to a victim, signs nobody in."""
    attacker = world.make_user("manager", org=world.org)
    callback = _at_provider(_to_provider(browser), {"sub": attacker.actor.username})
    with TestClient(world.app, base_url=BASE, raise_server_exceptions=False) as victim:
        r = victim.get(callback, follow_redirects=False)
        assert r.status_code == 400
        assert _refusal(r) == "sign_in_attempt_invalid"
        assert victim.cookies.get(SESSION_COOKIE) is None
        # A client asking for JSON gets the refusal as a problem document.
        r = victim.get(callback, headers={"Accept": "application/json"})
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == "sign_in_attempt_invalid"


def test_an_expired_attempt_is_refused(world: World, browser: TestClient) -> None:
    user = world.make_user("manager", org=world.org)
    callback = _at_provider(_to_provider(browser), {"sub": user.actor.username})
    state = _query(callback)["state"]
    with world.sessions() as db:
        attempt = db.execute(
            select(OidcSignInAttempt).where(OidcSignInAttempt.state == state)
        ).scalar_one()
        attempt.expires_at = utcnow()
        db.commit()
    r = browser.get(callback, follow_redirects=False)
    assert r.status_code == 400
    assert "took too long" in r.text
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_an_answer_for_another_provider_is_refused(world: World, browser: TestClient) -> None:
    user = world.make_user("manager", org=world.org)
    callback = _at_provider(_to_provider(browser, "nhs"), {"sub": user.actor.username})
    r = browser.get(callback.replace("/oidc/nhs/", "/oidc/trust/"), follow_redirects=False)
    assert r.status_code == 400
    assert _refusal(r) == "sign_in_attempt_invalid"
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_an_id_token_with_another_nonce_is_refused(world: World, browser: TestClient) -> None:
    user = world.make_user("manager", org=world.org)
    r, _ = _sign_in(
        browser,
        user.actor.username,
        tamper=lambda url: _with_query(url, nonce="a-nonce-homefirst-never-sent"),
    )
    assert r.status_code == 401
    assert _refusal(r) == "invalid_id_token"
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_an_id_token_for_another_client_is_refused(
    world: World, provider: Provider, browser: TestClient
) -> None:
    """The provider answers HomeFirst's token request with a token issued to another client
    (its audience): correctly signed, right issuer and nonce, wrong audience."""
    user = world.make_user("manager", org=world.org)
    provider.token_client = "another-service"
    r, _ = _sign_in(
        browser,
        user.actor.username,
        tamper=lambda url: _with_query(url, client_id="another-service"),
    )
    assert r.status_code == 401
    assert _refusal(r) == "invalid_id_token"
    assert browser.cookies.get(SESSION_COOKIE) is None


def test_an_id_token_not_signed_by_the_providers_published_keys_is_refused(
    world: World, provider: Provider
) -> None:
    """The provider publishes a key (same key id) other than the one its tokens are signed
    with: as if a token came signed by someone else's key."""
    user = world.make_user("manager", org=world.org)
    (real,) = provider.real_keys()["keys"]
    forged = RSAKey.generate_key(2048, parameters={"kid": real["kid"], "alg": "RS256"})
    provider.published_keys = {"keys": [forged.as_dict(private=False)]}
    app = _app(world.settings)  # keys are kept once fetched: a fresh service fetches these
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as browser:
        r, _ = _sign_in(browser, user.actor.username)
        assert r.status_code == 401
        assert _refusal(r) == "invalid_id_token"
        assert browser.cookies.get(SESSION_COOKIE) is None


def test_an_unknown_provider_is_a_404_page(browser: TestClient) -> None:
    r = browser.get("/sign-in/oidc/nope", follow_redirects=False)
    assert r.status_code == 404
    assert _refusal(r) == "unknown_identity_provider"
    assert browser.cookies.get(ATTEMPT_COOKIE) is None


def test_a_provider_that_cannot_be_reached_is_a_502_page(browser: TestClient) -> None:
    r = browser.get("/sign-in/oidc/down", follow_redirects=False)
    assert r.status_code == 502
    assert _refusal(r) == "identity_provider_unavailable"
    assert browser.cookies.get(ATTEMPT_COOKIE) is None


def test_sign_in_options_list_the_providers_for_the_sign_in_page(
    world: World, browser: TestClient
) -> None:
    request = type("R", (), {"app": world.app})()
    assert sign_in_options(request) == [  # type: ignore[arg-type]
        ("nhs", "Sign in with NHS CIS2"),
        ("trust", "Sign in with the trust's directory"),
        ("down", "Sign in with a provider that is down"),
    ]


# -- the configuration file --------------------------------------------------------------------
def test_the_shipped_file_lists_no_provider() -> None:
    shipped = PROJECT_ROOT / "pathways" / "config" / "identity-providers.yaml"
    assert shipped.exists()
    assert load_identity_providers(shipped, environ={}) == {}


def _entry(**changes: Any) -> dict[str, Any]:
    return {
        "key": "cis2",
        "label": "Sign in with NHS CIS2",
        "organisation": "RXX",
        "issuer": "https://cis2.example.nhs.uk/realm",
        "client_id": "homefirst",
        "client_secret_env": "CIS2_SECRET",
    } | changes


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([_entry(client_secret="in-the-file")], "client_secret"),
        ([_entry(client_secret_env="CIS2_MISSING")], "CIS2_MISSING"),
        ([_entry(issuer="http://cis2.example.nhs.uk/realm")], "https"),
        ([_entry(scopes=["profile"])], "openid"),
        ([_entry(), _entry(label="again")], "unique"),
        ([_entry(key="Not A Key")], "key"),
    ],
)
def test_a_bad_providers_file_stops_the_start(
    tmp_path: Path, entries: list[dict[str, Any]], message: str
) -> None:
    path = tmp_path / "idp.yaml"
    path.write_text(yaml.safe_dump({"providers": entries}))
    with pytest.raises(IdentityProviderConfigError, match=message):
        load_identity_providers(path, environ={"CIS2_SECRET": "x"})
    settings = Settings(database_url="sqlite://", identity_providers_file=path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CIS2_SECRET", "x")
        with pytest.raises(IdentityProviderConfigError, match=message):
            create_app(settings)


def test_a_good_entry_reads_its_secret_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "idp.yaml"
    path.write_text(yaml.safe_dump({"providers": [_entry()]}))
    (cis2,) = load_identity_providers(path, environ={"CIS2_SECRET": "from-env"}).values()
    assert cis2.client_secret.get_secret_value() == "from-env"
    assert "from-env" not in repr(cis2)
    assert (
        cis2.discovery_url == "https://cis2.example.nhs.uk/realm/.well-known/openid-configuration"
    )
    assert (cis2.scopes, cis2.username_claim) == (("openid", "profile"), "sub")


# -- in a real browser -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live_homefirst(world: World) -> Iterator[str]:
    import uvicorn

    port = _closed_port()
    server = uvicorn.Server(
        uvicorn.Config(_app(world.settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "HomeFirst did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if REQUIRE_BROWSER:
            pytest.fail(f"Chromium is required (HOMEFIRST_REQUIRE_BROWSER=1): {CHROMIUM} missing")
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"],
        )
        yield instance
        instance.close()


def test_signing_in_through_the_provider_in_chromium(
    world: World, provider: Provider, live_homefirst: str, chromium: Any
) -> None:
    """Real redirects between two sites (HomeFirst on 127.0.0.1, the provider on localhost):
    the strict session cookie set on the provider's redirect back reaches the dashboard."""
    user = world.make_user("manager", org=world.org)
    context = chromium.new_context()
    # The provider's page asks a CDN for its stylesheet: there is no network here, so say no
    # at once rather than wait for the lookup to fail.
    context.route(
        re.compile(r"^https?://(?!localhost[:/]|127\.0\.0\.1[:/])"), lambda route: route.abort()
    )
    page = context.new_page()
    try:
        # From a bookmark to the sign-in page, whose button for the provider keeps the way back.
        page.goto(f"{live_homefirst}/dashboard")
        assert page.url == f"{live_homefirst}/?next=/dashboard"
        page.get_by_role("link", name="Sign in with NHS CIS2").click()
        page.wait_for_url(lambda url: url.startswith(f"{provider.issuer}/oauth2/authorize"))
        page.get_by_placeholder("sub").fill(user.actor.username)
        page.get_by_role("button", name="Authorize", exact=True).click()
        # Past the provider and the callback's page (which moves on by itself), HomeFirst's
        # dashboard, signed in; without the session cookie it would be the sign-in form.
        page.wait_for_url(
            lambda url: url.startswith(live_homefirst) and "/sign-in/" not in url, timeout=15_000
        )
        assert page.url == f"{live_homefirst}/dashboard"
        assert page.locator("body").inner_text().count(user.actor.username) >= 1
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies[SESSION_COOKIE]["sameSite"] == "Strict"
        assert ATTEMPT_COOKIE not in cookies  # used once, then forgotten
    finally:
        context.close()
