"""Sharing: only the organisation that owns a case shares it or withdraws a share (an
organisation it is shared with gets 403 `not_case_owner`: it can see the case), and every share
and withdrawal is in the case's sharing audit, written with the change itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.cases.scope import ScopeRepository
from app.models import AppendOnlyViolation
from tests.discharge.helpers import NHS, TEAM, open_case
from tests.helpers import Api


def _shares(client: TestClient, case_id: int, headers: dict[str, str]) -> list[str]:
    r = client.get(f"/api/v1/cases/{case_id}/shares", headers=headers)
    assert r.status_code == 200, r.text
    return [s["organisation"] for s in r.json()]


def _changes(client: TestClient, case_id: int, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = client.get(f"/api/v1/cases/{case_id}/sharing-history", headers=headers)
    assert r.status_code == 200, r.text
    return list(r.json())


def _share(client: TestClient, case_id: int, headers: dict[str, str], org: str) -> Any:
    return client.post(
        f"/api/v1/cases/{case_id}/shares",
        headers=headers,
        json={"organisation": org, "reason": "works the case"},
    )


def test_an_organisation_the_case_is_shared_with_cannot_share_or_withdraw(
    client: TestClient, make_user
) -> None:
    trust, hub, provider = make_user(*TEAM), make_user(*TEAM), make_user(*TEAM)
    outsider = make_user(*TEAM)
    cid = open_case(Api(client, trust.headers), NHS[0], site="AINTREE")["id"]
    assert _share(client, cid, trust.headers, hub.org).status_code == 201
    assert _share(client, cid, trust.headers, provider.org).status_code == 201
    refused = [
        _share(client, cid, hub.headers, outsider.org),  # re-sharing onward
        client.delete(f"/api/v1/cases/{cid}/shares/{provider.org}", headers=hub.headers),
        client.delete(f"/api/v1/cases/{cid}/shares/{hub.org}", headers=hub.headers),
    ]
    for r in refused:
        assert (r.status_code, r.headers["content-type"]) == (403, "application/problem+json")
        assert r.json()["code"] == "not_case_owner", r.text
        assert r.json()["owner"] == trust.org
    # Nothing changed, and the refusals left no trace in the audit.
    assert _shares(client, cid, trust.headers) == [hub.org, provider.org]
    audit = _changes(client, cid, trust.headers)
    assert [(a["action"], a["organisation"], a["by_organisation"]) for a in audit] == [
        ("shared", hub.org, trust.org),
        ("shared", provider.org, trust.org),
    ]
    assert Api(client, outsider.headers).get(cid, expect=404).json()["code"] == "not_found"
    # An organisation that cannot see the case still learns nothing: 404, not 403.
    r = client.delete(f"/api/v1/cases/{cid}/shares/{hub.org}", headers=outsider.headers)
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


def test_every_share_and_withdrawal_is_in_the_cases_sharing_audit(
    client: TestClient, make_user
) -> None:
    trust, hub = make_user(*TEAM), make_user(*TEAM)
    colleague = make_user(*TEAM, org=trust.org)
    cid = open_case(Api(client, trust.headers), NHS[1], site="AINTREE")["id"]
    assert _share(client, cid, trust.headers, hub.org).status_code == 201
    gone = client.request(
        "DELETE",
        f"/api/v1/cases/{cid}/shares/{hub.org}",
        headers=colleague.headers,
        json={"reason": "the hub handed the case back"},
    )
    assert gone.status_code == 204, gone.text
    # Without a body, as clients before the reason existed send it.
    assert _share(client, cid, trust.headers, hub.org).status_code == 201
    plain = client.delete(f"/api/v1/cases/{cid}/shares/{hub.org}", headers=trust.headers)
    assert plain.status_code == 204, plain.text
    again = client.delete(f"/api/v1/cases/{cid}/shares/{hub.org}", headers=trust.headers)
    assert (again.status_code, again.json()["code"]) == (404, "not_found")
    audit = _changes(client, cid, trust.headers)
    assert [
        (a["action"], a["organisation"], a["reason"], a["by"], a["by_organisation"]) for a in audit
    ] == [
        ("shared", hub.org, "works the case", trust.actor.username, trust.org),
        ("withdrawn", hub.org, "the hub handed the case back", colleague.actor.username, trust.org),
        ("shared", hub.org, "works the case", trust.actor.username, trust.org),
        ("withdrawn", hub.org, None, trust.actor.username, trust.org),
    ]
    times = [datetime.fromisoformat(a["at"]) for a in audit]
    assert times == sorted(times)
    assert all(t.utcoffset() is not None for t in times)
    # Only organisations that see the case read its sharing audit.
    hidden = client.get(f"/api/v1/cases/{cid}/sharing-history", headers=hub.headers)
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
    bad = client.request(
        "DELETE",
        f"/api/v1/cases/{cid}/shares/{hub.org}",
        headers=trust.headers,
        json={"reason": "x", "extra": 1},
    )
    assert bad.status_code == 422


def test_the_shares_a_link_brings_are_audited_too(client: TestClient, make_user) -> None:
    trust, hub = make_user(*TEAM), make_user(*TEAM)
    cid = open_case(Api(client, trust.headers), NHS[2], site="AINTREE")["id"]
    assert _share(client, cid, trust.headers, hub.org).status_code == 201
    linked = client.post(
        f"/api/v1/cases/{cid}/links",
        headers=trust.headers,
        json={
            "workflow": "sample-referral",
            "link_type": "related",
            "data": {"priority": "routine"},
        },
    )
    assert linked.status_code == 201, linked.text
    audit = _changes(client, linked.json()["id"], hub.headers)
    assert [(a["action"], a["organisation"], a["reason"], a["by"]) for a in audit] == [
        ("shared", hub.org, f"linked from case {cid}", trust.actor.username)
    ]


def test_the_sharing_audit_is_append_only_and_written_with_the_change(
    client: TestClient, sessions, make_user, monkeypatch: pytest.MonkeyPatch
) -> None:
    trust, hub = make_user(*TEAM), make_user(*TEAM)
    cid = open_case(Api(client, trust.headers), NHS[3], site="AINTREE")["id"]
    assert _share(client, cid, trust.headers, hub.org).status_code == 201
    with sessions() as session:
        change = ScopeRepository(session).changes(cid)[0]
        change.reason = "rewritten"
        with pytest.raises(AppendOnlyViolation):
            session.flush()
        session.rollback()
    with sessions() as session, pytest.raises(DBAPIError):
        session.execute(text("DELETE FROM case_share_changes WHERE case_id = :id"), {"id": cid})

    # When the audit row cannot be written, the withdrawal does not happen either.
    def broken(_self: ScopeRepository, _change: object) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(ScopeRepository, "add_change", broken)
    r = client.delete(f"/api/v1/cases/{cid}/shares/{hub.org}", headers=trust.headers)
    assert r.status_code == 500
    monkeypatch.undo()
    assert _shares(client, cid, trust.headers) == [hub.org]
    assert [a["action"] for a in _changes(client, cid, trust.headers)] == ["shared"]
