"""Actions and milestones on a case (issue 17, item 2), on both databases: added, reassigned,
completed and explained as events of the case; milestones that start and go late by
themselves; lists by person, team and organisation; a late one on the huddle and its owner told
once; the read model equal to its derivation from the events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.actions.overdue import sweep_overdue
from app.discharge import huddle
from app.models import ActionAlert, Notification
from app.timeutil import utcnow
from tests.discharge.helpers import NHS, TEAM, fire, huddle_agenda, open_case
from tests.helpers import Api

ROLES = (*TEAM, "manager")


def _site() -> str:
    return f"ACT-{uuid.uuid4().hex[:6].upper()}"


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _actions(api: Api, case_id: int) -> dict[str, dict[str, Any]]:
    r = api.client.get(f"/api/v1/cases/{case_id}/actions", headers=api.headers)
    assert r.status_code == 200, r.text
    return {a["ref"]: a for a in r.json()["items"]}


def _listed(api: Api, **params: Any) -> list[dict[str, Any]]:
    r = api.client.get("/api/v1/actions", params=params, headers=api.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def _share(api: Api, case_id: int, org: str) -> None:
    r = api.client.post(
        f"/api/v1/cases/{case_id}/shares",
        headers=api.headers,
        json={"organisation": org, "reason": "works the discharge"},
    )
    assert r.status_code in (200, 201), r.text


def test_an_action_is_added_given_to_a_partner_and_worked_by_its_owner(
    client: TestClient, make_user
) -> None:
    ward, hub, outsider = make_user(*ROLES), make_user(*TEAM), make_user(*TEAM)
    api, hub_api, out_api = (
        Api(client, ward.headers),
        Api(client, hub.headers),
        Api(client, outsider.headers),
    )
    site = _site()
    case = open_case(api, NHS[0], site=site, pathway="P1")
    due = utcnow() + timedelta(hours=6)
    added = fire(
        api,
        case["id"],
        "add_action",
        data={"action_title": "Ring the family about the key safe", "action_due": _iso(due)},
    )
    ref = f"A{added['event']['seq']}"  # the sequence number of the event that added it
    mine = _actions(api, case["id"])[ref]
    assert (mine["owner_organisation"], mine["owner_role"], mine["status"]) == (
        ward.org,
        None,
        "open",
    )
    assert (mine["overdue"], mine["late"], mine["kind"]) == (False, False, "action")
    # The hub cannot be given an action on a case it cannot see...
    refused = api.fire(
        case["id"],
        "add_action",
        expect=409,
        data={
            "action_title": "Confirm the package start",
            "action_due": _iso(due),
            "action_owner_organisation": hub.org,
            "action_owner_role": "discharge_team",
        },
    ).json()
    assert refused["code"] == "guard_rejected"
    assert "share it with them first" in refused["detail"]
    # ...until the case is shared with it.
    _share(api, case["id"], hub.org)
    given = fire(
        api,
        case["id"],
        "add_action",
        data={
            "action_title": "Confirm the package start",
            "action_due": _iso(due),
            "action_owner_organisation": hub.org,
            "action_owner_role": "discharge_team",
            "action_assignee": hub.actor.username,
        },
    )
    hub_ref = f"A{given['event']['seq']}"
    # Each list shows what it should: the hub person's own, the hub team's, the ward's.
    assert [a["ref"] for a in _listed(hub_api, assignee="me")] == [hub_ref]
    assert [a["ref"] for a in _listed(hub_api, assignee="my-team")] == [hub_ref]
    assert {a["ref"] for a in _listed(api, assignee="my-organisation")} == {ref}
    assert _listed(api, assignee="me") == []
    assert _listed(out_api, assignee="my-organisation") == []
    assert (
        out_api.client.get(
            f"/api/v1/cases/{case['id']}/actions", headers=out_api.headers
        ).status_code
        == 404
    )
    # Filters: site and pathway from the case, kind.
    assert [a["ref"] for a in _listed(hub_api, assignee="me", site=site, pathway="P1")] == [hub_ref]
    assert _listed(hub_api, assignee="me", pathway="P2") == []
    assert _listed(hub_api, assignee="me", kind="milestone") == []
    # Someone outside both organisations cannot work it; the hub can.
    fire(
        hub_api,
        case["id"],
        "complete_action",
        data={"action_ref": hub_ref, "action_note": "Starts Monday"},
    )
    done = _actions(api, case["id"])[hub_ref]
    assert (done["status"], done["closed_by"], done["late"]) == ("done", hub.actor.username, False)
    assert _listed(hub_api, assignee="me") == []
    assert [a["ref"] for a in _listed(hub_api, assignee="me", status="done")] == [hub_ref]
    # An action already done cannot be completed twice.
    again = hub_api.fire(case["id"], "complete_action", expect=409, data={"action_ref": hub_ref})
    assert "already done" in again.json()["detail"]
    # The hub cannot work the ward's own action.
    theirs = hub_api.fire(case["id"], "complete_action", expect=409, data={"action_ref": ref})
    assert "only they or the organisation that owns the case" in theirs.json()["detail"]


def test_moving_a_due_time_needs_a_reason_and_a_late_action_needs_a_late_reason(
    client: TestClient, make_user
) -> None:
    ward = make_user(*ROLES)
    api = Api(client, ward.headers)
    case = open_case(api, NHS[1], site=_site())
    added = fire(
        api,
        case["id"],
        "add_action",
        data={
            "action_title": "Order a hospital bed for home",
            "action_due": _iso(utcnow() - timedelta(hours=2)),
        },
    )
    ref = f"A{added['event']['seq']}"
    late = _actions(api, case["id"])[ref]
    assert (late["overdue"], late["late"]) == (True, True)
    assert 119 <= late["minutes_late"] <= 125
    assert _listed(api, assignee="my-organisation", overdue="true")[0]["ref"] == ref
    # A new due time needs a reason.
    moved = api.fire(
        case["id"],
        "update_action",
        expect=409,
        data={"action_ref": ref, "action_due": _iso(utcnow() + timedelta(hours=1))},
    ).json()
    assert "give a reason for moving it" in moved["detail"]
    # Completing it late needs a late reason.
    refused = api.fire(case["id"], "complete_action", expect=409, data={"action_ref": ref}).json()
    assert "say why it is late" in refused["detail"]
    fire(
        api,
        case["id"],
        "explain_late_action",
        data={"action_ref": ref, "action_late_reason": "awaiting_equipment"},
    )
    fire(api, case["id"], "complete_action", data={"action_ref": ref})
    done = _actions(api, case["id"])[ref]
    assert (done["status"], done["late_reason"], done["late"], done["overdue"]) == (
        "done",
        "awaiting_equipment",
        True,
        False,
    )


def test_a_milestone_starts_goes_late_reaches_the_huddle_and_its_owner_once(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    ward = make_user(*ROLES)
    api = Api(client, ward.headers)
    site = _site()
    case = open_case(api, NHS[2], site=site, pathway="P1", admitted_days_ago=2)
    # The patient stopped meeting the criteria six hours ago (recorded now): the hub referral
    # was due four hours after that.
    ready_at = utcnow() - timedelta(hours=6)
    fire(api, case["id"], "not_meeting_ctr", occurred_at=_iso(ready_at), reason="ward round entry")
    milestone = _actions(api, case["id"])["hub_referral_sent"]
    assert milestone["kind"] == "milestone"
    assert (milestone["owner_organisation"], milestone["owner_role"]) == (
        ward.org,
        "discharge_team",
    )
    due = datetime.fromisoformat(milestone["due_at"])
    assert abs(due - (ready_at + timedelta(hours=4))) < timedelta(seconds=1)
    assert milestone["overdue"] is True
    assert milestone["late_reasons"] == ["information_missing", "patient_unwell", "other"]
    # A patient on pathway 0 gets no such milestone.
    p0 = open_case(api, NHS[3], site=site, pathway="P0", admitted_days_ago=2)
    fire(api, p0["id"], "not_meeting_ctr")
    assert _actions(api, p0["id"]) == {}
    # On the huddle's agenda, in its own section, saying what is late and whose it is.
    agenda = huddle_agenda(client, sessions, organisation=ward.org, site=site)
    (item,) = agenda.sections[huddle.Section.LATE]
    assert item.row.case_id == case["id"]
    assert [(a.ref, a.owner_organisation) for a in item.late_actions] == [
        ("hub_referral_sent", ward.org)
    ]
    # The owner (the ward's discharge team) is told once, however often the sweep runs.
    sweep_overdue(sessions, now=utcnow())
    sweep_overdue(sessions, now=utcnow())
    with sessions() as db:
        alerts = (
            db.execute(select(ActionAlert).where(ActionAlert.case_id == case["id"])).scalars().all()
        )
        told = (
            db.execute(
                select(Notification).where(
                    Notification.case_id == case["id"], Notification.kind == "action_overdue"
                )
            )
            .scalars()
            .all()
        )
    assert [(a.ref, a.owner_organisation) for a in alerts] == [("hub_referral_sent", ward.org)]
    assert len(told) == 1
    assert told[0].targets == {
        "organisations": [],
        "teams": [[ward.org, "discharge_team"]],
        "people": [],
    }
    assert "NHS" not in told[0].summary
    assert NHS[2] not in told[0].summary
    # Its own late reasons only.
    wrong = api.fire(
        case["id"],
        "complete_action",
        expect=409,
        data={"action_ref": "hub_referral_sent", "action_late_reason": "no_capacity"},
    ).json()
    assert "not a late reason of this milestone" in wrong["detail"]
    fire(
        api,
        case["id"],
        "complete_action",
        data={"action_ref": "hub_referral_sent", "action_late_reason": "information_missing"},
    )
    assert _actions(api, case["id"])["hub_referral_sent"]["status"] == "done"
    # A later pathway change does not restart a milestone that is done.
    fire(api, case["id"], "set_pathway", data={"pathway": "P2"}, reason="needs a bed")
    assert list(_actions(api, case["id"])) == ["hub_referral_sent"]


def test_a_case_that_ends_withdraws_what_is_still_open(client: TestClient, make_user) -> None:
    ward = make_user(*ROLES)
    api = Api(client, ward.headers)
    case = open_case(api, NHS[4], site=_site(), pathway="P3")
    fire(api, case["id"], "not_meeting_ctr")
    fire(
        api,
        case["id"],
        "add_action",
        data={
            "action_title": "Best interests meeting",
            "action_due": _iso(utcnow() + timedelta(days=1)),
        },
    )
    fire(api, case["id"], "died")
    assert {a["status"] for a in _actions(api, case["id"]).values()} == {"withdrawn"}
    assert _listed(api, assignee="my-organisation") == []


def test_the_assignee_is_told_and_the_read_model_equals_its_derivation(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    ward = make_user(*ROLES)
    api = Api(client, ward.headers)
    case = open_case(api, NHS[5], site=_site(), pathway="P1")
    fire(api, case["id"], "not_meeting_ctr")
    added = fire(
        api,
        case["id"],
        "add_action",
        data={
            "action_title": "Book transport",
            "action_due": _iso(utcnow() + timedelta(hours=3)),
            "action_assignee": ward.actor.username,
        },
    )
    # Given to oneself: nobody is told. Reassigned to the team: the team is.
    ref = f"A{added['event']['seq']}"
    fire(
        api,
        case["id"],
        "update_action",
        data={"action_ref": ref, "action_owner_role": "ward_clinician"},
    )
    with sessions() as db:
        told = (
            db.execute(
                select(Notification).where(
                    Notification.case_id == case["id"], Notification.kind == "action_assigned"
                )
            )
            .scalars()
            .all()
        )
    assert [n.targets for n in told] == [
        {"organisations": [], "teams": [[ward.org, "ward_clinician"]], "people": []}
    ]
    registry = client.app.state.writer.read_models
    with sessions() as db:
        assert registry.get("case_actions").check(db, now=utcnow()) == []
