"""IC clocks: the 6-week episode clock unbroken by a move between models, the 2-hour urgent
response in service hours (met, breached, an evening referral) and the 2-day start (met and
breached), swept with `now` passed in."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from app.clocks.repository import ClockRepository
from app.clocks.sweeper import sweep
from tests.discharge.helpers import NHS
from tests.ic.helpers import IC_TEAM, Ic, fresh_site, london_at, make_service

MINUTE = timedelta(minutes=1)


def _evidence(sessions, case_id: int, name: str) -> list[tuple[str, datetime]]:
    with sessions() as session:
        repo = ClockRepository(session)
        ids = {c.id for c in repo.for_case(case_id) if c.name == name}
        return [(e.kind, e.at) for e in repo.evidence_for_case(case_id) if e.clock_id in ids]


def _clock_rows(sessions, case_id: int, name: str) -> list[tuple[int, int, str]]:
    with sessions() as session:
        rows = ClockRepository(session).for_case(case_id)
        return [(c.id, c.cycle, c.state) for c in rows if c.name == name]


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def test_a_move_from_crisis_response_to_reablement_keeps_the_6_week_clock(
    client: TestClient, sessions, make_user
) -> None:
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    crisis = make_service(client, user.headers, site=ic.site, model="crisis_response", capacity=5)
    team_a = make_service(client, user.headers, site=ic.site, model="reablement", capacity=5)
    team_b = make_service(client, user.headers, site=ic.site, model="reablement", capacity=5)
    cid = int(ic.refer(NHS[0], at=london_at(10, 9))["id"])
    started_at = london_at(10, 10)
    ic.fire(cid, "start_crisis_response", at=started_at, service_id=crisis["id"])
    before = ic.clocks(cid, "episode_6_weeks")
    rows_before = _clock_rows(sessions, cid, "episode_6_weeks")
    assert [(c["cycle"], c["state"], _at(c["started_at"]), _at(c["due_at"])) for c in before] == [
        (1, "running", started_at, started_at + timedelta(days=42))
    ]
    moved = ic.fire(
        cid,
        "move_to_reablement",
        at=london_at(9, 10),
        service_id=team_a["id"],
        move_reason="Crisis over; needs help to regain daily living skills",
    )
    assert (moved["event"]["from_state"], moved["event"]["to_state"]) == ("active", "active")
    attrs = moved["case"]["attributes"]
    assert {k: attrs[k] for k in ("model", "first_model", "models_used", "model_moves")} == {
        "model": "reablement",
        "first_model": "crisis_response",
        "models_used": ["crisis_response", "reablement"],
        "model_moves": 1,
    }
    assert attrs["service_id"] == team_a["id"]
    assert ic.clocks(cid, "episode_6_weeks") == before  # same cycle, start and due date
    assert _clock_rows(sessions, cid, "episode_6_weeks") == rows_before  # the same row
    crisis_clock = ic.clocks(cid, "crisis_48_hours")
    assert [(c["cycle"], c["state"], c["overdue"]) for c in crisis_clock] == [(1, "stopped", False)]
    assert crisis_clock[0]["consumed_seconds"] == (london_at(9, 10) - started_at).total_seconds()
    again = ic.fire(cid, "move_to_reablement", service_id=team_b["id"], move_reason="x", expect=409)
    assert again["reasons"] == [
        "The person is already in reablement; use change_service to move them to another "
        "team or unit of the same model."
    ]
    changed = ic.fire(cid, "change_service", service_id=team_b["id"], move_reason="Nearer home")
    assert (
        changed["case"]["attributes"]["service_changes"],
        changed["case"]["attributes"]["model"],
    ) == (
        1,
        "reablement",
    )
    assert ic.clocks(cid, "episode_6_weeks") == before
    assert _evidence(sessions, cid, "episode_6_weeks") == [("started", started_at)]


def _urgent(ic: Ic, nhs: str, at: datetime) -> int:
    cid = int(ic.refer(nhs, at=at)["id"])
    ic.fire(cid, "flag_urgent_response", at=at, ucr_condition="fall_without_serious_injury")
    return cid


def test_two_hour_response_met_and_breached(client: TestClient, sessions, make_user) -> None:
    ic = Ic(client, make_user(*IC_TEAM).headers, fresh_site())
    referral = london_at(3, 10)
    met, breached = _urgent(ic, NHS[1], referral), _urgent(ic, NHS[2], referral)
    clock = ic.clocks(met, "ucr_2_hour")[0]
    assert (_at(clock["due_at"]), _at(clock["warn_at"])) == (
        referral + timedelta(hours=2),
        referral + timedelta(minutes=90),
    )
    sweep(sessions, now=referral + timedelta(minutes=80))
    assert _evidence(sessions, met, "ucr_2_hour") == [("started", referral)]
    ic.fire(met, "record_first_contact", at=referral + timedelta(minutes=105))
    done = ic.clocks(met, "ucr_2_hour")[0]
    assert (done["state"], done["consumed_seconds"], done["overdue"]) == ("stopped", 6300.0, False)
    sweep(sessions, now=referral + timedelta(hours=2) + MINUTE)
    assert _evidence(sessions, met, "ucr_2_hour") == [
        ("started", referral),
        ("stopped", referral + timedelta(minutes=105)),
    ]
    assert _evidence(sessions, breached, "ucr_2_hour") == [
        ("started", referral),
        ("warning", referral + timedelta(minutes=90)),
        ("breach", referral + timedelta(hours=2)),
    ]
    ic.fire(breached, "record_first_contact", at=referral + timedelta(minutes=150))
    late = ic.clocks(breached, "ucr_2_hour")[0]
    assert (late["state"], late["overdue"], _at(late["breached_at"])) == (
        "stopped",
        True,
        referral + timedelta(hours=2),
    )
    report = ic.get("/report", site=ic.site)["ucr_2_hour"]
    assert report == {
        "within_2_hours": {
            "count": 2,
            "met": 1,
            "breached": 1,
            "pending": 0,
            "percent_met": 50.0,
        },
        "closed_before_contact": 0,
        "standard_percent": 70.0,
        "meets_standard": False,
    }


def test_an_evening_referral_is_due_next_morning_in_service_hours(
    client: TestClient, sessions, make_user
) -> None:
    ic = Ic(client, make_user(*IC_TEAM).headers, fresh_site())
    referral = london_at(3, 19, 30)
    late, on_time = _urgent(ic, NHS[3], referral), _urgent(ic, NHS[4], referral)
    clock = ic.clocks(late, "ucr_2_hour")[0]
    # 30 minutes before 8pm, the other 90 from 8am: due at 09:30, warned at 09:00.
    assert (_at(clock["due_at"]), _at(clock["warn_at"])) == (london_at(2, 9, 30), london_at(2, 9))
    sweep(sessions, now=london_at(3, 23, 30))
    assert _evidence(sessions, late, "ucr_2_hour") == [("started", referral)]
    ic.fire(on_time, "record_first_contact", at=london_at(2, 8, 45))
    seen = ic.clocks(on_time, "ucr_2_hour")[0]
    assert (seen["consumed_seconds"], seen["overdue"]) == (75 * 60.0, False)
    sweep(sessions, now=london_at(2, 9, 29))
    assert _evidence(sessions, late, "ucr_2_hour") == [
        ("started", referral),
        ("warning", london_at(2, 9)),
    ]
    sweep(sessions, now=london_at(2, 9, 31))
    assert _evidence(sessions, late, "ucr_2_hour")[-1] == ("breach", london_at(2, 9, 30))
    assert ic.clocks(late, "ucr_2_hour")[0]["overdue"] is True


def test_bed_based_start_within_2_days_met_and_breached(
    client: TestClient, sessions, make_user
) -> None:
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    beds = make_service(client, user.headers, site=ic.site, model="bed_based_ic", capacity=4)
    referral = london_at(6, 10)
    quick = int(ic.refer(NHS[5], at=referral, direction="step_down", referrer="hospital")["id"])
    slow = int(ic.refer(NHS[6], at=referral)["id"])
    for cid in (quick, slow):
        ic.fire(cid, "triage", at=london_at(6, 11), priority="high", planned_model="bed_based_ic")
    ic.fire(quick, "start_bed_based_ic", at=london_at(5, 10), service_id=beds["id"])
    met = ic.clocks(quick, "start_within_2_days")[0]
    assert (met["state"], met["consumed_seconds"], met["overdue"]) == (
        "stopped",
        (london_at(5, 10) - referral).total_seconds(),
        False,
    )
    ic.fire(slow, "await_capacity", at=london_at(6, 12))
    sweep(sessions, now=referral + timedelta(days=2) - MINUTE)
    assert _evidence(sessions, slow, "start_within_2_days") == [
        ("started", referral),
        ("warning", referral + timedelta(days=1)),
    ]
    sweep(sessions, now=referral + timedelta(days=2) + MINUTE)
    assert _evidence(sessions, slow, "start_within_2_days")[-1] == (
        "breach",
        referral + timedelta(days=2),
    )
    ic.fire(slow, "start_bed_based_ic", at=london_at(3, 10), service_id=beds["id"])
    late = ic.clocks(slow, "start_within_2_days")[0]
    assert (late["state"], late["overdue"]) == ("stopped", True)
    starts = ic.get("/report", site=ic.site)["start_within_2_days"]
    assert (starts["bed_based"]["met"], starts["bed_based"]["breached"]) == (1, 1)
    assert starts["bed_based"]["percent_met"] == 50.0
    assert starts["bed_based_from_hospital"]["percent_met"] == 100.0
    assert starts["bed_based_from_community"]["percent_met"] == 0.0
