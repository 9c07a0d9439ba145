"""Small HTTP helpers so tests read like the steps a user takes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from app.cases.transition import CaseWriter
from app.codelists.loader import CodeSetRegistry
from app.composition import build_writer
from app.config import PROJECT_ROOT, Settings
from app.engine.engine import Engine

SAMPLE = "sample-referral"


def ago(**kwargs: float) -> str:
    return (datetime.now(UTC) - timedelta(**kwargs)).isoformat()


class Api:
    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client = client
        self.headers = headers

    def create(
        self, workflow: str = SAMPLE, *, key: str | None = None, expect: int = 201, **body: Any
    ) -> Response:
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = key
        body.setdefault("data", {"priority": "routine"} if workflow == SAMPLE else {})
        r = self.client.post("/api/v1/cases", json={"workflow": workflow, **body}, headers=headers)
        assert r.status_code == expect, r.text
        return r

    def get(self, case_id: int, expect: int = 200) -> Response:
        r = self.client.get(f"/api/v1/cases/{case_id}", headers=self.headers)
        assert r.status_code == expect, r.text
        return r

    def fire(
        self,
        case_id: int,
        event: str,
        *,
        etag: str | None = None,
        key: str | None = None,
        expect: int = 200,
        **body: Any,
    ) -> Response:
        if etag is None:
            etag = self.get(case_id).headers["ETag"]
        headers = {**self.headers, "If-Match": etag}
        if key:
            headers["Idempotency-Key"] = key
        r = self.client.post(
            f"/api/v1/cases/{case_id}/events", json={"event": event, **body}, headers=headers
        )
        assert r.status_code == expect, r.text
        return r

    def history(self, case_id: int) -> list[dict[str, Any]]:
        r = self.client.get(f"/api/v1/cases/{case_id}/events", headers=self.headers)
        assert r.status_code == 200, r.text
        return list(r.json())


@cache
def _codes() -> CodeSetRegistry:
    return CodeSetRegistry.from_directory(PROJECT_ROOT / "pathways" / "codelists")


def writer_for(engine: Engine) -> CaseWriter:
    """The transition entry point over `engine`, with every registered workflow's read models
    (what the application builds), for tests that call the service layer directly."""
    return build_writer(Settings(), engine, _codes())


def signed_in(client: TestClient, token: str) -> TestClient:
    """A client of the same app signed in to the screens with `token`, as a browser is."""
    browser = TestClient(client.app)
    browser.headers["Origin"] = "http://testserver"  # as a browser's own form posts say
    r = browser.post("/sign-in/token", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return browser
