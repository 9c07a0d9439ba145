"""Figures for one ward (issue 16, item 12), over the hand-built ward month (tests/dashboard/
ward_month.py): a patient counts on the ward they were on at the time of the figures, so P6
counts on Ward 9 until noon on 10 Nov and on Ward 4 from then, and a discharge counts on the ward
the patient left from."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.codelists.loader import CodeSetRegistry
from app.config import Settings
from app.dashboard.context import metrics_context
from app.dashboard.service import (
    Place,
    compute_metrics,
    finished_day_figures,
    places_discharge,
    plain_discharge,
)
from app.timeutil import utcnow
from tests.dashboard.ward_month import NHS, Month, get, month_for

NCTR = "Number of patients who no longer meet the criteria to reside"
GONE = "Number of patients discharged"
LEFT = "Number of patients remaining in hospital who no longer meet the criteria to reside"


@pytest.fixture(scope="module")
def month(client: TestClient, make_user_module, sessions: sessionmaker[Session]) -> Month:  # noqa: ANN001
    return month_for(client, make_user_module, sessions)


def _daily(client: TestClient, caller: Any, ward: str | None, first: str, last: str) -> Any:
    params: dict[str, Any] = {"from": first, "to": last}
    if ward:
        params["ward"] = ward
    r = get(client, caller, "/dashboard/exports/acute-discharge-daily.csv", **params)
    return {r["Date"]: (r[NCTR], r[GONE], r[LEFT]) for r in csv.DictReader(io.StringIO(r.text))}


def test_the_daily_return_of_each_ward_adds_up_to_the_whole(
    client: TestClient, month: Month
) -> None:
    _, _, user = month
    whole = _daily(client, user, None, "2026-11-09", "2026-11-12")
    ward9 = _daily(client, user, "Ward 9", "2026-11-09", "2026-11-12")
    ward4 = _daily(client, user, "Ward 4", "2026-11-09", "2026-11-12")
    # 9th: P1 (discharged NCTR) and P6, both on Ward 9. 10th: P6 moved to Ward 4 at noon, so
    # at the end of the day it is Ward 4's. 12th: P2 on Ward 9 (discharged NCTR), P6 on Ward 4.
    assert ward9 == {
        "2026-11-09": ("2", "1", "1"),
        "2026-11-10": ("0", "0", "0"),
        "2026-11-11": ("0", "0", "0"),
        "2026-11-12": ("1", "1", "0"),
    }
    assert ward4 == {
        "2026-11-09": ("0", "0", "0"),
        "2026-11-10": ("1", "0", "1"),
        "2026-11-11": ("1", "0", "1"),
        "2026-11-12": ("1", "0", "1"),
    }
    for day, figures in whole.items():
        assert [int(n) for n in figures] == [
            int(a) + int(b) for a, b in zip(ward9[day], ward4[day], strict=True)
        ]


def test_the_day_and_the_series_of_a_ward(client: TestClient, month: Month) -> None:
    site, _, user = month
    day = get(client, user, "/dashboard/metrics", date="2026-11-27", ward="Ward 4").json()
    assert (day["ward"], day["site"]) == ("Ward 4", None)
    # P7 moved to Ward 4 at 15:00 on the 27th, not meeting the criteria since the 26th.
    assert day["discharge"]["nctr_remaining"] == 1
    assert [s["site"] for s in day["discharge"]["by_site"]] == [site]
    assert day["intermediate_care"] is None  # intermediate care has no hospital ward
    again = get(client, user, "/dashboard/metrics", date="2026-11-27", ward="Ward 4").json()
    assert again["stored_at"] == day["stored_at"]  # a finished day's ward figures are stored
    # The morning of the 27th, P7 was still on Ward 9.
    morning = get(
        client, user, "/dashboard/metrics", date="2026-11-27", at="08:00", ward="Ward 9"
    ).json()
    assert morning["discharge"]["nctr_remaining"] == 1
    series = get(
        client,
        user,
        "/dashboard/series",
        **{"from": "2026-11-25", "to": "2026-11-28"},
        ward="Ward 4",
    ).json()
    assert series["ward"] == "Ward 4"
    assert [i["nctr_remaining"] for i in series["items"]] == [0, 0, 1, 1]
    nine = get(
        client,
        user,
        "/dashboard/series",
        **{"from": "2026-11-25", "to": "2026-11-28"},
        ward="Ward 9",
    ).json()
    assert [i["nctr_remaining"] for i in nine["items"]] == [0, 1, 0, 0]


def test_today_on_a_ward_from_the_live_figures(client: TestClient, month: Month) -> None:
    _, _, user = month
    four = get(client, user, "/dashboard/metrics", ward="Ward 4").json()["discharge"]
    nine = get(client, user, "/dashboard/metrics", ward="Ward 9").json()["discharge"]
    # Still in hospital: P7 alone, on Ward 4 since the 27th.
    assert (four["nctr_remaining"], sum(s["inpatients"] for s in four["by_site"])) == (1, 1)
    assert (nine["nctr_remaining"], sum(s["inpatients"] for s in nine["by_site"])) == (0, 0)


def test_the_extract_names_the_ward_at_its_time(client: TestClient, month: Month) -> None:
    _, ids, user = month
    day = get(client, user, "/dashboard/exports/spells.json", date="2026-11-26").json()
    assert {r["case_id"]: r["ward"] for r in day["items"]} == {ids["P7"]: "Ward 9"}
    four = get(
        client, user, "/dashboard/exports/spells.json", date="2026-11-27", ward="Ward 4"
    ).json()
    assert four["ward"] == "Ward 4"
    assert [(r["nhs_number"], r["ward"]) for r in four["items"]] == [(NHS["P7"], "Ward 4")]
    nine = get(
        client, user, "/dashboard/exports/spells.json", date="2026-11-27", ward="Ward 9"
    ).json()
    assert nine["items"] == []


def test_the_monthly_drd_return_of_a_ward(client: TestClient, month: Month) -> None:
    """Each discharge counts on the ward the patient left from: Ward 4 discharged P6 (DRD 25 Oct,
    discharged 20 Nov: 26 days); Ward 9 discharged P1 (4 days), P2 (0) and P5 (9) in the cohort,
    and P3 and P4 outside it."""
    _, _, user = month
    four = get(client, user, "/dashboard/exports/drd-monthly.json", month="2026-11", ward="Ward 4")
    nine = get(client, user, "/dashboard/exports/drd-monthly.json", month="2026-11", ward="Ward 9")
    rows = {w: r.json()["row"] for w, r in (("4", four), ("9", nine))}
    assert four.json()["ward"] == "Ward 4"
    assert (
        rows["4"]["Total # of patients discharged"],
        rows["4"]["Total bed days lost to DD"],
    ) == (
        1,
        26,
    )
    assert (
        rows["9"]["Total # of patients discharged"],
        rows["9"]["Total bed days lost to DD"],
    ) == (
        3,
        13,
    )
    assert nine.json()["local"]["discharges_all"] == 5
    csv_row = get(
        client, user, "/dashboard/exports/drd-monthly.csv", month="2026-11", ward="Ward 4"
    ).text.splitlines()[1]
    assert ",1,26," in csv_row


def test_a_ward_that_is_too_long_is_refused(client: TestClient, month: Month) -> None:
    _, _, user = month
    r = client.get("/api/v1/dashboard/metrics", params={"ward": "W" * 65}, headers=user.headers)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")


def test_one_derivation_sliced_by_place_equals_each_place_derived_alone(
    month: Month, sessions: sessionmaker[Session], settings: Settings, codes: CodeSetRegistry
) -> None:
    """The restatement job derives an organisation's day once and slices it by site and ward;
    each slice must be exactly the figures of that place derived on its own."""
    site, _, user = month
    ctx = metrics_context(settings, codes)
    now = utcnow()
    places = [Place(None, None), Place(site, None), Place(None, "Ward 4"), Place(site, "Ward 9")]
    for day in (date(2026, 11, 9), date(2026, 11, 10), date(2026, 11, 27)):
        with sessions() as session:
            sliced = places_discharge(
                session, day=day, organisation=user.org, places=places, now=now, ctx=ctx
            )
            for place in places:
                alone = plain_discharge(
                    session,
                    day=day,
                    site=place.site,
                    ward=place.ward,
                    organisation=user.org,
                    now=now,
                    ctx=ctx,
                )
                assert sliced[place] == alone, (day, place)
        assert sliced[Place(None, "Ward 4")] != sliced[Place(site, "Ward 9")]


def test_the_nightly_figures_of_many_places_equal_each_computed_alone(
    month: Month, sessions: sessionmaker[Session], settings: Settings, codes: CodeSetRegistry
) -> None:
    """The nightly snapshots compute every place of an organisation's day together; each must
    be exactly what a first request for that place would store."""
    site, _, user = month
    ctx = metrics_context(settings, codes)
    now = utcnow()
    places = [(None, None), (site, None), (None, "Ward 4"), (None, "Ward 9")]
    day = date(2026, 11, 20)
    with sessions() as session:
        together = finished_day_figures(
            session, day=day, organisation=user.org, places=places, now=now, ctx=ctx
        )
        for site_, ward in places:
            alone = compute_metrics(
                session, day=day, site=site_, ward=ward, organisation=user.org, now=now, ctx=ctx
            )
            assert together[(site_, ward)] == alone, (site_, ward)
    assert together[(None, "Ward 4")]["discharge"]["discharged"] == 1  # P6 left Ward 4 that day
    assert together[(site, None)]["intermediate_care"] is not None
