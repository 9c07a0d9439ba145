"""Data quality of discharge-ready dates (issue 19, item 4), over the hand-built patients of
tests/dashboard/quality_ward.py, on both databases. Every figure below is worked out by hand
from that table; the comments give the working."""

from __future__ import annotations

import csv
import io
import re
import uuid
from html import unescape
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.codelists.checks import code_checker
from app.codelists.loader import CodeSetRegistry
from app.engine.catalogue import PathwayCatalogue
from app.engine.engine import Engine
from app.models import AccessRecord, AccessRecordCase
from tests.browser import check_page
from tests.dashboard.quality_ward import NHS, Built, build
from tests.discharge.helpers import open_case
from tests.helpers import Api, writer_for

BANDS = ("24h to 72h", "72h to 168h", "168h or more")


@pytest.fixture(scope="module")
def built(
    sessions: sessionmaker[Session], catalogue: PathwayCatalogue, codes: CodeSetRegistry
) -> Built:
    writer = writer_for(Engine(catalogue, code_check=code_checker(codes)))
    org = f"DQ-{uuid.uuid4().hex[:8].upper()}"
    return build(sessions, writer, org, f"DQX-{uuid.uuid4().hex[:8].upper()}")


@pytest.fixture(scope="module")
def manager(built: Built, make_user_module) -> Any:  # noqa: ANN001
    return make_user_module("manager", org=built.organisation)


def _get(client: TestClient, user: Any, path: str, expect: int = 200, **params: Any) -> Any:
    r = client.get(f"/api/v1{path}", params=params, headers=user.headers)
    assert r.status_code == expect, r.text
    return r


def _figures(row: dict[str, Any]) -> tuple[Any, ...]:
    return (
        row["census"],
        row["with_status"],
        row["ctr_entries"],
        row["backdated"],
        tuple(row["backdated_by"][b] for b in BANDS),
        row["flip_flops"],
        row["delayed"],
        row["delayed_no_reason"],
        row["reason_while_meeting"],
        row["with_problem"],
    )


def test_the_measures_of_a_day_per_ward_and_in_total(
    client: TestClient, built: Built, manager: Any
) -> None:
    day = _get(client, manager, "/data-quality", date="2026-11-20").json()
    assert day["final"] is True
    assert day["as_at"].startswith("2026-11-20T23:59:59")
    wards = {w["ward"]: w for w in day["wards"]}
    assert sorted(wards) == ["Ward 1", "Ward 2"]
    # Ward 1 at the end of the 20th: P1, P2, P3 and P6 (moved in at 14:00); P4 has no night
    # yet, P9 was not recorded until the 21st. With a status: P1, P2, P6. Entries recorded
    # on the 20th on Ward 1: P2's (47 h late) and P6's "meets again" (on time). Delayed: P1
    # (reason open) and P2 (none). Problems: P2 (late entry, no reason), P3 (no status).
    assert _figures(wards["Ward 1"]) == (4, 3, 2, 1, (1, 0, 0), 0, 2, 1, 0, 2)
    # Ward 2: P5 and P7 (P8 left on the 19th). Recorded on the 20th: P5's "not meeting"
    # 98 h late, which ends a flip-flop (meets again on the 14th, not meeting on the 16th:
    # 47 h). Delayed: P5 (reason opened at noon). P7's delay reason is open while the record
    # says P7 meets the criteria (the "not meeting" was backdated to before "meets again").
    assert _figures(wards["Ward 2"]) == (2, 2, 1, 1, (0, 1, 0), 1, 1, 0, 1, 2)
    total = day["total"]
    assert _figures(total) == (6, 5, 3, 2, (1, 1, 0), 1, 3, 1, 1, 4)
    assert (
        total["with_status_percent"],
        total["backdated_percent"],
        total["delayed_no_reason_percent"],
        total["score_percent"],
    ) == (83.3, 66.7, 33.3, 33.3)
    assert (wards["Ward 1"]["score_percent"], wards["Ward 2"]["score_percent"]) == (50.0, 0.0)
    assert day["settings"]["backdated_after_hours"] == 24


