"""CHC test helpers: Checklist and DST data, sample lists, and HTTP steps a CSU user takes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from app.chc.config import load_chc_config
from app.config import PROJECT_ROOT
from tests.helpers import Api

CFG = load_chc_config(PROJECT_ROOT / "pathways" / "config")
SAMPLES = PROJECT_ROOT / "app" / "chc" / "sample_lists"
SAMPLE_FILES = (("MLCSU", "mlcsu.csv"), ("LSCFT", "lscft.csv"), ("Sefton MBC", "sefton_mbc.csv"))
CHECKLIST_KEYS = [d.key for d in CFG.tools.checklist.domains]
DST_KEYS = [d.key for d in CFG.tools.dst.domains]
# Everyone who works a CHC case end to end, in one organisation.
TEAM = ("chc_assessor", "chc_panel", "chc_decision_maker", "broker")


def checklist(**scores: str) -> dict[str, str]:
    """Checklist event data: C everywhere unless given."""
    return {f"checklist_{k}": scores.get(k, "C") for k in CHECKLIST_KEYS}


def dst(setting: str = "community", **levels: str) -> dict[str, str]:
    """DST event data: `low` everywhere unless given."""
    data = {f"dst_{k}": levels.get(k, "low") for k in DST_KEYS}
    return {**data, "dst_setting": setting}


class ChcApi(Api):
    def upload(
        self,
        source: str,
        filename: str,
        data: bytes | None = None,
        expect: int | None = None,
        *,
        encoding: str | None = None,
        content_type: str = "text/csv",
    ) -> Response:
        """POST the file: 202 and a job to follow, or 200 for a file imported before."""
        content = data if data is not None else (SAMPLES / filename).read_bytes()
        form = {"source": source} | ({"encoding": encoding} if encoding is not None else {})
        r = self.client.post(
            "/api/v1/imports/chc-backlog",
            files={"file": (filename, content, content_type)},
            data=form,
            headers=self.headers,
        )
        if expect is not None:
            assert r.status_code == expect, r.text
        return r

    def wait_for_import(self, location: str, timeout: float = 60) -> dict[str, Any]:
        """Follow an import job (the service's own background runner) until it has finished;
        its final state with the report."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.client.get(location, headers=self.headers)
            assert r.status_code == 200, r.text
            body = dict(r.json())
            if body["state"] in ("done", "failed"):
                return body
            assert time.monotonic() < deadline, f"import still {body['state']}: {body}"
            time.sleep(0.05)

    def import_list(self, source: str, filename: str, data: bytes | None = None) -> dict[str, Any]:
        """Upload a new list (202) and wait until its job is done; the job with its report."""
        r = self.upload(source, filename, data, expect=202)
        assert r.json()["state"] == "queued"
        assert r.headers["location"] == f"/api/v1/imports/chc-backlog/{r.json()['id']}"
        body = self.wait_for_import(r.headers["location"])
        assert body["state"] == "done", body
        return body

    def queue(self, **params: Any) -> dict[str, Any]:
        r = self.client.get("/api/v1/queues/chc", params=params, headers=self.headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def chc_case(self, case_id: int) -> dict[str, Any]:
        r = self.client.get(f"/api/v1/chc/cases/{case_id}", headers=self.headers)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def post(self, path: str, expect: int = 200, **body: Any) -> Response:
        r = self.client.post(f"/api/v1{path}", json=body, headers=self.headers)
        assert r.status_code == expect, r.text
        return r

    def open_chc(self, data: dict[str, Any] | None = None, **body: Any) -> int:
        r = self.create("chc", data=data or {}, **body)
        return int(r.json()["id"])

    def steps(self, case_id: int, *steps: tuple[str, dict[str, Any]]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for event, data in steps:
            body = self.fire(case_id, event, data=data).json()
        return body


def client_api(client: TestClient, user: Any) -> ChcApi:
    return ChcApi(client, user.headers)


def fixture_path(name: str) -> Path:
    return SAMPLES / name
