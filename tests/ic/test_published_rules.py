"""Intermediate-care figures against their published definitions (issue #16,
PUBLISHED-RULES rows 34-37), end to end over HTTP on both databases. Each test quotes the
wording it checks; the expected figures are worked out in the comments."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi.testclient import TestClient

from app.auth.actor import Actor
from app.engine.context import EffectContext
from app.ic import rules
from app.models import Case
from app.timeutil import LONDON
from tests.discharge.helpers import NHS, today
from tests.ic.helpers import IC_TEAM, PLAN, Ic, fresh_site, iso, london_at, make_service

EMPTY = {"at_home": 0, "not_at_home": 0, "not_contactable": 0, "died": 0}


def _rate(count: int, met: int, breached: int, pending: int, percent: float | None) -> dict:
    return {
        "count": count,
        "met": met,
        "breached": breached,
        "pending": pending,
        "percent_met": percent,
    }


# -- Row 36: NICE QS173 statement 2 ----------------------------------------------------------------
def test_bed_based_start_within_2_days_is_over_accepted_referrals(
    client: TestClient, make_user
) -> None:
    """NICE QS173 statement 2: "Adults accepted for bed-based intermediate care start the
    service within 2 days of referral." Process measure (a) "from hospital", (b) "from the
    community": "Numerator - the number in the denominator who start the service within 2 days
    of referral. Denominator - the number of adults accepted for bed-based intermediate care".

    The pathway has no acceptance step: a referral is accepted once it enters
    waiting_capacity ("Accepted, waiting for a bed or slot") or the service starts. "2 days" is
    read as calendar days by default (pathways/config/ic.yaml bed_based_start)."""
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    beds = make_service(client, user.headers, site=ic.site, model="bed_based_ic", capacity=10)

    def referral(n: int, at: datetime, *, hospital: bool) -> int:
        direction, referrer = ("step_down", "hospital") if hospital else ("step_up", "gp")
        cid = int(ic.refer(NHS[n], at=at, direction=direction, referrer=referrer)["id"])
        ic.fire(cid, "triage", at=at, priority="high", planned_model="bed_based_ic")
        return cid

    # A, from hospital: referred at 23:00, accepted (waiting for a bed), started at 23:30 two
    # dates later. 48.5 hours, so the old 48-hour reading called it late; by date it is met.
    a = referral(0, london_at(10, 23), hospital=True)
    ic.fire(a, "await_capacity", at=london_at(10, 23, 30))
    ic.fire(a, "start_bed_based_ic", at=london_at(8, 23, 30), service_id=beds["id"])
    # B: triaged, then found not appropriate: never accepted, so not in the denominator.
    b = referral(1, london_at(9, 10), hospital=False)
    ic.fire(b, "cancel", at=london_at(9, 12), cancel_reason="not_appropriate")
    # C: accepted, then the person declined before a bed was free: in the denominator, not met
    # (the old rule dropped every referral closed before the start).
    c = referral(2, london_at(9, 10), hospital=False)
    ic.fire(c, "await_capacity", at=london_at(9, 11))
    ic.fire(c, "cancel", at=london_at(9, 15), cancel_reason="declined_by_person")
    # D: triaged 9 days ago and not yet accepted: not in the denominator (the old rule counted
    # it as late).
    referral(3, london_at(9, 10), hospital=False)
    # E: accepted yesterday and still waiting: pending until the end of tomorrow.
    e = referral(4, london_at(1, 9), hospital=False)
    ic.fire(e, "await_capacity", at=london_at(1, 10))
    # F, from hospital: accepted by starting the next day, straight from triage.
    f = referral(5, london_at(7, 14), hospital=True)
    ic.fire(f, "start_bed_based_ic", at=london_at(6, 9), service_id=beds["id"])

    starts = ic.get("/report", site=ic.site, date_from=str(today() - timedelta(days=10)))[
        "start_within_2_days"
    ]
    assert starts["counting"] == "calendar_days"
    # Denominator A, C, E, F; met A and F; C not met; E pending: 2 of 3 decided.
    assert starts["bed_based"] == _rate(4, 2, 1, 1, 66.7)
    assert starts["bed_based_from_hospital"] == _rate(2, 2, 0, 0, 100.0)  # A, F
    assert starts["bed_based_from_community"] == _rate(2, 0, 1, 1, 0.0)  # C, E
    assert (
        starts["bed_based_accepted_closed_before_start"],
        starts["bed_based_not_accepted"],
        starts["bed_based_awaiting_acceptance"],
    ) == (1, 1, 1)  # C; B; D
    assert starts["closed_before_start"] == 2  # the local all-models figure leaves out B and C


# -- Row 37: ASCOF 2B -----------------------------------------------------------------------------
def _london(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LONDON).astimezone(UTC)


def test_ascof_2b_still_at_home_for_the_october_december_cohort(
    client: TestClient, make_user
) -> None:
    """ASCOF 2B: "the proportion of older people aged [65] and over discharged from hospital
    to their own home or to a residential or nursing care home or extra care housing for
    rehabilitation ... who are at home or in extra care housing or an adult placement scheme
    setting 91 days after the date of their discharge from hospital. Those who are in hospital
    or in a registered care home ... at the three month date and those who have died within the
    three months are not reported in the numerator." Cohort: "clients are aged 65 or over at
    the date of discharge"; hospital discharges 1 Oct - 31 Dec."""
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    services = {
        model: make_service(client, user.headers, site=ic.site, model=model, capacity=20)
        for model in ("reablement", "home_based_ic", "bed_based_ic")
    }
    # The latest October-December whose 91-day dates have all passed (31 Dec + 91 days is
    # 1 April, or 31 March after a 29 February).
    year = today().year - 1 if today() >= date(today().year, 4, 1) else today().year - 2

    def episode(
        n: int,
        discharged: datetime,
        model: str,
        *,
        born: date | None,
        outcome: str = "independent",
        ended_after_days: int = 20,
        result: str | None = None,
    ) -> int:
        data: dict[str, Any] = {"hospital_discharge_at": iso(discharged)}
        if born is not None:
            data["date_of_birth"] = born.isoformat()
        cid = int(
            ic.refer(NHS[n], at=discharged, direction="step_down", referrer="hospital", **data)[
                "id"
            ]
        )
        ic.fire(
            cid, "triage", at=discharged + timedelta(hours=1), priority="high", planned_model=model
        )
        started = discharged + timedelta(hours=2)
        ic.fire(cid, f"start_{model}", at=started, service_id=services[model]["id"])
        ended = discharged + timedelta(days=ended_after_days)
        if outcome != "died":
            ic.fire(cid, "record_transition_plan", at=ended - timedelta(days=1), **PLAN)
        ic.fire(cid, "end_episode", at=ended, outcome=outcome)
        if result is not None:
            due = discharged.astimezone(LONDON).date() + timedelta(days=91)
            ic.fire(cid, "record_still_at_home", at=_london(due, 11), still_at_home_91d=result)
        return cid

    oct_15, nov_5 = date(year, 10, 15), date(year, 11, 5)
    # In the cohort (aged 65+ on the day of discharge, a date of birth held):
    # 1 reablement, at home at 91 days: numerator.
    episode(0, _london(oct_15, 10), "reablement", born=date(1940, 5, 1), result="at_home")
    # 2 home-based IC (rehabilitation) on the last day of the window: numerator. The old rule
    #   followed up reablement only.
    episode(
        1,
        _london(date(year, 12, 31), 15),
        "home_based_ic",
        born=date(1950, 1, 1),
        result="at_home",
    )
    # 3 bed-based rehabilitation only: numerator (also left out by the old rule).
    episode(2, _london(nov_5, 10), "bed_based_ic", born=date(1945, 3, 3), result="at_home")
    # 4 died at day 40, during the episode: no call is owed, but the death stays in the
    #   denominator (the old rule dropped it).
    died = episode(
        3,
        _london(date(year, 10, 20), 10),
        "reablement",
        born=date(1938, 7, 7),
        outcome="died",
        ended_after_days=40,
    )
    ic.fire(died, "close", at=_london(date(year, 10, 20), 10) + timedelta(days=41))
    # 5 in a care home at day 91: denominator only.
    episode(
        4,
        _london(date(year, 11, 20), 10),
        "reablement",
        born=date(1942, 2, 2),
        outcome="ongoing_package",
        result="not_at_home",
    )
    # 6 turned 65 on the day of discharge; could not be contacted: denominator only.
    episode(
        5,
        _london(date(year, 12, 1), 10),
        "reablement",
        born=date(year - 65, 12, 1),
        result="not_contactable",
    )
    # 7 follow-up not recorded yet: in the cohort, awaiting its result, in neither count.
    episode(6, _london(date(year, 11, 15), 10), "reablement", born=date(1939, 9, 9))
    # Left out of the 65+ figure, and counted as such:
    # 8 aged 60 at discharge.
    episode(7, _london(date(year, 10, 25), 10), "reablement", born=date(year - 60, 6, 1))
    # 9 no date of birth held.
    episode(8, _london(date(year, 11, 10), 10), "reablement", born=None, result="at_home")
    # Outside the window, in no count: 30 September at 23:30 and 1 January at 00:30 (London).
    episode(9, _london(date(year, 9, 30), 23, 30), "reablement", born=date(1940, 1, 1))
    episode(9, _london(date(year + 1, 1, 1), 0, 30), "reablement", born=date(1940, 1, 1))
    # Crisis response alone is not rehabilitation: not in the cohort at all.
    crisis = make_service(client, user.headers, site=ic.site, model="crisis_response", capacity=5)
    c = int(
        ic.refer(
            NHS[0],
            at=_london(nov_5, 9),
            direction="step_down",
            referrer="hospital",
            hospital_discharge_at=iso(_london(nov_5, 9)),
            date_of_birth="1940-01-01",
        )["id"]
    )
    ic.fire(c, "start_crisis_response", at=_london(nov_5, 10), service_id=crisis["id"])

    report = ic.get("/report", site=ic.site, cohort_year=year)
    ascof = report["ascof_2b_still_at_home_91_days"]
    # Cohort: 1-7 = 7. Results known for 6 (1-6): at home 1, 2, 3 = 3 of 6 = 50.0%.
    assert ascof == {
        "measure": (
            "ASCOF 2B: people aged 65 and over discharged from hospital into reablement or "
            "rehabilitation who are still at home 91 days after discharge"
        ),
        "discharged_from": f"{year}-10-01",
        "discharged_to": f"{year}-12-31",
        "minimum_age": 65,
        "cohort": 7,
        "results": {"at_home": 3, "not_at_home": 1, "not_contactable": 1, "died": 1},
        "awaiting_result": 1,
        "percent_at_home": 50.0,
        "complete": False,
        "excluded_under_minimum_age": 1,  # 8
        "excluded_no_date_of_birth": 1,  # 9
    }
    # The default cohort is the same year (its 91-day dates have all passed).
    assert ic.get("/report", site=ic.site)["ascof_2b_still_at_home_91_days"] == ascof
    # The previous year's cohort is empty here.
    before = ic.get("/report", site=ic.site, cohort_year=year - 1)
    assert before["ascof_2b_still_at_home_91_days"]["cohort"] == 0
    # The local rolling figure is by 91-day date: episode 1's (14 January) only, every age.
    jan_14 = oct_15 + timedelta(days=91)
    local = ic.get("/report", site=ic.site, date_from=str(jan_14), date_to=str(jan_14))[
        "local_still_at_home_91_days"
    ]
    assert (local["cohort"], local["results"], local["percent_at_home"]) == (
        1,
        {**EMPTY, "at_home": 1},
        100.0,
    )
    bad = ic.get("/report", expect=422, cohort_year=1066)
    assert bad["code"] == "validation_failed"


