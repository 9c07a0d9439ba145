"""`/chc/imports` and `/chc/reconciliation`: upload a backlog list through the page (the API's
import job), follow it, read its report, and settle the values two lists disagree on."""

from __future__ import annotations

import re
import time

from fastapi.testclient import TestClient

from tests.chc.helpers import SAMPLES, ChcApi
from tests.web.chc_helpers import banner, error_summary, signed_in


def _upload(b: TestClient, source: str, name: str, content: bytes | None = None) -> object:
    data = content if content is not None else (SAMPLES / name).read_bytes()
    return b.post(
        "/chc/imports",
        data={"source": source},
        files={"file": (name, data, "text/csv")},
        follow_redirects=False,
    )


def _wait_done(b: TestClient, location: str) -> str:
    """Reload the import's page, as a person would, until it has finished."""
    deadline = time.monotonic() + 60
    while True:
        page = b.get(location)
        assert page.status_code == 200
        if "data-chc-poll" not in page.text:
            return page.text
        assert time.monotonic() < deadline, "the import did not finish"
        time.sleep(0.1)


def test_upload_follow_and_read_the_report(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    b = signed_in(client, jo)
    assert 'enctype="multipart/form-data"' in b.get("/chc/imports").text

    r = _upload(b, "MLCSU", "mlcsu.csv")
    assert r.status_code == 303
    import_id = int(re.fullmatch(r"/chc/imports/(\d+)\?done=queued", r.headers["location"])[1])
    assert banner(b.get(r.headers["location"])) == "Success The list is being imported."
    page = _wait_done(b, r.headers["location"])
    job = client.get(f"/api/v1/imports/chc-backlog/{import_id}", headers=jo.headers).json()
    assert job["state"] == "done"
    assert f"{job['rows_total']} of {job['rows_total']} rows read" in page
    for kind in ("accepted", "rejected"):
        assert f"({job['counts'][kind]})" in page
        for entry in job[kind]:
            assert f"Row {entry['row']} ({entry['source_record_id']})" in page
    for reason in job["rejected"][0]["reasons"]:
        assert reason.replace("'", "&#39;") in page
    assert f'href="/chc/cases/{job["accepted"][0]["case_id"]}"' in page
    listing = b.get("/chc/imports").text
    assert f'href="/chc/imports/{import_id}"' in listing

    again = _upload(b, "MLCSU", "mlcsu.csv")
    assert again.headers["location"] == f"/chc/imports/{import_id}?done=again"
    assert len(api.queue(limit=500)["items"]) == job["counts"]["accepted"]


def test_files_that_cannot_be_imported_are_explained(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    b = signed_in(client, jo)
    empty = b.post("/chc/imports", data={"source": ""})
    assert empty.status_code == 422
    assert error_summary(empty) == [
        "Choose the list's CSV file",
        "Enter the source list, for example MLCSU",
    ]
    bad = _upload(b, "MLCSU", "notes.csv", b"just,some\nwords,here\n")
    assert bad.status_code == 422
    api = client.post(
        "/api/v1/imports/chc-backlog",
        files={"file": ("notes.csv", b"just,some\nwords,here\n", "text/csv")},
        data={"source": "MLCSU"},
        headers=jo.headers,
    )
    assert api.status_code == 422
    assert error_summary(bad) == [f"The file cannot be imported: {api.json()['detail']}"]
    assert 'value="MLCSU"' in bad.text  # what was typed is kept
    assert client.get("/api/v1/imports/chc-backlog", headers=jo.headers).json() == []
    control = b.post(
        "/chc/imports",
        data={"source": "ML\x01CSU"},
        files={"file": ("mlcsu.csv", (SAMPLES / "mlcsu.csv").read_bytes(), "text/csv")},
    )
    assert control.status_code == 422
    assert error_summary(control) == ["Source list may not contain the control character U+0001"]


def test_managers_read_imports_but_do_not_upload_and_others_imports_are_not_found(
    client: TestClient, make_user
) -> None:
    jo = make_user("chc_assessor")
    job = ChcApi(client, jo.headers).upload("MLCSU", "mlcsu.csv", expect=202).json()
    manager = signed_in(client, make_user("manager", org=jo.org))
    page = manager.get("/chc/imports")
    assert page.status_code == 200
    assert 'enctype="multipart/form-data"' not in page.text
    assert manager.get(f"/chc/imports/{job['id']}").status_code == 200
    refused = _upload(manager, "LSCFT", "lscft.csv")
    assert refused.status_code == 422
    assert error_summary(refused) == [
        "importing a CHC backlog list needs one of the roles: chc_assessor"
    ]
    stranger = signed_in(client, make_user("chc_assessor"))
    assert stranger.get(f"/chc/imports/{job['id']}").status_code == 404


def test_conflicts_are_resolved_from_the_page(client: TestClient, make_user) -> None:
    jo = make_user("chc_assessor")
    api = ChcApi(client, jo.headers)
    api.import_list("MLCSU", "mlcsu.csv")
    api.import_list("LSCFT", "lscft.csv")
    items = client.get("/api/v1/reconciliation/chc", headers=jo.headers).json()["items"]
    assert items, "the sample lists disagree on some values"
    b = signed_in(client, jo)
    page = b.get("/chc/reconciliation")
    assert f"{len(items)} open conflict" in page.text
    for item in items:
        assert f'id="item-{item["id"]}"' in page.text

    first = items[0]
    unchosen = b.post(f"/chc/reconciliation/{first['id']}/resolve", data={"note": "checked"})
    assert unchosen.status_code == 422
    assert error_summary(unchosen) == ["Choose which value to keep"]
    assert "checked" in unchosen.text

    done = b.post(
        f"/chc/reconciliation/{first['id']}/resolve",
        data={
            "resolution": "use_incoming",
            "note": "GP letter confirms",
            "case_id": str(first["case_id"]),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == (
        f"/chc/reconciliation?done=resolved&item={first['id']}&case_id={first['case_id']}"
    )
    assert banner(b.get(done.headers["location"])) == f"Success Conflict {first['id']} is resolved."
    resolved = client.get(
        "/api/v1/reconciliation/chc", params={"status": "resolved"}, headers=jo.headers
    ).json()["items"]
    assert [(i["id"], i["resolution"], i["resolved_by"]) for i in resolved] == [
        (first["id"], "use_incoming", jo.actor.username)
    ]
    last = api.history(first["case_id"])[-1]  # taking the list's value is a case event
    assert last["event"] in ("update_details", "fast_track")
    assert last["reason"].startswith(f"reconciliation item {first['id']}: {first['field']}")
    assert last["reason"].endswith("(GP letter confirms)")
    again = b.post(
        f"/chc/reconciliation/{first['id']}/resolve", data={"resolution": "keep_current"}
    )
    assert again.status_code == 409
    assert error_summary(again)[0].startswith(
        f"item {first['id']} was resolved by {jo.actor.username}"
    )
    listed = b.get("/chc/reconciliation", params={"status": "resolved"}).text
    assert "GP letter confirms" in listed
