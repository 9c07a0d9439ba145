"""Signing in through an organisation's OpenID Connect provider (NHS CIS2 and the like).

- `GET /sign-in/oidc/{provider}?next=/somewhere`: records the attempt server-side and sends the
  browser to the provider with state, nonce and PKCE (S256). The browser keeps only a random
  attempt id, in an HttpOnly cookie that is SameSite=Lax (so it comes back on the provider's
  redirect), scoped to these addresses, and good for ten minutes and one use.
- `GET /sign-in/oidc/{provider}/callback`: the provider's answer. Checked and turned into a
  server-side session by `app.auth.oidc_sign_in`; the session cookie is set and the browser goes
  on to `next` (a path on this site only; anything else goes to `/`).

The session cookie is SameSite=Strict, and a browser withholds a strict cookie on a navigation
whose redirects began on another site (the provider's). So the callback answers with a small
page that moves on by itself (`<meta http-equiv="refresh">`, and a link; no script, which the
CSP forbids): that navigation starts on this site, and the cookie goes with it.

Any refusal (a provider error, a state that does not match, an answer used twice, a token that
does not verify, a person without an active HomeFirst account) is a 4xx page saying why, with
its code, and starts no session. A client asking for JSON gets the same as a problem document.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import DictLoader, Environment, select_autoescape

from app.auth import oidc_sign_in, sessions
from app.auth.oidc_client import OidcClient
from app.auth.oidc_config import load_identity_providers
from app.config import Settings
from app.deps import SessionDep
from app.errors import DomainError, NotFound
from app.problems import problem
from app.security.cookies import SESSION_COOKIE, secure_cookie, set_session_cookie
from app.timeutil import utcnow

router = APIRouter(prefix="/sign-in/oidc", include_in_schema=False)

ATTEMPT_COOKIE = "homefirst_oidc"
ATTEMPT_COOKIE_PATH = "/sign-in/oidc"
MAX_NEXT = 1000
ProviderKey = Annotated[str, Path(max_length=32)]
QueryText = Annotated[str | None, Query(max_length=4000)]

_PAGES = {
    "base.html": """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{% block head %}{% endblock %}