# -- Date of birth: optional, never in the future, carried to linked episodes -------------------
def test_date_of_birth_is_optional_checked_and_carried_to_a_re_referral(
    client: TestClient, make_user
) -> None:
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    home = make_service(client, user.headers, site=ic.site, model="home_based_ic", capacity=3)
    tomorrow = str(today() + timedelta(days=1))
    refused = ic.refer(NHS[0], date_of_birth=tomorrow, expect=422)
    assert refused["errors"] == [
        {"field": "date_of_birth", "problem": f"must not be after the event's date ({today()})"}
    ]
    cid = int(ic.refer(NHS[0])["id"])  # none held: still a valid referral
    ic.fire(cid, "update_details", date_of_birth="1941-04-30")
    ic.fire(cid, "triage", priority="routine", planned_model="home_based_ic")
    ic.fire(cid, "start_home_based_ic", service_id=home["id"])
    ic.fire(cid, "record_transition_plan", **PLAN)
    ic.fire(cid, "end_episode", outcome="independent")
    ic.fire(cid, "re_refer", re_referrer="self_referral")
    linked = [k["case_id"] for k in ic.case(cid)["links"]]
    assert [ic.case(k)["attributes"].get("date_of_birth") for k in linked] == ["1941-04-30"]


class _Ports:
    def __init__(self) -> None:
        self.opened: list[dict[str, Any]] = []

    def set_attributes(self, case_id: int, values: dict[str, Any]) -> None:
        raise AssertionError(f"not expected: case {case_id} {values}")

    def open_linked_case(self, case_id: int, **kwargs: Any) -> int:
        assert case_id == 1
        self.opened.append(kwargs["data"])
        return 2