def test_the_day_before_as_it_was_recorded_then(
    client: TestClient, built: Built, manager: Any
) -> None:
    day = _get(client, manager, "/data-quality", date="2026-11-19").json()
    # The 19th as recorded by its end: P2's entry and P5's late one were not there yet.
    # Census: P1, P2 (Ward 1); P5, P6, P7 (Ward 2); P3 had no night yet, P8 left at 14:00.
    # Recorded on the 19th: P6's "not meeting", P7's "meets again" and P7's late "not
    # meeting" (121 h). Delayed: P1 only (P6's DRD is the 19th itself). Problems: P2 (no
    # status), P7 (late entry; reason while meeting).
    assert _figures(day["total"]) == (5, 4, 3, 1, (0, 1, 0), 0, 1, 0, 1, 2)
    assert day["total"]["score_percent"] == 60.0
    one = _get(client, manager, "/data-quality", date="2026-11-19", ward="Ward 1").json()
    assert [w["ward"] for w in one["wards"]] == ["Ward 1"]
    assert _figures(one["total"]) == (2, 1, 0, 0, (0, 0, 0), 0, 1, 0, 0, 1)


def test_the_series_gives_each_day_as_the_day_does(
    client: TestClient, built: Built, manager: Any
) -> None:
    series = _get(
        client, manager, "/data-quality/series", **{"from": "2026-11-18", "to": "2026-11-20"}
    ).json()
    items = {i["date"]: i for i in series["items"]}
    assert list(items) == ["2026-11-18", "2026-11-19", "2026-11-20"]
    for d in ("2026-11-19", "2026-11-20"):
        day = _get(client, manager, "/data-quality", date=d).json()["total"]
        assert _figures(items[d]) == _figures(day)
    # The 18th as recorded then: P1 (delayed 1 day, reason open), P2 (no status), P5 and P6
    # (meeting the criteria), P7 and P8 (not meeting them since the 12th, no delay reason:
    # P7's later entries were recorded on the 19th). P3 and P9 not yet admitted or recorded.
    assert _figures(items["2026-11-18"]) == (6, 5, 0, 0, (0, 0, 0), 0, 3, 2, 0, 3)
    ward2 = _get(
        client,
        manager,
        "/data-quality/series",
        **{"from": "2026-11-20", "to": "2026-11-20"},
        ward="Ward 2",
    ).json()
    assert _figures(ward2["items"][0]) == (2, 2, 1, 1, (0, 1, 0), 1, 1, 0, 1, 2)


def test_the_patients_to_fix_with_identifiers_as_the_grant_allows(
    client: TestClient,
    built: Built,
    manager: Any,
    make_user_module,  # noqa: ANN001
    sessions: sessionmaker[Session],
) -> None:
    ids = built.ids
    found = _get(client, manager, "/data-quality/patients", date="2026-11-20").json()
    got = [(i["case_id"], i["measure"], i["ward"]) for i in found["items"]]
    assert got == [
        (ids["P2"], "backdated", "Ward 1"),
        (ids["P2"], "delayed_no_reason", "Ward 1"),
        (ids["P3"], "no_status", "Ward 1"),
        (ids["P5"], "backdated", "Ward 2"),
        (ids["P5"], "flip_flop", "Ward 2"),
        (ids["P7"], "reason_while_meeting", "Ward 2"),
    ]
    first = found["items"][0]
    assert first["nhs_number"] == NHS["P2"]
    assert first["link"] == f"/tracker/cases/{ids['P2']}"
    assert first["detail"] == (
        "not meeting the criteria for 2026-11-18T10:00Z recorded 2026-11-20T09:00Z: 47 hours late"
    )
    only = _get(
        client, manager, "/data-quality/patients", date="2026-11-20", measure="backdated"
    ).json()
    assert [i["case_id"] for i in only["items"]] == [ids["P2"], ids["P5"]]
    # The read is in the access audit, with the cases it returned.
    with sessions() as session:
        record = session.scalars(
            select(AccessRecord)
            .where(
                AccessRecord.username == manager.actor.username,
                AccessRecord.endpoint == "/api/v1/data-quality/patients",
            )
            .order_by(AccessRecord.id.desc())
        ).first()
        assert record is not None
        cases = session.scalars(
            select(AccessRecordCase.case_id).where(AccessRecordCase.record_id == record.id)
        ).all()
    assert sorted(cases) == sorted([ids["P2"], ids["P5"]])
    analyst = make_user_module("analyst", org=built.organisation)
    blind = _get(client, analyst, "/data-quality/patients", date="2026-11-20").json()
    assert [i["case_id"] for i in blind["items"]] == [i["case_id"] for i in found["items"]]
    assert {i["nhs_number"] for i in blind["items"]} == {None}
    text = _get(client, analyst, "/data-quality/patients.csv", date="2026-11-20").text
    assert not any(n in text for n in NHS.values())


