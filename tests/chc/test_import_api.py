"""Backlog import over HTTP: three messy lists, merged into one working list, twice."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.models import (
    Case,
    CaseEvent,
    ChcImport,
    ChcImportRejection,
    ChcReconciliationItem,
    ChcSourceRecord,
)
from tests.chc.helpers import SAMPLE_FILES, ChcApi


def _footprint(sessions: sessionmaker[Session], org: str) -> dict[str, int]:
    """Everything an import can write for an organisation."""
    in_org = select(Case.id).where(Case.organisation == org).scalar_subquery()
    queries = {
        "cases": select(func.count()).select_from(Case).where(Case.organisation == org),
        "events": select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id.in_(in_org)),
        "imports": select(func.count()).select_from(ChcImport).where(ChcImport.organisation == org),
        "records": select(func.count())
        .select_from(ChcSourceRecord)
        .where(ChcSourceRecord.organisation == org),
        "items": select(func.count())
        .select_from(ChcReconciliationItem)
        .where(ChcReconciliationItem.organisation == org),
        "rejections": select(func.count())
        .select_from(ChcImportRejection)
        .join(ChcImport, ChcImport.id == ChcImportRejection.import_id)
        .where(ChcImport.organisation == org),
    }
    with sessions() as session:
        return {k: int(session.execute(q).scalar_one()) for k, q in queries.items()}


def _import_all(api: ChcApi) -> list[dict[str, Any]]:
    """Each list's import job, followed until done: the job with its report."""
    return [api.import_list(src, name) for src, name in SAMPLE_FILES]


def _upload_all_again(api: ChcApi) -> list[dict[str, Any]]:
    return [api.upload(src, name, expect=200).json() for src, name in SAMPLE_FILES]


