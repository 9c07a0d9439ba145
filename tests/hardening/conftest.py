"""Helpers for the hardening tests: apps with their own settings, closed after use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import strategies as st

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


HL7_MEDIA_TYPE = "x-application/hl7-v2+er7"


def register_hl7_bodies() -> None:
    """Bodies for POST /adt (schemathesis cannot write HL7 v2 by itself): a message from a
    configured sender, one from an unknown sender and a non-message, for the generated tests."""
    messages = [
        "MSH|^~\\&|PAS|RVY|HOMEFIRST|SEFTON|20261201100000||ADT^A08^ADT_A01|FZ1|P|2.4\r"
        "EVN|A08|20261201100000\rPID|1||9434765919^^^NHS^NH\rPV1|1|I|W11^^B1^SDGH",
        "MSH|^~\\&|PAS|NOPE|HOMEFIRST|SEFTON|20261201100000||ADT^A01^ADT_A01|FZ2|P|2.4",
        "not a message",
    ]
    schemathesis.openapi.media_type(HL7_MEDIA_TYPE, st.sampled_from([m.encode() for m in messages]))
