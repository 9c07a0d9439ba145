"""`/chc/queue`: the assessor's claims and the queue, claiming, releasing and reassigning, all
through the API's own services, with refusals shown as error summaries."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from app.timeutil import london_date, utcnow
from tests.chc.helpers import ChcApi
from tests.web.chc_helpers import banner, error_summary, open_case, signed_in


def _rows(html: str) -> list[int]:
    """Case numbers in the queue table, in order."""
    table = html[html.index('aria-label="The CHC queue"') :]
    return [
        int(n)
        for n in re.findall(r'<td class="nhsuk-table__cell"><a href="/chc/cases/(\d+)"', table)
    ]


def test_the_queue_is_in_the_apis_order_with_the_rules_that_fired(
    client: TestClient, make_user
) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    green = open_case(api, 3, person_name="Gwen Green")
    amber = open_case(api, 40)
    red = open_case(api, 300)
    other_org = open_case(ChcApi(client, make_user("chc_assessor").headers), 400)

    page = signed_in(client, jo).get("/chc/queue")
    assert page.status_code == 200
    assert _rows(page.text) == [i["case_id"] for i in api.queue()["items"]] == [red, amber, green]
    assert other_org not in _rows(page.text)
    assert (
        "incomplete referral 26 weeks or more beyond the 28 days (300 days since referral)"
        in page.text
    )
    assert "(rule: green)" in page.text
    assert "Gwen Green" in page.text
    assert "The queue: 3 cases" in page.text

    filtered = signed_in(client, jo).get("/chc/queue", params={"rag": "amber"})
    assert _rows(filtered.text) == [amber]
    bad = signed_in(client, jo).get("/chc/queue", params={"rag": "purple"})
    assert bad.status_code == 422


def test_claim_the_next_case_then_the_limit_then_release(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    older, newer = open_case(api, 50, person_name="Olive Older"), open_case(api, 30)
    b = signed_in(client, jo)
    assert "You hold no claims." in b.get("/chc/queue").text

    r = b.post("/chc/queue/claim", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == f"/chc/queue?done=claimed&case={older}"
    after = b.get(r.headers["location"])
    assert banner(after).startswith(f"Success You claimed case {older}: Olive Older.")
    assert api.chc_case(older)["work_item"]["claim"]["assessor"] == jo.actor.username
    mine = after.text[after.text.index('id="my-claims"') : after.text.index('id="queue-heading"')]
    assert f"Case {older}: Olive Older" in mine
    assert "Release case" in mine
    # Days waiting are London days: 50 days ago was in British Summer Time, so late in a
    # winter evening (UTC) the referral's London date is the next day, 49 days back.
    referred = utcnow() - timedelta(days=50)
    assert f"{(london_date(utcnow()) - london_date(referred)).days} days" in mine

    limit = b.post("/chc/queue/claim")
    assert limit.status_code == 409
    assert error_summary(limit)[0].startswith("you already hold 1 claim(s) (limit 1)")
    assert f"Open case {older}, which you hold" in error_summary(limit)
    assert api.chc_case(newer)["work_item"]["claim"] is None

    released = b.post(f"/chc/queue/{older}/release", data={"reason": "waiting for records"})
    assert released.status_code == 200  # followed the 303
    assert banner(released) == f"Success Case {older} is back on the queue."
    assert api.chc_case(older)["work_item"]["claim"] is None
    again = b.post(f"/chc/queue/{older}/release")
    assert again.status_code == 409
    assert error_summary(again) == [f"case {older} is not claimed"]


def test_nothing_to_claim_is_said_not_failed(client: TestClient, make_user) -> None:
    r = signed_in(client, make_user("chc_assessor")).post("/chc/queue/claim")
    assert r.status_code == 404
    assert "Nothing to claim" in r.text
    assert error_summary(r) == ["no unclaimed case is waiting in your organisation's CHC queue"]


def test_reassign_checks_the_form_then_hands_the_claim_on(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    sam = make_user("chc_assessor", org=jo.org)
    manager = make_user("manager", org=jo.org)
    api = ChcApi(client, jo.headers)
    case_id = open_case(api, 20)
    b = signed_in(client, jo)
    b.post("/chc/queue/claim")

    empty = b.post(f"/chc/queue/{case_id}/reassign", data={"to": "", "reason": ""})
    assert empty.status_code == 422
    assert error_summary(empty) == [
        "Enter the username of the assessor",
        "Give a reason of 3 characters or more",
    ]
    typed = {"to": manager.actor.username, "reason": "cover for leave"}
    refused = b.post(f"/chc/queue/{case_id}/reassign", data=typed)
    assert refused.status_code == 422
    assert error_summary(refused) == ["To: not an active chc_assessor here"]
    assert "cover for leave" in refused.text  # what the person typed is kept
    assert api.chc_case(case_id)["work_item"]["claim"]["assessor"] == jo.actor.username

    moved = b.post(
        f"/chc/queue/{case_id}/reassign",
        data={"to": sam.actor.username, "reason": "Sam knows them"},
    )
    assert banner(moved) == f"Success Case {case_id} was reassigned."
    assert api.chc_case(case_id)["work_item"]["claim"]["assessor"] == sam.actor.username
    log = client.get(f"/api/v1/chc/cases/{case_id}/rag-history", headers=jo.headers).json()
    assert [(c["action"], c["assessor"], c["reason"]) for c in log["claims"]][-1] == (
        "reassigned",
        sam.actor.username,
        "Sam knows them",
    )


def test_roles_without_the_write_see_the_queue_but_are_refused_the_actions(
    client: TestClient, make_user
) -> None:
    jo = make_user("chc_assessor")
    case_id = open_case(ChcApi(client, jo.headers), 20)
    signed_in(client, jo).post("/chc/queue/claim")
    manager = signed_in(client, make_user("manager", org=jo.org))
    page = manager.get("/chc/queue")
    assert page.status_code == 200
    assert "Claim the next case" not in page.text
    r = manager.post("/chc/queue/claim")
    assert r.status_code == 403
    assert error_summary(r) == ["claiming from the CHC queue needs one of the roles: chc_assessor"]
    r = manager.post(f"/chc/queue/{case_id}/release")
    assert r.status_code == 403
    # An administrator may reassign a claim (as the API allows) and sees the form for it.
    admin = signed_in(client, make_user("admin", org=jo.org))
    assert "Reassign" in admin.get("/chc/queue").text


def test_another_organisations_case_is_not_found(client: TestClient, make_user) -> None:
    theirs = make_user("chc_assessor")
    case_id = open_case(ChcApi(client, theirs.headers), 20)
    signed_in(client, theirs).post("/chc/queue/claim")
    mine = signed_in(client, make_user("chc_assessor"))
    r = mine.post(f"/chc/queue/{case_id}/release")
    assert r.status_code == 404
    assert error_summary(r) == [f"case {case_id} is not on your organisation's CHC working list"]


def test_the_page_is_in_the_access_audit(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    first, second = (
        open_case(ChcApi(client, jo.headers), 30),
        open_case(ChcApi(client, jo.headers), 10),
    )
    signed_in(client, jo).get("/chc/queue")
    officer = make_user("ig_officer", org=jo.org)
    r = client.get("/api/v1/audit", params={"user": jo.actor.username}, headers=officer.headers)
    assert [(x["endpoint"], sorted(x["case_ids"])) for x in r.json()["items"]] == [
        ("/chc/queue", sorted([first, second]))
    ]


def test_text_the_service_cannot_store_is_refused_not_failed(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    case_id = open_case(api, 20)
    b = signed_in(client, jo)
    b.post("/chc/queue/claim")
    r = b.post(f"/chc/queue/{case_id}/release", data={"reason": "records\x00due"})
    assert r.status_code == 422
    assert error_summary(r) == ["Reason may not contain the control character U+0000"]
    assert api.chc_case(case_id)["work_item"]["claim"]["assessor"] == jo.actor.username
    r = b.post(f"/chc/queue/{case_id}/reassign", data={"to": "sam\nx", "reason": "cover"})
    assert r.status_code == 422
    assert error_summary(r) == ["Username may not contain the control character U+000A"]
    r = b.get("/chc/queue", params={"cohort": "no\x00such"})
    assert r.status_code == 422
    assert error_summary(r) == ["Choose a cohort from the list"]