def test_three_lists_merge_into_one_working_list_and_a_second_import_changes_nothing(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    user = make_user("chc_assessor")
    api = ChcApi(client, user.headers)
    ml, ls, sm = _import_all(api)

    assert (ml["source"], ml["encoding"]) == ("MLCSU", "utf-8")
    assert ml["counts"] == {
        "accepted": 8,
        "merged": 1,
        "conflicts": 0,
        "rejected": 4,
        "unchanged": 0,
    }
    assert [(r["row"], r["source_record_id"]) for r in ml["rejected"]] == [
        (10, "ML-0009"),
        (11, "ML-0010"),
        (12, "ML-0011"),
        (13, "ML-0006"),
    ]
    assert ml["rejected"][0]["reasons"] == [
        "NHS number '9991000004' is not valid (10 digits with a Modulus 11 check digit)"
    ]
    assert ml["rejected"][3]["reasons"] == ["record id ML-0006 appears again (first at row 7)"]
    assert ml["blank_rows"] == [14]
    # ML-0008 is the same person as ML-0001 (NHS number written with spaces): linked, not lost.
    merged = ml["merged"][0]
    first = ml["accepted"][0]
    assert (merged["row"], merged["match_rule"], merged["case_id"]) == (
        9,
        "nhs_number",
        first["case_id"],
    )

    assert (ls["source"], ls["encoding"]) == ("LSCFT", "utf-8-sig")
    assert ls["counts"] == {
        "accepted": 3,
        "merged": 1,
        "conflicts": 2,
        "rejected": 3,
        "unchanged": 0,
    }
    assert ls["merged"][0]["filled"] == ["package_end_date"]
    assert [(c["source_record_id"], c["fields"][0]["field"]) for c in ls["conflicts"]] == [
        ("LS-102", "setting"),
        ("LS-105", "fast_track"),
    ]
    assert [r["reasons"] for r in ls["rejected"]] == [
        ["the person was under 18 at referral: children's continuing care is a separate framework"],
        ["NHS number 'ABC' is not valid (10 digits with a Modulus 11 check digit)"],
        ["referral_date 2027-01-01 is in the future"],
    ]

    assert (sm["source"], sm["encoding"]) == ("SEFTON-MBC", "cp1252")
    assert sm["counts"] == {
        "accepted": 1,
        "merged": 2,
        "conflicts": 3,
        "rejected": 2,
        "unchanged": 0,
    }
    by_rule = {m["source_record_id"]: m["match_rule"] for m in sm["merged"]}
    assert by_rule == {"SMBC-9003": "name_dob_postcode", "SMBC-9007": "nhs_number"}
    name_conflict = sm["conflicts"][0]["fields"][0]
    assert name_conflict["field"] == "person_name"
    assert (name_conflict["current"], name_conflict["incoming"]) == (
        "Siobhan O Ceallaigh",
        "Siobhán Ó Ceallaigh",
    )
    # Every row of every file is accounted for: nothing is silently dropped.
    for report, rows in ((ml, 14), (ls, 9), (sm, 8)):
        assert sum(report["counts"].values()) + len(report["blank_rows"]) == rows

    before = _footprint(sessions, user.org)
    # 12 people opened; one update_details per linked row (9). The Fast Track flag of one row is
    # a fact on its open event, not a Fast Track: that needs "an 'appropriate clinician' ... a
    # registered nurse or a registered medical practitioner" (Fast Track Pathway Tool guidance).
    assert before == {
        "cases": 12,
        "events": 12 + 9,
        "imports": 3,
        "records": 21,
        "items": 5,
        "rejections": 9,
    }
    again = _upload_all_again(api)
    assert [r["already_imported"] for r in again] == [True, True, True]
    assert [(r["id"], r["state"]) for r in again] == [(r["id"], "done") for r in (ml, ls, sm)]
    assert [r["counts"] for r in again] == [ml["counts"], ls["counts"], sm["counts"]]
    assert _footprint(sessions, user.org) == before

    # One working list: 12 people, each once.
    queue = api.queue()
    # ML-0004's Fast Track flag is kept and rated red, but the case is not on Fast Track: the
    # Fast Track needs the appropriate clinician and their registration.
    [flagged] = [i for i in queue["items"] if i["person_name"] == "Irene Gallagher"]
    assert (flagged["state"], flagged["rag"]) == ("referred", "red")
    assert "fast_track_flagged_on_a_list" in [r["rule_id"] for r in flagged["reasons"]]
    assert queue["count"] == 12
    assert len({i["case_id"] for i in queue["items"]}) == 12
    assert {i["cohort"] for i in queue["items"]} == {"covid_period", "restoration"}


def test_provenance_and_reconciliation(client: TestClient, make_user) -> None:
    user = make_user("chc_assessor")
    api = ChcApi(client, user.headers)
    _import_all(api)
    items = client.get("/api/v1/reconciliation/chc", headers=user.headers).json()["items"]
    assert [
        (i["field"], i["current_value"], i["incoming_value"], i["source_list"]) for i in items
    ] == [
        ("setting", "acute", "community", "LSCFT"),
        ("fast_track", "yes", "no", "LSCFT"),
        ("person_name", "Siobhan O Ceallaigh", "Siobhán Ó Ceallaigh", "SEFTON-MBC"),
        ("date_of_birth", "1936-06-12", "1936-07-12", "SEFTON-MBC"),
        ("referral_date", "2020-09-25", "2020-09-20", "SEFTON-MBC"),
    ]
    name_item, dob_item, referral_item = items[2], items[3], items[4]

    case = api.chc_case(name_item["case_id"])
    assert [
        (p["source_list"], p["source_record_id"], p["match_rule"]) for p in case["provenance"]
    ] == [
        ("LSCFT", "LS-107", "new_case"),
        ("SEFTON-MBC", "SMBC-9001", "nhs_number"),
    ]
    assert case["provenance"][1]["values"]["person_name"] == "Siobhán Ó Ceallaigh"
    events_before = len(api.history(name_item["case_id"]))

    # Taking the list's value is one engine event on the case; keeping ours writes no event.
    r = api.post(
        f"/reconciliation/chc/{name_item['id']}/resolve",
        resolution="use_incoming",
        note="Sefton MBC spelling confirmed with the family",
    )
    assert r.json()["status"] == "resolved"
    assert r.json()["resolution"] == "use_incoming"
    assert r.json()["resolved_by"] == user.actor.username
    history = api.history(name_item["case_id"])
    assert len(history) == events_before + 1
    assert history[-1]["event"] == "update_details"
    assert history[-1]["data"] == {
        "person_name": "Siobhán Ó Ceallaigh",
        "source_list": "SEFTON-MBC",
        "source_record_id": "SMBC-9001",
    }
    assert api.chc_case(name_item["case_id"])["attributes"]["person_name"] == "Siobhán Ó Ceallaigh"

    dob_events = len(api.history(dob_item["case_id"]))
    api.post(f"/reconciliation/chc/{dob_item['id']}/resolve", resolution="keep_current")
    assert len(api.history(dob_item["case_id"])) == dob_events

    # The earlier referral date from Sefton MBC now counts for waiting time.
    api.post(f"/reconciliation/chc/{referral_item['id']}/resolve", resolution="use_incoming")
    item = api.chc_case(referral_item["case_id"])["work_item"]
    assert item["referral_date"] == "2020-09-20"

    again = api.post(
        f"/reconciliation/chc/{dob_item['id']}/resolve", expect=409, resolution="use_incoming"
    )
    assert again.json()["code"] == "already_resolved"
    open_now = client.get("/api/v1/reconciliation/chc", headers=user.headers).json()
    assert [i["field"] for i in open_now["items"]] == ["setting", "fast_track"]


def test_bad_files_and_requests_are_4xx_and_write_nothing(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    user = make_user("chc_assessor")
    api = ChcApi(client, user.headers)
    r = api.upload("MLCSU", "x.csv", b"Name,Postcode\nA,L20 3AB\n", expect=422)
    body = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert body["code"] == "import_file_invalid"
    assert body["missing_columns"] == [
        "source_record_id",
        "referral_date",
        "nhs_number (or person_name, date_of_birth and postcode)",
    ]
    r = api.upload("MLCSU", "x.csv", "\ufeffID".encode("utf-16"), expect=422)
    assert r.json()["code"] == "import_file_invalid"
    r = api.upload("ML/CSU!", "mlcsu.csv", expect=422)
    assert r.json()["errors"] == [{"field": "source", "problem": "not a valid source list name"}]
    r = client.post("/api/v1/imports/chc-backlog", data={"source": "MLCSU"}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_failed"
    assert _footprint(sessions, user.org)["imports"] == 0

    manager = ChcApi(client, make_user("manager", org=user.org).headers)
    r = manager.upload("MLCSU", "mlcsu.csv", expect=403)
    assert r.json()["code"] == "forbidden"
    r = client.post(
        "/api/v1/imports/chc-backlog",
        data={"source": "MLCSU"},
        files={"file": ("m.csv", b"x", "text/csv")},
    )
    assert r.status_code == 401


def test_imports_are_listed_per_organisation(client: TestClient, make_user) -> None:
    user = make_user("chc_assessor")
    api = ChcApi(client, user.headers)
    first = api.import_list("MLCSU", "mlcsu.csv")
    listed = client.get("/api/v1/imports/chc-backlog", headers=user.headers).json()
    assert [(i["id"], i["source"], i["state"], i["accepted"], i["rejected"]) for i in listed] == [
        (first["import_id"], "MLCSU", "done", 8, 4)
    ]
    report = client.get(f"/api/v1/imports/chc-backlog/{first['import_id']}", headers=user.headers)
    assert report.json()["counts"] == first["counts"]
    other = make_user("chc_assessor")
    assert client.get("/api/v1/imports/chc-backlog", headers=other.headers).json() == []
    r = client.get(f"/api/v1/imports/chc-backlog/{first['import_id']}", headers=other.headers)
    assert r.status_code == 404


def test_the_services_own_runner_finishes_a_job(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    """The upload answers at once; the runner the service starts (woken by the upload) places
    the rows; the job resource shows the outcome."""
    user = make_user("chc_assessor")
    api = ChcApi(client, user.headers)
    r = api.upload("LSCFT", "lscft.csv", expect=202)
    assert (r.headers["retry-after"], r.json()["state"]) == ("1", "queued")
    assert r.json()["progress"] == {"rows_read": 0, "rows_total": 9}
    done = api.wait_for_import(r.headers["location"])
    assert (done["state"], done["progress"]["rows_read"]) == ("done", 9)
    assert done["counts"] == {
        "accepted": 6,
        "merged": 0,
        "conflicts": 0,
        "rejected": 3,
        "unchanged": 0,
    }
    assert _footprint(sessions, user.org)["cases"] == 6


def test_taking_a_lists_fast_track_flag_flags_the_case_without_a_fast_track(
    client: TestClient, make_user
) -> None:
    """A list's flag is not a completed Fast Track Pathway Tool, which needs "an 'appropriate
    clinician' ... a registered nurse or a registered medical practitioner": taking it from the
    reconciliation queue records the flag (rated red), and the case stays where it is."""
    user = make_user("chc_assessor")
    api = ChcApi(client, user.headers)
    head = (
        "MLCSU Ref,NHS Number,Name,Date of Birth,Postcode,Referral Date,Discharge Date,Setting,"
        "NHS Funded Package,Package End,Fast Track,Safeguarding\n"
    )
    person = "9991000003,Margaret Ainsworth,11/02/1934,L20 3AB,10/09/2020,15/04/2020,Community,Y,-"
    api.import_list("MLCSU", "first.csv", (head + f"R1,{person},N,N\n").encode())
    second = api.import_list("MLCSU", "second.csv", (head + f"R2,{person},Y,N\n").encode())
    [conflict] = second["conflicts"]
    [field] = conflict["fields"]
    assert (field["field"], field["current"], field["incoming"]) == ("fast_track", "no", "yes")
    api.post(f"/reconciliation/chc/{field['item_id']}/resolve", resolution="use_incoming")
    case = api.chc_case(conflict["case_id"])
    assert case["state"] == "referred"
    assert case["attributes"]["fast_track_flagged"] is True
    assert "fast_track" not in case["attributes"]
    rules = [r["rule_id"] for r in case["work_item"]["reasons"]]
    assert "fast_track_flagged_on_a_list" in rules
    assert api.history(conflict["case_id"])[-1]["event"] == "update_details"
    # A later list without the flag: taking its value clears the flag (no Fast Track to undo).
    third = api.import_list("MLCSU", "third.csv", (head + f"R3,{person},N,N\n").encode())
    [field] = third["conflicts"][0]["fields"]
    assert (field["field"], field["current"], field["incoming"]) == ("fast_track", "yes", "no")
    api.post(f"/reconciliation/chc/{field['item_id']}/resolve", resolution="use_incoming")
    case = api.chc_case(conflict["case_id"])
    assert case["attributes"]["fast_track_flagged"] is False
    rules = [r["rule_id"] for r in case["work_item"]["reasons"]]
    assert "fast_track_flagged_on_a_list" not in rules
