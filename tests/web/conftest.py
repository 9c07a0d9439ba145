"""Fixtures for the screens' tests: one real browser for the whole run (tests/browser.py).

Playwright's sync API runs one instance per thread, so every browser test in this directory
shares this one: `browser`, or `chromium_browser` where a module names its own `browser`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import launch_browser


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    yield from launch_browser()


@pytest.fixture(scope="session")
def browser(chromium_browser: Any) -> Any:
    return chromium_browser
