"""`/referrals` and the case page's Referrals panel, used as a browser would (a signed-in session,
forms posted from this site), on SQLite and PostgreSQL."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import TestUser as User
from tests.discharge.helpers import NHS, TEAM, open_case
from tests.helpers import Api

HUB = "LIV-CTH"


def signed_in(client: TestClient, user: User) -> TestClient:
    browser = TestClient(client.app, raise_server_exceptions=False)
    browser.headers["Origin"] = "http://testserver"  # as a browser's own form posts say
    r = browser.post("/sign-in/token", data={"token": user.token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return browser


def row(html: str, referral: int) -> str:
    start = html.index(f'id="referral-{referral}"')
    return html[start : html.index("</tr>", start)]


def test_send_from_the_case_page_and_work_it_in_the_hub_queue(
    client: TestClient, make_user
) -> None:
    trust_user = make_user(*TEAM)
    hub_user = make_user("discharge_team", org=HUB)
    parent = int(open_case(Api(client, trust_user.headers), NHS[6], site="AINTREE")["id"])
    trust, hub = signed_in(client, trust_user), signed_in(client, hub_user)

    page = trust.get(f"/tracker/cases/{parent}")
    assert page.status_code == 200
    assert 'id="referrals"' in page.text
    assert 'id="send-referral"' in page.text
    assert f'value="hub|{HUB}"' in page.text
    assert 'value="provider|MERSEY-REABLE"' in page.text
    # Nothing chosen: refused, nothing sent.
    r = trust.post(f"/tracker/cases/{parent}/referrals", data={"partner": ""})
    assert r.status_code == 422
    assert "Choose a partner" in r.text
    r = trust.post(
        f"/tracker/cases/{parent}/referrals",
        data={"partner": f"hub|{HUB}", "note": "Lives alone, needs P1", "requested_start": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"] == f"/tracker/cases/{parent}#referrals"
    page = trust.get(f"/tracker/cases/{parent}").text
    [referral] = [int(x) for x in re.findall(r'id="referral-(\d+)"', page)]
    assert "Liverpool care transfer hub" in row(page, referral)
    assert ">Sent<" in row(page, referral)

    # The hub's queue: the patient and a form for each step.
    queue = hub.get("/referrals")
    assert queue.status_code == 200
    mine = row(queue.text, referral)
    assert NHS[6] in mine
    assert "Ward 7" in mine
    assert f'action="/referrals/{referral}/events/accept"' in mine
    assert f'action="/referrals/{referral}/events/reject"' in mine
    assert f'action="/referrals/{referral}/events/allocate"' not in mine  # not from "sent"
    # Rejecting without a reason is refused, with the reason to give.
    r = hub.post(f"/referrals/{referral}/events/reject", data={"rejection_reason": ""})
    assert r.status_code == 422
    assert "There is a problem" in r.text or "not saved" in r.text
    r = hub.post(f"/referrals/{referral}/events/accept", follow_redirects=False)
    assert r.status_code == 303, r.text
    assert hub.get(r.headers["location"]).text.count("Saved: Accepted") == 1
    assert ">Accepted<" in row(trust.get(f"/tracker/cases/{parent}").text, referral)
    mine = row(hub.get("/referrals").text, referral)
    assert f'action="/referrals/{referral}/events/allocate"' in mine

    # The trust cannot take the hub's steps (the task is not its case): not found.
    r = trust.post(f"/referrals/{referral}/events/complete")
    assert r.status_code == 404
    # It sees the referral among those its cases sent, and withdraws it.
    sent = trust.get("/referrals?direction=sent").text
    assert f'id="referral-{referral}"' in sent
    assert 'action="/referrals/' not in sent  # no steps for the referring side
    r = trust.post(
        f"/tracker/cases/{parent}/referrals/{referral}/withdraw",
        data={"reason": "Went home with family"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    assert ">Withdrawn<" in row(trust.get(f"/tracker/cases/{parent}").text, referral)
    assert f'id="referral-{referral}"' not in hub.get("/referrals").text
    assert hub.get(f"/tracker/cases/{parent}").status_code == 404  # share taken back


def test_a_stranger_sees_no_panel_entries_and_cannot_send(client: TestClient, make_user) -> None:
    trust_user = make_user(*TEAM)
    hub_user = make_user("discharge_team", org=HUB)
    parent = int(open_case(Api(client, trust_user.headers), NHS[7], site="AINTREE")["id"])
    trust = signed_in(client, trust_user)
    trust.post(f"/tracker/cases/{parent}/referrals", data={"partner": f"hub|{HUB}"})
    hub = signed_in(client, hub_user)
    # The hub sees the case (shared), not the send form: only the owner sends.
    page = hub.get(f"/tracker/cases/{parent}")
    assert page.status_code == 200
    assert 'id="send-referral"' not in page.text
    r = hub.post(f"/tracker/cases/{parent}/referrals", data={"partner": "provider|MERSEY-REABLE"})
    assert r.status_code == 403
    assert "Only the organisation that owns the case" in r.text or "owns the case" in r.text
    stranger = signed_in(client, make_user(*TEAM))
    assert stranger.get(f"/tracker/cases/{parent}").status_code == 404
    r = stranger.post(f"/tracker/cases/{parent}/referrals", data={"partner": f"hub|{HUB}"})
    assert r.status_code == 404
