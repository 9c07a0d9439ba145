"""The pathway-fit audit over HTTP on a hand-built site (both databases): seven discharges whose
91-day outcomes, re-referrals and "possibly more intensive" flags are worked out by hand below;
another organisation sees none of them; the CSVs; the access audit; the page."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.models.access import AccessRecord, AccessRecordCase
from tests.discharge.helpers import NHS, TEAM, fire, open_case, today
from tests.helpers import Api
from tests.ic.helpers import IC_TEAM, PLAN, Ic, fresh_site, london_at, make_service
from tests.web.test_case_page import browser_for

ROLES = (*TEAM, *IC_TEAM, "manager")


def _discharge(
    api: Api, nhs: str, site: str, days_ago: int, pathway: str, code: str, **extra: Any
) -> int:
    case = open_case(api, nhs, site=site, admitted_days_ago=days_ago + 20)
    cid = int(case["id"])
    fire(api, cid, "accept", days_ago=days_ago + 15)
    fire(api, cid, "not_meeting_ctr", days_ago=days_ago + 3)
    if pathway == "P3":
        fire(
            api,
            cid,
            "record_ic_offer",
            days_ago=days_ago + 2,
            data={"ic_offer_response": "declined"},
        )
    data = {"discharge_pathway": pathway, "destination_code": code, **extra}
    fire(api, cid, "discharge", days_ago=days_ago, data=data)
    return cid


def _step_down(api: Api, cid: int) -> int:
    links = api.get(cid).json()["links"]
    return int(next(k["case_id"] for k in links if k["link_type"] == "step_down"))


@pytest.fixture
def built(client: TestClient, make_user) -> dict[str, Any]:  # noqa: ANN001
    user = make_user(*ROLES)
    site = fresh_site()
    api, ic = Api(client, user.headers), Ic(client, user.headers, site)
    reablement = make_service(client, user.headers, site=site, model="reablement", capacity=9)
    bed = make_service(client, user.headers, site=site, model="bed_based_ic", capacity=9)
    ids: dict[str, int] = {}
    # 1. P1, reablement, ended independent, at home at 91 days.
    ids["home"] = _discharge(api, NHS[0], site, 110, "P1", "19")
    e = _step_down(api, ids["home"])
    ic.fire(e, "triage", at=london_at(110, 14), priority="routine", planned_model="reablement")
    ic.fire(e, "start_reablement", at=london_at(109, 10), service_id=reablement["id"])
    ic.fire(e, "record_transition_plan", at=london_at(90, 10), **PLAN)
    ic.fire(e, "end_episode", at=london_at(80, 10), outcome="independent")
    ic.fire(e, "record_still_at_home", still_at_home_91d="at_home")
    # 2. P1, admitted again on day 30 (a new discharge case, still in hospital).
    ids["readmitted"] = _discharge(api, NHS[1], site, 100, "P1", "19")
    ids["readmission"] = int(open_case(api, NHS[1], site=site, admitted_days_ago=70)["id"])
    # 3. P2 who died on day 35 (recorded on the discharge case).
    ids["died"] = _discharge(api, NHS[2], site, 95, "P2", "85")
    fire(api, ids["died"], "died", days_ago=60)
    # 4. P3 to a care home (first time: IC offered and declined, an exception recorded).
    ids["care_home"] = _discharge(
        api,
        NHS[3],
        site,
        100,
        "P3",
        "85",
        exceptional_reason="Needs 24-hour nursing; reablement declined twice",
        exceptional_approver="Dr R Shah",
    )
    # 5. P2, bed-based IC ended independent: possibly more intensive than needed; no follow-up.
    ids["intensive"] = _discharge(api, NHS[4], site, 100, "P2", "85")
    e = _step_down(api, ids["intensive"])
    ic.fire(e, "triage", at=london_at(100, 14), priority="high", planned_model="bed_based_ic")
    ic.fire(e, "start_bed_based_ic", at=london_at(100, 16), service_id=bed["id"])
    ic.fire(e, "record_transition_plan", at=london_at(75, 10), **PLAN)
    ic.fire(e, "end_episode", at=london_at(70, 10), outcome="independent")
    # 6. P0 ten days ago: its 91 days have not passed.
    ids["pending"] = _discharge(api, NHS[5], site, 10, "P0", "19")
    # 7. P1, reablement ended, re-referred under the contingency plan on day 40.
    ids["re_referred"] = _discharge(api, NHS[6], site, 100, "P1", "19")
    e = _step_down(api, ids["re_referred"])
    ic.fire(e, "triage", at=london_at(100, 14), priority="routine", planned_model="reablement")
    ic.fire(e, "start_reablement", at=london_at(99, 10), service_id=reablement["id"])
    ic.fire(e, "record_transition_plan", at=london_at(80, 10), **PLAN)
    ic.fire(e, "end_episode", at=london_at(70, 10), outcome="ongoing_package")
    ic.fire(e, "re_refer", at=london_at(60, 10), re_referrer="self_referral")
    return {"user": user, "site": site, "ids": ids, "client": client}


def _get(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    r = client.get(f"/api/v1/pathway-fit{path}", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r


def _zero() -> dict[str, int]:
    return dict.fromkeys(
        [
            "died",
            "readmitted",
            "care_home",
            "still_at_home",
            "not_at_home",
            "not_contactable",
            "no_later_record",
            "pending",
        ],
        0,
    )


def test_figures_by_pathway_worked_out_by_hand(built: dict[str, Any], make_user, sessions) -> None:  # noqa: ANN001
    client, user, site, ids = built["client"], built["user"], built["site"], built["ids"]
    period = {"from": str(today() - timedelta(days=200)), "to": str(today()), "site": site}
    report = _get(client, user.headers, "", **period).json()
    by = {r["pathway"]: r for r in report["pathways"]}
    assert report["window_days"] == 91
    # P0: the recent discharge only, pending.
    assert (by["P0"]["discharges"], by["P0"]["outcomes"]) == (1, {**_zero(), "pending": 1})
    # P1: at home, readmitted, and the re-referred one with nothing recorded at 91 days.
    assert by["P1"]["discharges"] == 3
    assert by["P1"]["outcomes"] == {
        **_zero(),
        "still_at_home": 1,
        "readmitted": 1,
        "no_later_record": 1,
    }
    assert by["P1"]["outcome_percent"]["still_at_home"] == 33.3  # 1 of 3
    assert (by["P1"]["re_referred"], by["P1"]["re_referrals"]) == (1, 1)
    assert by["P1"]["possibly_more_intensive"] == 0  # P1 is not an intensive pathway
    # P2: died; IC ended independent (its 85 destination is the IC bed, not a care home).
    assert by["P2"]["discharges"] == 2
    assert by["P2"]["outcomes"] == {**_zero(), "died": 1, "no_later_record": 1}
    assert by["P2"]["outcome_percent"]["died"] == 50.0
    assert by["P2"]["possibly_more_intensive"] == 1
    # P3: a care home from the destination code; no IC episode, so no flag.
    assert (by["P3"]["discharges"], by["P3"]["outcomes"]) == (1, {**_zero(), "care_home": 1})
    assert by["P3"]["possibly_more_intensive"] == 0
    assert by["P3b"]["discharges"] == by["unknown"]["discharges"] == 0
    total = report["total"]
    assert total["discharges"] == 7
    assert total["outcomes"] == {
        "died": 1,
        "readmitted": 1,
        "care_home": 1,
        "still_at_home": 1,
        "not_at_home": 0,
        "not_contactable": 0,
        "no_later_record": 2,
        "pending": 1,
    }
    assert (total["re_referred"], total["re_referrals"], total["possibly_more_intensive"]) == (
        1,
        1,
        1,
    )

    # The patients behind the figures, each with its outcome.
    listed = _get(client, user.headers, "/patients", **period).json()["items"]
    got = {
        i["case_id"]: (i["pathway"], i["outcome"], i["re_referrals"], i["possibly_more_intensive"])
        for i in listed
    }
    assert got == {
        ids["home"]: ("P1", "still_at_home", 0, False),
        ids["readmitted"]: ("P1", "readmitted", 0, False),
        ids["died"]: ("P2", "died", 0, False),
        ids["care_home"]: ("P3", "care_home", 0, False),
        ids["intensive"]: ("P2", "no_later_record", 0, True),
        ids["pending"]: ("P0", "pending", 0, False),
        ids["re_referred"]: ("P1", "no_later_record", 1, False),
    }
    home = next(i for i in listed if i["case_id"] == ids["home"])
    assert (home["patient_ref"], home["case_link"]) == (NHS[0], f"/tracker/cases/{ids['home']}")
    assert home["discharged_on"] == str(today() - timedelta(days=110))
    assert home["window_ends"] == str(today() - timedelta(days=110) + timedelta(days=91))
    readmitted = next(i for i in listed if i["case_id"] == ids["readmitted"])
    assert readmitted["evidence"] == f"admitted again (discharge case {ids['readmission']})"
    only = _get(client, user.headers, "/patients", pathway="P2", outcome="died", **period).json()
    assert [i["case_id"] for i in only["items"]] == [ids["died"]]
    flagged = _get(
        client, user.headers, "/patients", possibly_more_intensive="true", **period
    ).json()
    assert [i["case_id"] for i in flagged["items"]] == [ids["intensive"]]
    # The list read is in the access audit, with the cases it showed.
    with sessions() as session:
        entry = session.execute(
            select(AccessRecord)
            .where(
                AccessRecord.endpoint == "/api/v1/pathway-fit/patients",
                AccessRecord.username == user.actor.username,
            )
            .order_by(AccessRecord.id.desc())
            .limit(1)
        ).scalar_one()
        shown = session.execute(
            select(AccessRecordCase.case_id).where(AccessRecordCase.record_id == entry.id)
        ).scalars()
        assert sorted(shown) == [ids["intensive"]]

    # A period that ends before the recent discharge leaves it out.
    earlier = {**period, "to": str(today() - timedelta(days=30))}
    assert _get(client, user.headers, "", **earlier).json()["total"]["discharges"] == 6

    # An analyst: the same rows without NHS numbers.
    analyst = make_user("analyst", org=user.org)
    hidden = _get(client, analyst.headers, "/patients", **period).json()["items"]
    assert len(hidden) == 7
    assert {i["patient_ref"] for i in hidden} == {None}
    # Another organisation, every role that reads the audit: none of these.
    other = make_user("manager", "discharge_team", "analyst")
    assert other.org != user.org
    theirs = _get(client, other.headers, "", **period).json()
    assert theirs["total"]["discharges"] == 0
    assert _get(client, other.headers, "/patients", **period).json()["items"] == []
    # A role without the read: 403.
    r = client.get("/api/v1/pathway-fit", headers=make_user("provider").headers)
    assert r.status_code == 403


def test_csv_matches_the_json_and_bad_periods_are_refused(built: dict[str, Any]) -> None:
    client, user, site, ids = built["client"], built["user"], built["site"], built["ids"]
    period = {"from": str(today() - timedelta(days=200)), "to": str(today()), "site": site}
    text = _get(client, user.headers, "", format="csv", **period).text
    rows = {r["pathway"]: r for r in csv.DictReader(io.StringIO(text))}
    assert (rows["P1"]["discharges"], rows["P1"]["still_at_home"]) == ("3", "1")
    assert (rows["all"]["discharges"], rows["all"]["possibly_more_intensive"]) == ("7", "1")
    assert rows["P1"]["still_at_home_percent"] == "33.3"
    patients = _get(client, user.headers, "/patients", format="csv", **period)
    assert patients.headers["content-type"].startswith("text/csv")
    listed = list(csv.DictReader(io.StringIO(patients.text)))
    assert sorted(int(r["case_id"]) for r in listed) == sorted(
        v for k, v in ids.items() if k != "readmission"
    )
    assert {r["patient_ref"] for r in listed} == set(NHS[:7])
    for params, status in (
        ({"from": "2026-05-02", "to": "2026-05-01"}, 422),  # to before from
        ({"from": "2024-01-01", "to": "2026-01-01"}, 422),  # more than 366 days
        ({"from": "yesterday"}, 422),
        ({"to": "0001-01-01"}, 422),  # off the service's calendar
        ({"from": "9999-12-31"}, 422),
        ({"outcome": "happy"}, 422),
        ({"site": "=HYPERLINK(1)"}, 422),
    ):
        path = "/patients" if "outcome" in params else ""
        r = client.get(f"/api/v1/pathway-fit{path}", headers=user.headers, params=params)
        assert r.status_code == status, (params, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")


def test_the_page_shows_the_figures_and_links_to_the_patients(
    built: dict[str, Any], make_user
) -> None:  # noqa: ANN001
    client, user, site, ids = built["client"], built["user"], built["site"], built["ids"]
    browser = browser_for(client, user.token)
    period = {"from": str(today() - timedelta(days=200)), "to": str(today()), "site": site}
    page = browser.get("/dashboard/pathway-fit", params=period)
    assert page.status_code == 200, page.text
    html = page.text
    assert "7 discharges." in html
    assert '<th scope="row" class="nhsuk-table__header">P2</th>' in html
    assert "possibly_more_intensive#patients" in html
    chosen = browser.get(
        "/dashboard/pathway-fit",
        params={**period, "pathway": "P2", "outcome": "possibly_more_intensive"},
    )
    assert chosen.status_code == 200
    assert f'href="/tracker/cases/{ids["intensive"]}"' in chosen.text
    assert f'href="/tracker/cases/{ids["died"]}"' not in chosen.text
    assert NHS[4] in chosen.text
    # The form as a browser sends it with no site: every site of the organisation.
    every = browser.get("/dashboard/pathway-fit", params={**period, "site": ""})
    assert every.status_code == 200, every.text
    assert "7 discharges." in every.text
    assert browser.get("/dashboard/pathway-fit", params={"outcome": "cured"}).status_code == 422
    # The dashboard links to it.
    assert 'href="/dashboard/pathway-fit"' in browser.get("/dashboard").text
    # An analyst sees the figures, not the NHS numbers; a provider is refused.
    analyst = browser_for(client, make_user("analyst", org=user.org).token)
    seen = analyst.get(
        "/dashboard/pathway-fit",
        params={**period, "pathway": "P2", "outcome": "possibly_more_intensive"},
    )
    assert seen.status_code == 200
    assert NHS[4] not in seen.text
    assert "Withheld" in seen.text
    provider = browser_for(client, make_user("provider", org=user.org).token)
    assert provider.get("/dashboard/pathway-fit").status_code == 403


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _plain_outcomes(sessions, org: str, patients: list[str]) -> dict[int, tuple[str, int]]:  # noqa: ANN001
    """Each discharge's outcome and re-referrals straight from the event log (not the case rows
    or the spell read model): the README's rules written out again, plainly."""
    from app.models import Case, CaseEvent, CaseLink
    from app.timeutil import london_date

    with sessions() as session:
        cases = (
            session.execute(
                select(Case).where(Case.organisation == org, Case.patient_ref.in_(patients))
            )
            .scalars()
            .all()
        )
        events = {
            c.id: session.execute(
                select(CaseEvent).where(CaseEvent.case_id == c.id).order_by(CaseEvent.seq)
            )
            .scalars()
            .all()
            for c in cases
        }
        parent = dict(
            session.execute(
                select(CaseLink.to_case_id, CaseLink.from_case_id).where(
                    CaseLink.link_type == "step_down"
                )
            ).all()
        )
    info = {c.id: (c.workflow_key, c.patient_ref) for c in cases}
    out: dict[int, tuple[str, int]] = {}
    for cid, evs in events.items():
        kind, nhs = info[cid]
        left = [e for e in evs if e.event == "discharge"]
        if kind != "discharge" or not left:
            continue
        t, data = left[-1].occurred_at, left[-1].data
        last = london_date(t) + timedelta(days=91)

        def inside(at, t=t, last=last) -> bool:  # noqa: ANN001
            return at >= t and london_date(at) <= last

        same = [k for k in events if info[k][1] == nhs]
        ic = [k for k in same if info[k][0] == "intermediate_care"]
        mine = [k for k in ic if parent.get(k) == cid]
        ended = [e.data.get("outcome") for k in mine for e in events[k] if e.event == "end_episode"]
        follow = [
            e.data.get("still_at_home_91d")
            for k in mine
            for e in events[k]
            if e.event == "record_still_at_home"
        ]
        deaths = [
            e
            for k in same
            if info[k][0] == "discharge"
            for e in events[k]
            if e.event == "died" and inside(e.occurred_at)
        ]
        readmitted = [
            k
            for k in same
            if info[k][0] == "discharge"
            and k != cid
            and _parse(events[k][0].data["admitted_at"]) > t
            and inside(_parse(events[k][0].data["admitted_at"]))
        ]
        if "died" in ended + follow or deaths:
            outcome = "died"
        elif readmitted or "readmitted_to_hospital" in ended:
            outcome = "readmitted"
        elif (
            data["destination_code"] in ("54", "65", "85")
            and data["discharge_pathway"] != "P2"
            or "long_term_care_home" in ended
        ):
            outcome = "care_home"
        elif follow:
            outcome = {"at_home": "still_at_home"}.get(follow[0], follow[0])
        else:
            outcome = "pending" if today() < last else "no_later_record"
        again = sum(
            1
            for k in ic
            if events[k][0].data.get("direction") == "step_up" and inside(events[k][0].occurred_at)
        )
        out[cid] = (outcome, again)
    return out


def test_every_figure_is_reproduced_from_the_events(built: dict[str, Any], sessions) -> None:  # noqa: ANN001
    client, user, site = built["client"], built["user"], built["site"]
    period = {"from": str(today() - timedelta(days=200)), "to": str(today()), "site": site}
    listed = _get(client, user.headers, "/patients", **period).json()["items"]
    api = {i["case_id"]: (i["outcome"], i["re_referrals"]) for i in listed}
    assert api == _plain_outcomes(sessions, user.org, NHS[:7])