def _discharge(attributes: dict[str, Any], ports: _Ports) -> EffectContext:
    return EffectContext(
        case_id=1,
        pathway_key="discharge",
        trigger="discharge",
        from_state="ready",
        to_state="discharged",
        attributes=attributes,
        data={"discharge_pathway": "P1"},
        actor=Actor(
            user_id=1, username="d", organisation="ORG", roles=frozenset({"discharge_team"})
        ),
        occurred_at=datetime(2026, 11, 2, 10, tzinfo=UTC),
        ports=ports,
    )


def test_a_step_down_episode_takes_the_discharge_cases_date_of_birth() -> None:
    """The discharge pathway's `date_of_birth` (when it holds one) goes onto the step-down
    episode it opens, so the person can be placed in ASCOF 2B's 65+ cohort."""
    ports = _Ports()
    rules.open_step_down_ic_episode(_discharge({"date_of_birth": "1950-06-30"}, ports))
    rules.open_step_down_ic_episode(_discharge({}, ports))
    assert [d.get("date_of_birth") for d in ports.opened] == ["1950-06-30", None]
    assert ports.opened[0]["hospital_discharge_at"] == "2026-11-02T10:00:00+00:00"


# -- Row 35: UCR condition labels on the screens and in the API ----------------------------------
def _signed_in(client: TestClient, token: str) -> TestClient:
    browser = TestClient(client.app)
    browser.headers["Origin"] = "http://testserver"
    r = browser.post("/sign-in/token", data={"token": token}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return browser


def test_ucr_conditions_are_shown_with_their_labels(client: TestClient, make_user) -> None:
    """PUBLISHED-RULES row 35 (U12), verbatim from NHS England's 2022 guidance as reproduced:
    "Reduced function/ deconditioning/reduced mobility"; urgent catheter care is known by topic
    only, so its label says the wording is not confirmed."""
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    crisis = make_service(client, user.headers, site=ic.site, model="crisis_response", capacity=4)
    waiting = int(ic.refer(NHS[0])["id"])
    ic.fire(waiting, "flag_urgent_response", ucr_condition="reduced_function")
    ic.fire(waiting, "triage", priority="urgent", planned_model="crisis_response")
    ic.fire(waiting, "await_capacity")
    started = int(ic.refer(NHS[1])["id"])
    ic.fire(started, "flag_urgent_response", ucr_condition="urgent_catheter_care")
    ic.fire(started, "start_crisis_response", service_id=crisis["id"])

    listed = ic.get("/waiting-list", site=ic.site)["items"]
    assert [(r["case_id"], r["ucr_condition"]) for r in listed] == [
        (
            waiting,
            {
                "code": "reduced_function",
                "label": "Reduced function/ deconditioning/reduced mobility",
                "verbatim": True,
            },
        )
    ]
    occupants = ic.get(f"/services/{crisis['id']}/occupancy")["occupants"]
    assert [(o["case_id"], o["ucr_condition"]) for o in occupants] == [
        (
            started,
            {"code": "urgent_catheter_care", "label": "Urgent catheter care", "verbatim": False},
        )
    ]
    # The stored value stays HomeFirst's id; the pathway API carries the labels.
    assert ic.case(waiting)["attributes"]["ucr_condition"] == "reduced_function"
    pathway = client.get("/api/v1/pathways/intermediate_care", headers=user.headers).json()
    field = pathway["definition"]["fields"]["ucr_condition"]
    assert field["labels"]["end_of_life_crisis"] == "Palliative/end-of- life crisis support"

    browser = _signed_in(client, user.token)
    board = browser.get("/ic/board").text
    assert "Reduced function/ deconditioning/reduced mobility" in board
    assert "Urgent catheter care (wording not confirmed)" in board
    page = browser.get(f"/tracker/cases/{waiting}").text
    assert "Reduced function/ deconditioning/reduced mobility" in page
    # The form for a new 2-hour referral offers the labels, with HomeFirst's ids as the values.
    fresh = int(ic.refer(NHS[2])["id"])
    form = browser.get(f"/tracker/cases/{fresh}").text
    assert re.search(r'value="frailty_decompensation"[^>]*>\s*Decompensation of frailty\s*<', form)


# -- An episode opened on version 1 carries on under version 1 -----------------------------------
def test_an_episode_on_version_1_still_works(client: TestClient, make_user, sessions) -> None:
    user = make_user(*IC_TEAM, "manager")
    ic = Ic(client, user.headers, fresh_site())
    home = make_service(client, user.headers, site=ic.site, model="home_based_ic", capacity=3)
    cid = int(ic.refer(NHS[0], direction="step_down", referrer="hospital")["id"])
    with sessions() as session:  # as if opened before version 2 was published
        stored = session.get(Case, cid)
        assert stored is not None
        stored.workflow_version = 1
        session.commit()
    assert ic.case(cid)["workflow_version"] == 1
    # Version 1 has no date of birth...
    refused = ic.fire(cid, "update_details", date_of_birth="1940-01-01", expect=422)
    assert refused["errors"] == [
        {"field": "date_of_birth", "problem": "not accepted by this event"}
    ]
    # ...but walks as before; the follow-up rule (a reporting rule, in configuration) is today's:
    # home-based IC is rehabilitation, so the follow-up is owed.
    ic.fire(cid, "triage", priority="routine", planned_model="home_based_ic")
    ic.fire(cid, "start_home_based_ic", service_id=home["id"])
    ic.fire(cid, "record_transition_plan", **PLAN)
    ic.fire(cid, "end_episode", outcome="independent")
    assert [r["case_id"] for r in ic.get("/follow-ups", site=ic.site)["items"]] == [cid]
