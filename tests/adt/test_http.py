"""`POST /api/v1/adt` for interface engines that speak HTTP, and the dead letters over the API."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.adt.service import AdtService
from app.auth.service import create_token
from tests.adt.listener import msa
from tests.adt.messages import adt, hours_ago, patients
from tests.adt.orgs import interfaces_for, unique_org

HL7 = {"Content-Type": "x-application/hl7-v2+er7"}


@pytest.fixture
def org(client: TestClient) -> Iterator[str]:
    """The app's feed sends for an organisation of this test's own while the test runs."""
    state = client.app.state  # type: ignore[attr-defined]
    shipped, org = state.adt, unique_org()
    state.adt = AdtService(shipped.writer, interfaces_for(org))
    try:
        yield org
    finally:
        state.adt = shipped


def _interface_token(client: TestClient, sessions: sessionmaker[Session], key: str) -> str:
    """A token of the interface's own system user (created as the feed creates it)."""
    service = client.app.state.adt  # type: ignore[attr-defined]
    interface = service.interfaces.by_key(key)
    with sessions() as session:
        service.actor_for(session, interface)
        return create_token(
            session, username=interface.username, organisation=interface.organisation
        ).token


def _post(client: TestClient, token: str, raw: str, **headers: str) -> Any:
    return client.post(
        "/api/v1/adt",
        content=raw.encode(),
        headers={"Authorization": f"Bearer {token}", **HL7, **headers},
    )


def test_an_interface_posts_a_message_and_gets_its_ack(
    client: TestClient, sessions: sessionmaker[Session], org: str
) -> None:
    token = _interface_token(client, sessions, "rvy-pas")
    [nhs] = patients(1)
    raw = adt("A01", nhs, at=hours_ago(4), control_id="HTTP-" + nhs)
    r = _post(client, token, raw)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("x-application/hl7-v2+er7")
    assert r.headers["x-adt-outcome"] == "applied"
    assert msa(r.content) == ("AA", "HTTP-" + nhs)
    # Refused: the ACK still answers, with 422 and the ERR segment.
    bad = _post(client, token, adt("A02", nhs, at=hours_ago(1), location="W1^^^NOWHERE"))
    assert bad.status_code == 422
    assert msa(bad.content)[0] == "AE"
    assert "unknown_location" in bad.text or "not configured" in bad.text


def test_an_interface_may_send_only_as_itself(
    client: TestClient, sessions: sessionmaker[Session], org: str
) -> None:
    token = _interface_token(client, sessions, "rem-pas")
    [nhs] = patients(1)
    r = _post(client, token, adt("A01", nhs, at=hours_ago(2), facility="RVY"))
    assert r.status_code == 422
    assert msa(r.content)[0] == "AR"
    assert "not_your_interface" in r.text or "not the interface" in r.text


def test_people_cannot_post_messages_and_the_body_must_be_hl7(
    client: TestClient, sessions: sessionmaker[Session], make_user: Any, org: str
) -> None:
    person = make_user("discharge_team")
    r = client.post("/api/v1/adt", content=b"MSH|", headers={**person.headers, **HL7})
    assert r.status_code == 403
    token = _interface_token(client, sessions, "rvy-pas")
    r = client.post(
        "/api/v1/adt",
        json={"message": "MSH|"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_media_type")
    big = "MSH|^~\\&|PAS|RVY|" + "x" * 1_000_001
    assert _post(client, token, big).status_code == 413


def test_dead_letters_are_listed_retried_and_dismissed(
    client: TestClient, sessions: sessionmaker[Session], make_user: Any, org: str
) -> None:
    token = _interface_token(client, sessions, "rvy-pas")
    a, b = patients(2)
    early = _post(client, token, adt("A02", a, at=hours_ago(3), location="W15^^B1^SDGH"))
    wrong = _post(client, token, adt("A02", b, at=hours_ago(3)))
    early_id, wrong_id = (
        int(early.headers["x-adt-message-id"]),
        int(wrong.headers["x-adt-message-id"]),
    )
    coordinator = make_user("discharge_team", org=org)
    listed = client.get("/api/v1/adt/dead-letters?limit=200", headers=coordinator.headers)
    assert listed.status_code == 200, listed.text
    rows = {r["id"]: r for r in listed.json()["items"]}
    assert rows[early_id]["error_code"] == "no_open_spell"
    assert rows[early_id]["raw"].startswith("MSH|^~\\&|PAS|RVY|")
    # Other organisations see none of them.
    outsider = make_user("discharge_team")
    other = client.get("/api/v1/adt/dead-letters", headers=outsider.headers).json()
    assert {early_id, wrong_id}.isdisjoint({r["id"] for r in other["items"]})
    assert (
        client.post(
            f"/api/v1/adt/dead-letters/{early_id}/retry", headers=outsider.headers
        ).status_code
        == 404
    )
    # A ward clinician has no read of them.
    clinician = make_user("ward_clinician", org=org)
    assert client.get("/api/v1/adt/dead-letters", headers=clinician.headers).status_code == 403

    assert _post(client, token, adt("A01", a, at=hours_ago(5))).status_code == 200
    retried = client.post(f"/api/v1/adt/dead-letters/{early_id}/retry", headers=coordinator.headers)
    assert retried.status_code == 200, retried.text
    assert (retried.json()["outcome"], retried.json()["events"]) == ("applied", "ward_transfer")
    dismissed = client.post(
        f"/api/v1/adt/dead-letters/{wrong_id}/dismiss",
        json={"reason": "test patient, never admitted here"},
        headers=coordinator.headers,
    )
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["resolved_by"] == coordinator.actor.username
    again = client.post(f"/api/v1/adt/dead-letters/{wrong_id}/retry", headers=coordinator.headers)
    assert again.status_code == 409
    left = client.get("/api/v1/adt/dead-letters?limit=200", headers=coordinator.headers).json()
    assert {early_id, wrong_id}.isdisjoint({r["id"] for r in left["items"]})


def test_an_unparseable_dead_letter_cannot_be_retried_only_dismissed(
    client: TestClient, sessions: sessionmaker[Session], make_user: Any, org: str
) -> None:
    token = _interface_token(client, sessions, "rvy-pas")
    garbage = _post(client, token, "this is not HL7")
    assert garbage.status_code == 422
    assert msa(garbage.content)[0] == "AR"
    message_id = int(garbage.headers["x-adt-message-id"])
    coordinator = make_user("manager", org=org)
    retried = client.post(
        f"/api/v1/adt/dead-letters/{message_id}/retry", headers=coordinator.headers
    )
    assert (retried.status_code, retried.json()["code"]) == (409, "conflict")
    dismissed = client.post(
        f"/api/v1/adt/dead-letters/{message_id}/dismiss",
        json={"reason": "not a message"},
        headers=coordinator.headers,
    )
    assert dismissed.json()["outcome"] == "dismissed"
