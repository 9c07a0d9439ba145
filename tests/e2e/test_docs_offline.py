"""/docs and /redoc work with no network beyond the service (issue 14, item 8).

The service runs under a real uvicorn server; Debian's Chromium (driven by Playwright) opens the
pages with every request to any other host aborted and recorded, and every Content-Security-
Policy violation recorded (the `securitypolicyviolation` event and the console). Swagger UI must
render every operation and run one, ReDoc must render the API and search it, and the OAuth2
redirect page must hand an answer back to the window that opened it.

Quick checks without a browser come first: the pages reference same-origin files only, run no
inline script, and their policy names no outside origin.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app

PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
# ReDoc 2 always shows Redocly's logo from Redocly's CDN (hard-coded). The docs' policy blocks it
# in the browser, before any request is made; it is the one violation /redoc may show.
REDOCLY_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def _settings(database_url: str) -> Settings:
    # Nothing runs in the background: the docs need no database work.
    return Settings(
        database_url=database_url,
        clock_sweep_interval_seconds=0,
        live_figures_max_age_seconds=0,
        chc_import_poll_seconds=0,
        whatif_poll_seconds=0,
    )


def _dispose(app: FastAPI) -> None:
    app.state.sessions.kw["bind"].dispose()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    application = create_app(_settings(f"sqlite:///{tmp_path_factory.mktemp('docs')}/docs.db"))
    yield application
    _dispose(application)


# -- without a browser ----------------------------------------------------------------------------
class _Page(HTMLParser):
    """The URLs a page loads (src, and href of <link>) and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("src"):
            self.urls.append(str(values["src"]))
        if tag == "link" and values.get("href"):
            self.urls.append(str(values["href"]))
        if tag == "script":
            self._in_script = True
            if not values.get("src"):
                self.inline_scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline_scripts.append(data)


def _parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.mark.parametrize("path", PAGES)
def test_each_page_loads_only_same_origin_files_and_runs_no_inline_script(
    app: FastAPI, path: str
) -> None:
    with TestClient(app) as client:
        page = client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        parsed = _parse(page.text)
        assert parsed.urls, "the page loads its assets"
        assert parsed.inline_scripts == []
        for url in parsed.urls:
            assert url.startswith("/docs/static/"), url
            asset = client.get(url)
            assert asset.status_code == 200, url
            assert asset.content, url
            # Assets may be cached (revalidated by ETag); the pages themselves may not.
            assert "no-store" not in asset.headers.get("cache-control", ""), url
            assert asset.headers["etag"], url
        assert page.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("path", PAGES)
def test_the_docs_policy_names_no_outside_origin_and_allows_no_inline_script(
    app: FastAPI, path: str
) -> None:
    with TestClient(app) as client:
        policy = client.get(path).headers["content-security-policy"]
    assert not re.search(r"https?:|wss?:|\*", policy), policy
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy


def test_the_pages_follow_the_root_path_the_service_is_mounted_under(app: FastAPI) -> None:
    with TestClient(app, root_path="/homefirst") as client:
        html = client.get("/docs").text
    parsed = _parse(html)
    assert parsed.urls
    assert all(url.startswith("/homefirst/docs/static/") for url in parsed.urls), parsed.urls
    assert 'data-openapi-url="/homefirst/openapi.json"' in html


def test_the_schema_is_still_served_and_describes_no_page(app: FastAPI) -> None:
    with TestClient(app) as client:
        schema = client.get("/openapi.json").json()
    assert schema["info"]["title"] == "HomeFirst"
    assert "/api/v1/cases" in schema["paths"]
    assert not {"/docs", "/redoc", "/docs/oauth2-redirect"} & set(schema["paths"])


# -- in Chromium ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def service(app: FastAPI) -> Iterator[str]:
    """The application under a real uvicorn server on a free local port."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the docs test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


# Runs in every page (and popup) before its own scripts: records each policy violation.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push({directive: e.effectiveDirective, blocked: e.blockedURI});
});
"""


@dataclass
class Offline:
    """A browser context that can reach the service and nothing else, and what it tried."""

    context: Any
    base: str
    left: list[str] = field(default_factory=list)  # requests for anything but the service
    console_errors: list[str] = field(default_factory=list)

    def page(self) -> Any:
        page = self.context.new_page()
        self.watch(page)
        return page

    def watch(self, page: Any) -> None:
        page.on(
            "console",
            lambda m: self.console_errors.append(m.text) if m.type == "error" else None,
        )
        page.on("pageerror", lambda e: self.console_errors.append(f"page error: {e}"))
        page.on("request", self._request)

    def _request(self, request: Any) -> None:
        if not _own(request.url, self.base):
            self.left.append(request.url)

    def _route(self, route: Any) -> None:
        if _own(route.request.url, self.base):
            route.continue_()
        else:
            self.left.append(f"routed: {route.request.url}")
            route.abort()