<title>{% block title %}{% endblock %} – HomeFirst</title>
</head>
<body>
<main id="main-content" {% block main_attrs %}{% endblock %}>
{% block main %}{% endblock %}
</main>
</body>
</html>
""",
    "continue.html": """{% extends "base.html" %}
{% block head %}<meta http-equiv="refresh" content="0;url={{ next }}">{% endblock %}
{% block title %}Signed in{% endblock %}
{% block main %}
<h1>Signed in</h1>
<p>You are signed in to HomeFirst as <strong id="signed-in-as">{{ username }}</strong>.</p>
<p><a id="continue" href="{{ next }}">Continue</a></p>
{% endblock %}
""",
    "refused.html": """{% extends "base.html" %}
{% block main_attrs %}data-problem="{{ code }}"{% endblock %}
{% block title %}{{ title }}{% endblock %}
{% block main %}
<h1>{{ title }}</h1>
<p id="problem-detail">{{ detail }}</p>
<p>Reference: <code id="problem-code">{{ code }}</code></p>
{% if retry %}<p><a href="{{ retry }}">Start signing in again</a></p>{% endif %}
{% endblock %}
""",
}
_templates = Environment(loader=DictLoader(_PAGES), autoescape=select_autoescape(["html"]))


class UnknownProvider(NotFound):
    code, title = "unknown_identity_provider", "No such sign-in option"


def oidc_clients(settings: Settings) -> dict[str, OidcClient]:
    """A client for each configured provider; a bad providers file (or a client secret missing
    from the environment) raises here, so it stops the start."""
    providers = load_identity_providers(settings.identity_providers_path)
    return {key: OidcClient(provider) for key, provider in providers.items()}


def sign_in_options(request: Request) -> list[tuple[str, str]]:
    """(key, label) of each provider, in the file's order, for the sign-in page's buttons
    (each links to `/sign-in/oidc/{key}`)."""
    return [(key, c.provider.label) for key, c in _clients(request).items()]


@router.get("/{provider}", name="oidc_start")
def start(
    request: Request,
    db: SessionDep,
    provider: ProviderKey,
    next_path: Annotated[str | None, Query(alias="next", max_length=MAX_NEXT)] = None,
) -> Response:
    try:
        client = _client(request, provider)
        started = oidc_sign_in.begin(
            db,
            client,
            redirect_uri=str(request.url_for("oidc_callback", provider=provider)),
            next_path=safe_next(next_path),
            now=utcnow(),
        )
    except DomainError as exc:
        return _refused(request, exc, retry=None)
    response = RedirectResponse(started.authorization_url, status_code=303)
    response.set_cookie(
        ATTEMPT_COOKIE,
        started.attempt_id,
        max_age=int(oidc_sign_in.ATTEMPT_LIFETIME.total_seconds()),
        path=ATTEMPT_COOKIE_PATH,
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )
    return response


@router.get("/{provider}/callback", name="oidc_callback")
def callback(
    request: Request,
    db: SessionDep,
    provider: ProviderKey,
    code: QueryText = None,
    state: QueryText = None,
    error: QueryText = None,
    iss: QueryText = None,
) -> Response:
    now = utcnow()
    policy = sessions.SessionPolicy.from_settings(_settings(request))
    try:
        finished = oidc_sign_in.finish(
            db,
            _client(request, provider),
            attempt_id=request.cookies.get(ATTEMPT_COOKIE),
            state=state,
            code=code,
            error=error,
            issuer=iss,
            now=now,
            policy=policy,
        )
    except DomainError as exc:
        retry = f"/sign-in/oidc/{provider}" if provider in _clients(request) else None
        response = _refused(request, exc, retry=retry)
        _clear_attempt(request, response)
        return response
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # signing in again: the old session ends rather than lingering
        sessions.end(db, previous, now=now)
    page = _templates.get_template("continue.html").render(
        username=finished.signed_in.actor.username, next=finished.next_path
    )
    response = HTMLResponse(page)
    _clear_attempt(request, response)
    set_session_cookie(
        response,
        finished.signed_in.session_id,
        max_age=int(policy.absolute.total_seconds()),
        secure=_secure(request),
    )
    return response


def safe_next(value: str | None) -> str:
    """`value` when it is a path on this site, else `/`: never another site (`//evil`,
    `https://evil`, `/\\evil`, which some browsers read as `//evil`), never back into sign-in."""
    if not value or len(value) > MAX_NEXT or not value.startswith("/"):
        return "/"
    if (
        value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x21 or ord(c) == 0x7F for c in value)
    ):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(ATTEMPT_COOKIE_PATH):
        return "/"
    return value


def _refused(request: Request, exc: DomainError, *, retry: str | None) -> Response:
    accept = request.headers.get("accept", "")
    if "json" in accept and "text/html" not in accept:
        return problem(exc.status_code, exc.code, exc.title, exc.detail)
    page = _templates.get_template("refused.html").render(
        code=exc.code, title=exc.title, detail=exc.detail, retry=retry
    )
    return HTMLResponse(page, status_code=exc.status_code)


def _clear_attempt(request: Request, response: Response) -> None:
    response.delete_cookie(
        ATTEMPT_COOKIE,
        path=ATTEMPT_COOKIE_PATH,
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )


def _clients(request: Request) -> dict[str, OidcClient]:
    clients: dict[str, OidcClient] = request.app.state.oidc_clients
    return clients


def _client(request: Request, key: str) -> OidcClient:
    client = _clients(request).get(key)
    if client is None:
        raise UnknownProvider(f"there is no sign-in option {key!r}")
    return client


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _secure(request: Request) -> bool:
    return secure_cookie(request, _settings(request).session_cookie_secure)
