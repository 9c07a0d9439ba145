"""Building discharge cases over HTTP with clinical times on whole London days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from app.timeutil import LONDON
from tests.helpers import Api

# Test NHS numbers from the 999 range with valid Modulus 11 check digits.
NHS = [
    "9990000018",
    "9990000026",
    "9990000034",
    "9990000042",
    "9990000050",
    "9990000069",
    "9990000077",
    "9990000085",
    "9990000093",
    "9990000107",
]
TEAM = ("discharge_team", "ward_clinician", "huddle_chair", "mh_liaison")


def today() -> date:
    return datetime.now(UTC).astimezone(LONDON).date()


def london(days_ago: int, hour: int = 12) -> str:
    """ISO time `days_ago` whole days ago at `hour`:00 hospital-local time; for today, no later
    than a minute ago (before noon, noon has not come: the API refuses a future clinical time)."""
    day = today() - timedelta(days=days_ago)
    at = datetime.combine(day, time(hour), tzinfo=LONDON).astimezone(UTC)
    if days_ago == 0:
        start = datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)
        at = max(min(at, datetime.now(UTC) - timedelta(minutes=1)), start)
    return at.isoformat().replace("+00:00", "Z")  # as the API writes it


def open_case(
    api: Api, nhs: str, *, site: str, admitted_days_ago: int = 10, expect: int = 201, **data: Any
) -> dict[str, Any]:
    body = {
        "hospital_system": "LUHFT",
        "ward": "Ward 7",
        "admitted_at": london(admitted_days_ago, 9),
        **data,
    }
    r = api.create(
        "discharge",
        site=site,
        patient_ref=nhs,
        data=body,
        occurred_at=london(admitted_days_ago, 10),
        reason="referral entered from the ward",
        expect=expect,
    )
    return dict(r.json())


def fire(
    api: Api,
    case_id: int,
    event: str,
    *,
    days_ago: int | None = None,
    expect: int = 200,
    **body: Any,
) -> dict[str, Any]:
    if days_ago is not None:
        body.setdefault("occurred_at", london(days_ago))
        body.setdefault("reason", "recorded after the ward round")
    return dict(api.fire(case_id, event, expect=expect, **body).json())


def facts(api: Api, case_id: int) -> dict[str, Any]:
    r = api.client.get(f"/api/v1/cases/{case_id}/discharge", headers=api.headers)
    assert r.status_code == 200, r.text
    return dict(r.json())


def huddle_agenda(client: Any, sessions: Any, *, organisation: str, site: str) -> Any:
    """Today's huddle agenda for `site` of `organisation`, as the discharge team may see it
    (`app.discharge.huddle.agenda` with the application's own parts)."""
    from app.discharge import huddle
    from app.timeutil import utcnow

    state = client.app.state
    with sessions() as db:
        return huddle.agenda(
            db,
            catalogue=state.engine.catalogue,
            codes=state.codes,
            config=state.discharge_config,
            grant=state.access.grant("rfd.read", {"discharge_team"}),
            organisation=organisation,
            site=site,
            now=utcnow(),
        )