def _own(url: str, base: str) -> bool:
    return url.startswith((base + "/", "data:", "blob:"))


@pytest.fixture
def offline(browser: Any, service: str) -> Iterator[Offline]:
    context = browser.new_context()
    watcher = Offline(context, service)
    context.add_init_script(RECORD_VIOLATIONS)
    context.route("**/*", watcher._route)
    context.on("page", lambda page: watcher.watch(page) if page.opener() else None)
    yield watcher
    context.close()


def _operations(base: str) -> list[tuple[str, str]]:
    schema = httpx.get(f"{base}/openapi.json").json()
    return [
        (method, path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        for _ in operation.get("tags") or [None]  # Swagger UI lists one under each of its tags
    ]


def test_swagger_ui_renders_and_runs_the_operations_offline(offline: Offline) -> None:
    page = offline.page()
    page.goto(f"{offline.base}/docs")
    create = page.locator('.opblock-post .opblock-summary-path[data-path="/api/v1/cases"]')
    create.wait_for(state="visible", timeout=30_000)
    expected = _operations(offline.base)
    assert len(expected) > 50
    assert page.locator(".opblock").count() == len(expected)
    assert page.locator(".info .title").inner_text().startswith("HomeFirst")

    # Running an operation fetches from the service itself (connect-src 'self').
    health = page.locator('.opblock-get:has(.opblock-summary-path[data-path="/healthz"])')
    health.locator(".opblock-summary").click()
    health.locator("button.try-out__btn").click()
    health.locator("button.execute").click()
    status = health.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=15_000)
    assert status.inner_text().strip() == "200"
    assert (
        '"status": "ok"' in health.locator(".live-responses-table .microlight").first.inner_text()
    )

    assert page.evaluate("window.__violations") == []
    assert offline.left == []
    assert offline.console_errors == []


def test_redoc_renders_and_searches_the_api_offline(offline: Offline) -> None:
    page = offline.page()
    page.goto(f"{offline.base}/redoc")
    title = page.locator("h1", has_text="HomeFirst")
    title.wait_for(state="visible", timeout=30_000)
    assert title.inner_text().replace("\n", " ") == "HomeFirst (0.1.0)"
    assert page.get_by_role("heading", name="Create Case").first.is_visible()

    # The search index runs in a Web Worker (worker-src blob:).
    page.fill('input[aria-label="Search"]', "Create Case")
    found = page.locator('[data-role="search:results"] li[aria-label="Create Case"]')
    found.wait_for(timeout=15_000)

    violations = page.evaluate("window.__violations")
    assert violations == [{"directive": "img-src", "blocked": REDOCLY_LOGO}]
    # Blocked by the policy in the browser: it never reached the network, nor the route.
    assert [url for url in offline.left if url.startswith("routed:")] == []
    assert set(offline.left) <= {REDOCLY_LOGO}
    assert [e for e in offline.console_errors if REDOCLY_LOGO not in e] == []


AWAIT_ANSWER = """(state) => {
  window.__answers = [];
  window.swaggerUIRedirectOauth2 = {
    auth: {name: "oauth", schema: {get: (key) => key === "flow" ? "authorizationCode" : null}},
    state: state,
    redirectUrl: window.location.origin + "/docs/oauth2-redirect",
    callback: (result) => window.__answers.push(["callback", result.auth.code || null]),
    errCb: (error) => window.__answers.push(["error", error.level]),
  };
}"""


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("code=c0de&state=s1", [["callback", "c0de"]]),
        ("code=c0de&state=forged", [["error", "error"]]),  # the code is not used
        ("error=access_denied&state=s1", [["error", "error"]]),
    ],
)
def test_the_oauth2_redirect_page_hands_the_answer_to_the_docs_window(
    offline: Offline, query: str, expected: list[list[str]]
) -> None:
    page = offline.page()
    page.goto(f"{offline.base}/docs")
    page.evaluate(AWAIT_ANSWER, "s1")
    with page.expect_popup() as opened:
        page.evaluate("(url) => { window.open(url); }", f"/docs/oauth2-redirect?{query}")
    popup = opened.value
    popup.wait_for_event("close", timeout=15_000)
    assert page.evaluate("window.__answers") == expected
    assert page.evaluate("window.__violations") == []
    assert offline.left == []
    assert offline.console_errors == []


def test_the_oauth2_redirect_page_opened_alone_says_so(offline: Offline) -> None:
    page = offline.page()
    page.goto(f"{offline.base}/docs/oauth2-redirect?code=c0de&state=s1")
    assert "No sign-in is waiting" in page.locator("#status").inner_text()
    assert page.evaluate("window.__violations") == []
    assert offline.console_errors == []
