"""Helpers for the hardening tests: apps with their own settings, closed after use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app


def dispose(app: FastAPI) -> None:
    """Close the app's connection pool (PostgreSQL is shared: do not leave idle connections)."""
    app.state.sessions.kw["bind"].dispose()


@contextmanager
def serve(settings: Settings, **overrides: Any) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update=overrides))
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
    finally:
        dispose(app)
