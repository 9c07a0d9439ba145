"""Intermediate-care episodes over HTTP, with clinical times on London days."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.timeutil import LONDON
from tests.discharge.helpers import today
from tests.helpers import Api

IC_TEAM = ("ic_triager", "ic_coordinator", "ic_practitioner")
PLAN = {
    "transition_plan": "Daily reablement visits, reducing over 3 weeks; review at week 2",
    "contingency_plan": "Ring the single point of access on 0151 000 0000 to come back",
}


def london_at(days_ago: int, hour: int, minute: int = 0) -> datetime:
    """`days_ago` whole London days ago at hour:minute London time, as UTC."""
    day = today() - timedelta(days=days_ago)
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def fresh_site() -> str:
    return f"IC{uuid.uuid4().hex[:8].upper()}"


def make_service(
    client: TestClient, headers: dict[str, str], *, site: str, model: str, capacity: int
) -> dict[str, Any]:
    code = f"{model[:4].upper()}-{uuid.uuid4().hex[:8].upper()}"
    r = client.post(
        "/api/v1/ic/services",
        headers=headers,
        json={
            "code": code,
            "name": f"{model.replace('_', ' ').title()} {site}",
            "site": site,
            "model": model,
            "capacity": capacity,
            "reason": "commissioned for the test",
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


class Ic:
    """One user's view of intermediate care at one site."""

    def __init__(self, client: TestClient, headers: dict[str, str], site: str) -> None:
        self.api = Api(client, headers)
        self.client, self.headers, self.site = client, headers, site

    def refer(
        self,
        nhs: str,
        *,
        at: datetime | None = None,
        direction: str = "step_up",
        referrer: str = "gp",
        expect: int = 201,
        **data: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"data": {"direction": direction, "referrer": referrer, **data}}
        if at is not None:
            body.update(occurred_at=iso(at), reason="referral taken by phone, entered after")
        r = self.api.create(
            "intermediate_care", site=self.site, patient_ref=nhs, expect=expect, **body
        )
        return dict(r.json())

    def fire(
        self,
        case_id: int,
        event: str,
        *,
        at: datetime | None = None,
        expect: int = 200,
        **data: Any,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"data": data}
        if at is not None:
            body.update(occurred_at=iso(at), reason="recorded after the visit")
        return dict(self.api.fire(case_id, event, expect=expect, **body).json())

    def case(self, case_id: int) -> dict[str, Any]:
        return dict(self.api.get(case_id).json())

    def clocks(self, case_id: int, name: str) -> list[dict[str, Any]]:
        return [c for c in self.case(case_id)["clocks"] if c["name"] == name]

    def get(self, path: str, expect: int = 200, **params: Any) -> Any:
        r = self.client.get(f"/api/v1/ic{path}", headers=self.headers, params=params)
        assert r.status_code == expect, r.text
        return r.json()
