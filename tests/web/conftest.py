"""Fixtures for the screens' tests: a real browser (tests/browser.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import launch_browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    yield from launch_browser()