def test_the_csv_answers_and_their_cells(client: TestClient, built: Built, manager: Any) -> None:
    day = _get(client, manager, "/data-quality.csv", date="2026-11-20")
    assert day.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(day.text)))
    assert [r["ward"] for r in rows] == ["Ward 1", "Ward 2", "All wards"]
    assert (rows[2]["census"], rows[2]["score_percent"], rows[2]["backdated 72h to 168h"]) == (
        "6",
        "33.3",
        "1",
    )
    series = _get(
        client, manager, "/data-quality/series.csv", **{"from": "2026-11-19", "to": "2026-11-20"}
    )
    trend = list(csv.DictReader(io.StringIO(series.text)))
    assert [(r["date"], r["census"], r["with_problem"]) for r in trend] == [
        ("2026-11-19", "5", "2"),
        ("2026-11-20", "6", "4"),
    ]
    found = _get(client, manager, "/data-quality/patients.csv", date="2026-11-20")
    lines = list(csv.DictReader(io.StringIO(found.text)))
    assert len(lines) == 6
    assert lines[2]["nhs_number"] == NHS["P3"]
    assert lines[2]["detail"] == "no criteria-to-reside entry in 1 night(s)"


def test_another_organisation_sees_none_of_it(
    client: TestClient,
    built: Built,
    make_user_module,  # noqa: ANN001
) -> None:
    stranger = make_user_module("manager")
    day = _get(client, stranger, "/data-quality", date="2026-11-20").json()
    assert day["wards"] == []
    assert day["total"]["census"] == 0
    assert day["total"]["score_percent"] is None
    assert _get(client, stranger, "/data-quality/patients", date="2026-11-20").json()["items"] == []


def test_bad_requests_are_refused_with_a_problem(client: TestClient, manager: Any) -> None:
    future = _get(client, manager, "/data-quality", expect=422, date="2199-01-01").json()
    assert future["code"] == "validation_failed"
    long = _get(
        client,
        manager,
        "/data-quality/series",
        expect=422,
        **{"from": "2026-01-01", "to": "2026-11-20"},
    ).json()
    assert long["max_days"] == 93
    backwards = {"from": "2026-11-20", "to": "2026-11-19"}
    _get(client, manager, "/data-quality/series", expect=422, **backwards)
    _get(client, manager, "/data-quality/patients", expect=422, measure="everything")


# -- the managers' page ---------------------------------------------------------------------------


