"""Issue 17's scenario end to end, on both databases: a P1 discharge coordinated between a
ward, the care transfer hub and a provider through referrals and milestones, without a phone
call: each step's owner sees it in their list, a late milestone is on the huddle and reaches its
owner once, and an organisation nobody referred to sees nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.actions.overdue import sweep_overdue
from app.discharge import huddle
from app.models import Notification
from app.timeutil import utcnow
from tests.discharge.helpers import NHS, TEAM, fire, huddle_agenda, open_case, today
from tests.helpers import Api

HUB, PROVIDER, COUNCIL = "LIV-CTH", "MERSEY-REABLE", "SEFTON-COUNCIL"  # partners.yaml


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _post(client: TestClient, user: Any, path: str, body: dict[str, Any], expect: int) -> Any:
    r = client.post(path, json=body, headers=user.headers)
    assert r.status_code == expect, r.text
    return r.json()


def _milestones(client: TestClient, user: Any, case_id: int) -> dict[str, tuple[str, str]]:
    r = client.get(f"/api/v1/cases/{case_id}/actions", headers=user.headers)
    assert r.status_code == 200, r.text
    return {a["ref"]: (a["status"], a["owner_organisation"]) for a in r.json()["items"]}


def _my_list(client: TestClient, user: Any, case_id: int, assignee: str) -> list[str]:
    r = client.get("/api/v1/actions", params={"assignee": assignee}, headers=user.headers)
    assert r.status_code == 200, r.text
    return [a["ref"] for a in r.json()["items"] if a["case_id"] == case_id]


def test_a_p1_discharge_from_the_ward_to_the_hub_to_a_provider(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    ward = make_user(*TEAM, "manager")
    hub = make_user("discharge_team", org=HUB)
    provider = make_user("provider", org=PROVIDER)
    council = make_user("social_worker", org=COUNCIL)
    api = Api(client, ward.headers)
    site = f"P1-{uuid.uuid4().hex[:6].upper()}"
    case_id = int(open_case(api, NHS[9], site=site, pathway="P1", admitted_days_ago=3)["id"])

    # The patient stopped meeting the criteria six hours ago; nobody has referred to the hub.
    fire(
        api,
        case_id,
        "not_meeting_ctr",
        occurred_at=_iso(utcnow() - timedelta(hours=6)),
        reason="ward round",
    )
    assert _milestones(client, ward, case_id) == {"hub_referral_sent": ("open", ward.org)}
    assert _my_list(client, ward, case_id, "my-team") == ["hub_referral_sent"]
    # Late: on the huddle's agenda, and its owner (the ward's discharge team) told once.
    agenda = huddle_agenda(client, sessions, organisation=ward.org, site=site)
    assert [i.row.case_id for i in agenda.sections[huddle.Section.LATE]] == [case_id]
    for _ in range(3):
        sweep_overdue(sessions, now=utcnow())

    # The ward sends the referral to the hub: the hub sees the patient and owes an answer.
    to_hub = _post(
        client,
        ward,
        f"/api/v1/cases/{case_id}/referrals",
        {"organisation": HUB, "kind": "hub", "note": "P1, lives alone"},
        201,
    )["id"]
    assert _milestones(client, ward, case_id) == {
        "hub_referral_sent": ("done", ward.org),
        "hub_accepted": ("open", HUB),
    }
    assert _my_list(client, hub, case_id, "my-team") == ["hub_accepted"]
    assert _my_list(client, ward, case_id, "my-organisation") == []

    # The hub accepts and, as the directory lets it, sources the package from a provider.
    _post(client, hub, f"/api/v1/referrals/{to_hub}/events", {"event": "accept", "data": {}}, 200)
    assert _milestones(client, ward, case_id)["package_sourced"] == ("open", HUB)
    to_provider = _post(
        client,
        hub,
        f"/api/v1/cases/{case_id}/referrals",
        {"organisation": PROVIDER, "kind": "provider"},
        201,
    )["id"]
    # A partner not allowed to refer on (the provider, for a council referral) cannot.
    refused = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        json={"organisation": COUNCIL, "kind": "council"},
        headers=provider.headers,
    )
    assert refused.status_code in (403, 404), refused.text

    # The provider accepts, proposes and confirms the start; each step lands on the ward's case.
    for event, data in (
        ("accept", {}),
        ("propose_start", {"proposed_start": str(today() + timedelta(days=1))}),
        ("confirm_start", {"start_date": str(today() + timedelta(days=1))}),
    ):
        _post(
            client,
            provider,
            f"/api/v1/referrals/{to_provider}/events",
            {"event": event, "data": data},
            200,
        )
    assert _milestones(client, ward, case_id) == {
        "hub_referral_sent": ("done", ward.org),
        "hub_accepted": ("done", HUB),
        "package_sourced": ("done", HUB),
        "start_date_confirmed": ("done", PROVIDER),
        "transport_booked": ("open", ward.org),
    }
    statuses = client.get(f"/api/v1/cases/{case_id}/referrals", headers=ward.headers).json()
    assert {(r["kind"], r["status"]) for r in statuses} == {
        ("hub", "accepted"),
        ("provider", "start_confirmed"),
    }
    # The ward books the transport: nothing is left open.
    fire(
        api,
        case_id,
        "complete_action",
        data={"action_ref": "transport_booked", "action_note": "Ambulance 10:00"},
    )
    assert _my_list(client, ward, case_id, "my-organisation") == []

    # Each partner saw what it needed and nothing more: the council, never referred, sees nothing.
    assert client.get(f"/api/v1/cases/{case_id}", headers=council.headers).status_code == 404
    assert _my_list(client, council, case_id, "my-organisation") == []
    # The late milestone reached its owner once; the milestones done in time told nobody.
    with sessions() as db:
        late = (
            db.execute(
                select(Notification).where(
                    Notification.case_id == case_id, Notification.kind == "action_overdue"
                )
            )
            .scalars()
            .all()
        )
    assert [(n.targets["teams"], n.summary.split(" ")[1]) for n in late] == [
        ([[ward.org, "discharge_team"]], "hub_referral_sent")
    ]
