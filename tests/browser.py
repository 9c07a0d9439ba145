"""Browser tests' shared parts: Debian's Chromium driven by Playwright, axe-core checks of
accessibility (WCAG 2.2 A and AA), the three widths every screen must work at, and signing in
through the real sign-in page.

The width sweeps (`check_page`: axe and overflow at each width) run on one backend,
LAYOUT_BACKEND: how a page is laid out and what axe finds in it come from its markup and styles,
which do not depend on the database, and a sweep costs seconds a page. On the other backend a
test still opens each page, so it renders from that database, and still fails on any script
error or failed load it records (PageProblems); pass the test's `backend` to `check_page`.

Use the `browser` fixture (tests/web/conftest.py re-exports it); a test that needs a browser
fails under HOMEFIRST_REQUIRE_BROWSER=1 (CI) when Chromium is missing, and is skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
REQUIRE_BROWSER = os.environ.get("HOMEFIRST_REQUIRE_BROWSER") == "1"
WIDTHS = (360, 768, 1280)  # phone, tablet, ward PC
LAYOUT_BACKEND = "sqlite"  # the backend the width sweeps run on (see above)
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
BLOCKING_IMPACTS = frozenset({"serious", "critical"})


def launch_browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if REQUIRE_BROWSER:
            pytest.fail(
                f"Chromium is required (HOMEFIRST_REQUIRE_BROWSER=1) but {CHROMIUM} is missing"
            )
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        instance = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


class PageProblems:
    """Console errors, page errors and CSP violations a page reported while open."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


def new_page(browser: Any, *, width: int = 1280) -> tuple[Any, Any, PageProblems]:
    """A page in a fresh context (its own cookies), with its problems recorded."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    return context, page, PageProblems(page)


def sign_in_with_token(page: Any, base: str, token: str, *, next_path: str = "/") -> None:
    """Through the sign-in page's token form, by keyboard."""
    page.goto(f"{base}/?next={next_path}" if next_path != "/" else f"{base}/")
    if not page.is_visible("#token"):  # folded away in a details element beside passwords
        page.click("summary")
    page.fill("#token", token)
    page.press("#token", "Enter")
    page.wait_for_load_state("domcontentloaded")


def accessibility_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical WCAG 2.2 A/AA violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(
        page,
        options={"runOnly": {"type": "tag", "values": WCAG_TAGS}, "resultTypes": ["violations"]},
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in results.response["violations"]
        if v.get("impact") in BLOCKING_IMPACTS
    ]


def horizontal_overflow(page: Any) -> int:
    """How many CSS pixels the document is wider than the viewport (0 when it fits; wide
    tables scroll inside their own region instead)."""
    return int(
        page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    )


def sweep_widths(backend: str) -> tuple[int, ...]:
    """The widths pages are checked at on `backend`: all of them on LAYOUT_BACKEND, none on
    the other (where layout and accessibility would only repeat LAYOUT_BACKEND's findings)."""
    return WIDTHS if backend == LAYOUT_BACKEND else ()


def check_page(page: Any, url: str, *, backend: str = LAYOUT_BACKEND) -> dict[str, Any]:
    """Open `url` at each width of `sweep_widths(backend)`: accessibility violations and
    overflow per width. On a backend without sweeps, `url` is opened once, at the widest
    width (where a sweep ends too), and nothing is measured: the result is empty."""
    found: dict[str, Any] = {}
    widths = sweep_widths(backend)
    if not widths:
        page.set_viewport_size({"width": WIDTHS[-1], "height": 900})
        page.goto(url)
        page.wait_for_load_state("load")
    for width in widths:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(url)
        page.wait_for_load_state("load")
        found[str(width)] = {
            "violations": accessibility_violations(page),
            "overflow": horizontal_overflow(page),
        }
    return found