def _signed_in(client: TestClient, token: str) -> TestClient:
    browser = TestClient(client.app, raise_server_exceptions=False)
    browser.headers["Origin"] = "http://testserver"
    r = browser.post("/sign-in/token", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return browser


def _cells(html: str, table_id: str) -> list[list[str]]:
    """The rows of a table of the page, each as its cells' text (tags stripped)."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0].split("<tbody>", 1)[1]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [
        [
            " ".join(unescape(re.sub(r"<[^>]+>", "", c)).split())
            for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in rows
    ]


def test_the_page_shows_the_wards_the_trend_and_the_patients_to_fix(
    client: TestClient, built: Built, manager: Any
) -> None:
    browser = _signed_in(client, manager.token)
    r = browser.get("/dashboard/quality", params={"date": "2026-11-20"})
    assert r.status_code == 200, r.text
    html = r.text
    assert _cells(html, "quality-wards") == [
        ["Ward 1", "4", "3 (75.0%)", "2", "1 (50.0%)", "0", "2", "1", "0", "50.0%"],
        ["Ward 2", "2", "2 (100.0%)", "1", "1 (100.0%)", "1", "1", "0", "1", "0.0%"],
        ["All wards", "6", "5 (83.3%)", "3", "2 (66.7%)", "1", "3", "1", "1", "33.3%"],
    ]
    trend = _cells(html, "quality-trend")
    assert len(trend) == 14
    assert trend[-1][0] == "2026-11-20"
    assert trend[-2] == ["2026-11-19", "5", "4", "1", "0", "0", "1", "60.0"]
    assert 'id="chart-quality-score"' in html
    patients = _cells(html, "quality-patients")
    assert [p[:4] for p in patients][:3] == [
        [str(built.ids["P2"]), NHS["P2"], "Ward 1", "Backdated entry"],
        [str(built.ids["P2"]), NHS["P2"], "Ward 1", "Delayed, no delay reason"],
        [str(built.ids["P3"]), NHS["P3"], "Ward 1", "No criteria-to-reside status"],
    ]
    assert f'href="/tracker/cases/{built.ids["P7"]}"' in html
    # A figure links to its patients: Ward 2's flip-flop.
    r = browser.get(
        "/dashboard/quality",
        params={"date": "2026-11-20", "ward": "Ward 2", "measure": "flip_flop"},
    )
    assert [p[0] for p in _cells(r.text, "quality-patients")] == [str(built.ids["P5"])]
    assert "measure=flip_flop" in html
    assert "ward=Ward+2" in html
    # The managers' dashboard links here.
    assert 'id="link-quality"' in browser.get("/dashboard").text


def test_the_page_without_identifiers_or_case_links_for_an_analyst(
    client: TestClient,
    built: Built,
    make_user_module,  # noqa: ANN001
) -> None:
    analyst = make_user_module("analyst", org=built.organisation)
    html = (
        _signed_in(client, analyst.token)
        .get("/dashboard/quality", params={"date": "2026-11-20"})
        .text
    )
    assert not any(n in html for n in NHS.values())
    assert "/tracker/cases/" not in html  # an analyst reads no case
    assert len(_cells(html, "quality-patients")) == 6
    clinician_only = make_user_module("chc_assessor", org=built.organisation)
    r = _signed_in(client, clinician_only.token).get("/dashboard/quality")
    assert r.status_code == 403


def test_the_page_renders_under_the_content_security_policy(
    live_server: str, built: Built, manager: Any, browser: Any, backend: str
) -> None:
    violations: list[str] = []
    context = browser.new_context()
    address = f"{live_server}/dashboard/quality?date=2026-11-20"
    try:
        page = context.new_page()
        page.on("console", lambda m: violations.append(m.text))
        page.goto(address)
        if not page.is_visible("#token"):
            page.click("summary")
        page.fill("#token", manager.token)
        page.press("#token", "Enter")
        page.wait_for_url(address)
        # Accessible (axe, WCAG 2.2 A/AA) and no sideways scrolling, phone to ward PC.
        for width, found in check_page(page, address, backend=backend).items():
            assert found == {"violations": [], "overflow": 0}, width
        page.set_viewport_size({"width": 1280, "height": 900})
        assert page.inner_text("#tile-score") == "33.3%"
        # 7 to 20 November: nobody had a night in hospital before the 11th (no score, no point).
        assert page.locator("#chart-quality-score circle.point").count() == 10
        page.select_option("#ward", "Ward 2")
        page.click("button[type=submit]:has-text('Show')")
        page.wait_for_selector("#quality-wards")
        assert page.inner_text("#tile-score") == "0.0%"
    finally:
        context.close()
    assert [v for v in violations if "Content Security Policy" in v] == []


def test_an_organisation_a_case_is_shared_with_sees_that_patient(
    client: TestClient,
    built: Built,
    make_user_module,  # noqa: ANN001
) -> None:
    owner = make_user_module("discharge_team", org=built.organisation)
    partner = make_user_module("manager")
    r = client.post(
        f"/api/v1/cases/{built.ids['P2']}/shares",
        json={"organisation": partner.org, "reason": "community team works the discharge"},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    day = _get(client, partner, "/data-quality", date="2026-11-20").json()
    # P2 alone: on Ward 1, a status recorded 47 h late, delayed with no reason.
    assert _figures(day["total"]) == (1, 1, 1, 1, (1, 0, 0), 0, 1, 1, 0, 1)
    found = _get(client, partner, "/data-quality/patients", date="2026-11-20").json()
    assert {(i["case_id"], i["measure"]) for i in found["items"]} == {
        (built.ids["P2"], "backdated"),
        (built.ids["P2"], "delayed_no_reason"),
    }


def test_a_ward_name_cannot_start_a_formula_in_the_csv(
    client: TestClient,
    make_user,  # noqa: ANN001
) -> None:
    user = make_user("discharge_team", "manager")
    open_case(Api(client, user.headers), NHS["P1"], site="DQ-CSV", ward="=HYPERLINK(1)")
    rows = list(csv.DictReader(io.StringIO(_get(client, user, "/data-quality.csv").text)))
    # The patient, admitted ten days ago with no status: one census patient, one problem.
    assert [(r["ward"], r["census"], r["with_problem"]) for r in rows] == [
        ("'=HYPERLINK(1)", "1", "1"),
        ("All wards", "1", "1"),
    ]
    found = _get(client, user, "/data-quality/patients.csv", measure="no_status").text
    assert "'=HYPERLINK(1)" in found
