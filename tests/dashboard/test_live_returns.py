"""Today's figures under the national definitions, from the spell read model (SQL) and from the
plain derivation over the events: the same answer (`homefirst metrics check`), worked out by
hand for the cases the generated journeys never make (discharges the PAS records for patients
with no discharge-ready date, or who met the criteria again before leaving)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.codelists.loader import CodeSetRegistry
from app.config import Settings
from app.dashboard.context import metrics_context
from app.dashboard.service import check_live_figures, live_discharge, plain_discharge
from app.timeutil import LONDON
from tests.dashboard.ward_month import interface_headers
from tests.helpers import Api

WHY = "recorded after the ward round"


def test_todays_discharges_and_long_stays_under_the_national_definitions(
    client: TestClient,
    make_user,  # noqa: ANN001
    sessions: sessionmaker[Session],
    settings: Settings,
    codes: CodeSetRegistry,
) -> None:
    now = datetime.now(UTC)
    local = now.astimezone(LONDON)
    if local.time() < time(0, 15):
        pytest.skip("needs a quarter of an hour of today for a same-day stay")
    team = make_user("discharge_team", "ward_clinician")
    api, pas = Api(client, team.headers), Api(client, interface_headers(sessions, team.org))
    today = local.date()

    def at(days_ago: int, hour: int = 10) -> str:
        moment = datetime.combine(today - timedelta(days=days_ago), time(hour), tzinfo=LONDON)
        return moment.astimezone(UTC).isoformat()

    just_now = (now - timedelta(minutes=5)).isoformat()
    ids: dict[str, int] = {}

    def admit(name: str, admitted: str) -> None:
        r = api.create(
            "discharge",
            site="LIVE",
            patient_ref="9990000018",
            data={"hospital_system": "LUHFT", "ward": "W2", "admitted_at": admitted},
            occurred_at=admitted,
            reason=WHY,
        )
        ids[name] = int(r.json()["id"])

    def fire(name: str, event: str, when: str, by: Api | None = None, **data: Any) -> None:
        etag = api.get(ids[name]).headers["ETag"]
        (by or api).fire(ids[name], event, etag=etag, occurred_at=when, reason=WHY, data=data)

    # S1: admitted and discharged today (under one night), never NCTR: outside the cohort.
    admit("S1", (now - timedelta(minutes=10)).isoformat())
    fire("S1", "discharge", just_now, by=pas, destination_code="19")
    # S2: three nights, never recorded as not meeting the criteria: outside (no DRD).
    admit("S2", at(3))
    fire("S2", "discharge", just_now, by=pas, destination_code="19")
    # S3: NCTR from 6 days ago, met the criteria again 4 days ago, left today: DRD 6 days ago
    # (final period), 6 days (4-6), not an NCTR discharge.
    admit("S3", at(10))
    fire("S3", "not_meeting_ctr", at(6))
    fire("S3", "meets_ctr_again", at(4))
    fire("S3", "discharge", just_now, by=pas, destination_code="19")
    # S4: in 8 days, NCTR 3 days ago with a reason: the LOS 7+ figures.
    admit("S4", at(8))
    fire("S4", "not_meeting_ctr", at(3))
    fire("S4", "open_delay", at(2), delay_code="capacity-p1-services", support_area="other")
    # S5: NCTR 2 days ago, discharged today by the team: 2 days (2-3), an NCTR discharge.
    admit("S5", at(5))
    fire("S5", "not_meeting_ctr", at(2))
    fire("S5", "discharge", just_now, discharge_pathway="P0", destination_code="19")

    ctx = metrics_context(settings, codes)
    with sessions() as session:
        check = datetime.now(UTC)
        assert (
            check_live_figures(session, site=None, organisation=team.org, now=check, ctx=ctx) == []
        )
        kwargs: dict[str, Any] = {"day": today, "site": None, "organisation": team.org}
        live = live_discharge(session, now=check, ctx=ctx, **kwargs)
        plain = plain_discharge(session, now=check, ctx=ctx, **kwargs)
    for d in (live, plain):
        assert (d["discharged"], d["discharged_nctr"], d["nctr_remaining"]) == (4, 1, 1)
        delays = d["discharge_delays"]
        assert delays["in_cohort"] == 2
        assert delays["outside_cohort"] == {"under_one_night": 1, "no_drd": 1}
        assert {k: n for k, n in delays["buckets"].items() if n} == {"2-3": 1, "4-6": 1}
        assert delays["delayed_bed_days"] == 2 + 6
        assert d["additional_bed_days"] == {
            "7_plus": {"patients": 1, "bed_days": 3},
            "14_plus": {"patients": 0, "bed_days": 0},
            "21_plus": {"patients": 0, "bed_days": 0},
        }
        assert [(r["code"], r["patients"]) for r in d["delay_reasons_los_7_plus"]] == [
            ("capacity-p1-services", 1)
        ]
