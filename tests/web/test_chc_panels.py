"""`/chc/panels`: the next panel's agenda (the API's read), other dates, and wrong dates."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient

from tests.chc.helpers import ChcApi
from tests.web.chc_helpers import error_summary, open_case, refer_to_panel, signed_in


def _on_panel(api: ChcApi) -> dict:
    case_id = open_case(api, 10, person_name="Pat Panel")
    refer_to_panel(api, case_id)
    return api.chc_case(case_id)


def test_the_agenda_of_a_panel_and_the_next_dates(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    case = _on_panel(api)
    elsewhere = _on_panel(ChcApi(client, make_user("chc_assessor").headers))
    panel_date = case["attributes"]["panel_date"]
    b = signed_in(client, jo)

    page = b.get("/chc/panels", params={"date": panel_date})
    assert page.status_code == 200
    assert f'href="/chc/cases/{case["case_id"]}"' in page.text
    assert f'href="/chc/cases/{elsewhere["case_id"]}"' not in page.text
    assert "Pat Panel" in page.text
    assert "Eligibility expected" in page.text
    assert case["dst"]["fired"][0]["text"] in page.text

    upcoming = client.get("/api/v1/panels", headers=jo.headers).json()["panels"]
    first = b.get("/chc/panels")
    heading = date.fromisoformat(upcoming[0]["date"]).strftime("%-d %B %Y")
    assert f"Panel on {heading}" in first.text
    for slot in upcoming:
        assert f'href="/chc/panels?date={slot["date"]}"' in first.text
    counted = next(s for s in upcoming if s["date"] == panel_date)
    assert counted["cases"] == 1


def test_wrong_dates_are_explained(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    b = signed_in(client, jo)
    panel = date.fromisoformat(
        client.get("/api/v1/panels", headers=jo.headers).json()["panels"][0]["date"]
    )
    r = b.get("/chc/panels", params={"date": (panel + timedelta(days=1)).isoformat()})
    assert r.status_code == 404
    assert error_summary(r)[0].startswith(f"there is no panel on {panel + timedelta(days=1)}")
    assert f'href="/chc/panels?date={panel.isoformat()}"' in r.text
    bad = b.get("/chc/panels", params={"date": "next tuesday"})
    assert bad.status_code == 422
    assert error_summary(bad) == ["Enter a date such as 2026-03-05"]


def test_an_administrator_does_not_read_panels(client: TestClient, make_user) -> None:
    assert signed_in(client, make_user("admin")).get("/chc/panels").status_code == 403
