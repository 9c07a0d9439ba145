"""Input limits: body size, string lengths, page sizes, identifiers; errors that leak nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from app.cases import service as case_service
from app.config import Settings
from app.main import create_app
from app.security.inputs import MAX_ID
from tests.chc.helpers import SAMPLES, ChcApi
from tests.hardening.conftest import dispose, serve
from tests.helpers import Api

SMALL = 1024


@pytest.fixture(scope="module")
def small(settings: Settings) -> Iterator[TestClient]:
    """The service with a 1 KiB body cap (and 64 KiB for the CHC upload)."""
    with serve(settings, max_body_bytes=SMALL, max_upload_body_bytes=65536) as client:
        yield client


def _case_body(size: int) -> bytes:
    body = {"workflow": "sample-referral", "data": {"priority": "routine"}, "reason": ""}
    raw = json.dumps(body).encode()
    body["reason"] = "x" * (size - len(raw))
    return json.dumps(body).encode()


def _assert_too_large(r, limit: int) -> None:  # noqa: ANN001
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "payload_too_large"
    assert body["status"] == 413
    assert str(limit) in body["detail"]


def _cases(client: TestClient, user) -> list[dict]:  # noqa: ANN001
    r = client.get("/api/v1/cases", params={"organisation": user.org}, headers=user.headers)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_a_declared_body_over_the_cap_is_refused_before_anything_runs(small, make_user) -> None:
    user = make_user("discharge_team")
    headers = {**user.headers, "content-type": "application/json"}
    r = small.post("/api/v1/cases", content=_case_body(SMALL + 1), headers=headers)
    _assert_too_large(r, SMALL)
    assert r.json()["limit"] == SMALL
    assert _cases(small, user) == []
    # A body under the cap goes through.
    ok = small.post("/api/v1/cases", content=_case_body(900), headers=headers)
    assert ok.status_code == 201, ok.text
    assert len(_cases(small, user)) == 1


def test_a_chunked_body_is_counted_as_it_arrives(small, make_user) -> None:
    user = make_user("discharge_team")
    payload = _case_body(SMALL * 3)

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        for i in range(0, len(payload), 1000):
            yield payload[i : i + 1000]

    r = small.post(
        "/api/v1/cases",
        content=chunks(),
        headers={**user.headers, "content-type": "application/json"},
    )
    assert "content-length" not in {k.lower() for k in r.request.headers}
    _assert_too_large(r, SMALL)
    assert _cases(small, user) == []


def test_the_default_cap_is_one_mebibyte(client: TestClient, make_user) -> None:
    user = make_user("discharge_team")
    r = client.post(
        "/api/v1/cases",
        content=b"{" + b" " * (1024 * 1024) + b"}",
        headers={**user.headers, "content-type": "application/json"},
    )
    _assert_too_large(r, 1024 * 1024)


def test_the_chc_upload_has_its_own_larger_cap(small, make_user) -> None:
    user = make_user("chc_assessor")
    csv = (SAMPLES / "mlcsu.csv").read_bytes()
    assert SMALL < len(csv) < 65536  # over the general cap, under the upload cap
    r = small.post(
        "/api/v1/imports/chc-backlog",
        headers=user.headers,
        files={"file": ("mlcsu.csv", csv, "text/csv")},
        data={"source": "MLCSU"},
    )
    assert r.status_code == 202, r.text
    done = ChcApi(small, user.headers).wait_for_import(r.headers["location"])
    assert len(done["accepted"]) > 0
    big = csv + b"\r\n" * 40_000
    r = small.post(
        "/api/v1/imports/chc-backlog",
        headers=user.headers,
        files={"file": ("big.csv", big, "text/csv")},
        data={"source": "LSCFT"},
    )
    _assert_too_large(r, 65536)
    listed = small.get("/api/v1/imports/chc-backlog", headers=user.headers).json()
    assert [i["source"] for i in listed] == ["MLCSU"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/cases", {"site": "S" * 65}),
        ("/api/v1/cases", {"patient_ref": "1" * 33}),
        ("/api/v1/rfd", {"ward": "W" * 65}),
        ("/api/v1/queues/chc", {"cohort": "c" * 33}),
        ("/api/v1/imports/chc-backlog", {"limit": 501}),
        ("/api/v1/cases", {"limit": 0}),
    ],
)
def test_over_long_strings_and_page_sizes_are_422(client, make_user, path, params) -> None:
    user = make_user("discharge_team", "chc_assessor")
    r = client.get(path, params=params, headers=user.headers)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "validation_failed"
    assert [e["loc"] for e in body["errors"]] == [["query", next(iter(params))]]


def test_a_page_never_exceeds_the_maximum(client, make_user) -> None:
    user = make_user("discharge_team")
    r = client.get("/api/v1/cases", params={"limit": 10**9}, headers=user.headers)
    assert r.status_code == 200, r.text
    assert r.json()["limit"] == 200


def test_an_unknown_query_parameter_is_refused_not_ignored(client, make_user) -> None:
    """A misspelt filter must not silently widen a list of patients."""
    user = make_user("discharge_team")
    Api(client, user.headers).create()
    r = client.get("/api/v1/cases", params={"stat": "received"}, headers=user.headers)
    assert r.status_code == 422, r.text
    assert r.json()["errors"] == [
        {"loc": ["query", "stat"], "msg": "Unknown query parameter", "type": "extra_forbidden"}
    ]
    ok = client.get("/api/v1/cases", params={"state": "received"}, headers=user.headers)
    assert ok.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/cases/{MAX_ID + 1}",
        f"/api/v1/cases/{10**30}/events",
        f"/api/v1/chc/cases/{MAX_ID + 1}",
        f"/api/v1/ic/services/{10**25}",
        f"/api/v1/imports/chc-backlog/{MAX_ID + 1}",
    ],
)
def test_ids_beyond_the_database_range_are_422_not_500(client, make_user, path) -> None:
    user = make_user("discharge_team", "chc_assessor", "ic_coordinator")
    r = client.get(path, headers=user.headers)
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_failed"
    assert r.json()["errors"][0]["loc"][0] == "path"
    assert client.get(f"/api/v1/cases/{MAX_ID}", headers=user.headers).status_code == 404


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        (f"/api/v1/pathways/discharge?version={10**20}", ["query", "version"]),
        (f"/api/v1/cases?limit={MAX_ID + 1}", ["query", "limit"]),
        (f"/api/v1/reconciliation/chc?case_id={-(10**19)}", ["query", "case_id"]),
    ],
)
def test_integers_in_the_query_must_fit_the_database(client, make_user, path, loc) -> None:
    user = make_user("discharge_team", "chc_assessor")
    r = client.get(path, headers=user.headers)
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == [loc]


def test_an_invalid_nhs_number_is_refused(client, make_user) -> None:
    user = make_user("discharge_team")
    r = client.post(
        "/api/v1/cases",
        json={"workflow": "sample-referral", "patient_ref": "9434765918", "data": {}},
        headers=user.headers,
    )
    assert r.status_code == 422, r.text
    assert "Modulus 11" in json.dumps(r.json()["errors"])


def test_a_body_that_is_not_utf8_is_a_400_problem(client, make_user) -> None:
    user = make_user("discharge_team")
    r = client.post(
        "/api/v1/cases",
        content=b"\xff\xfe{",
        headers={**user.headers, "content-type": "application/json"},
    )
    assert r.status_code in (400, 422), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] in ("bad_request", "validation_failed")


SECRET_SQL = "SELECT token_hash FROM api_tokens WHERE id = 1"


def _assert_generic_500(r) -> None:  # noqa: ANN001
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json() == {
        "type": "https://homefirst.example/problems/internal_error",
        "title": "Internal error",
        "status": 500,
        "code": "internal_error",
        "detail": "An unexpected error occurred.",
    }
    for leak in ("Traceback", "SELECT", "api_tokens", "sqlalchemy", "psycopg", 'File "'):
        assert leak not in r.text
    # Starlette sends the 500 from outside the middleware: the headers still come with it.
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"


def test_a_database_error_in_a_route_leaks_neither_sql_nor_trace(
    settings, make_user, monkeypatch
) -> None:
    def broken(*_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
        raise OperationalError(SECRET_SQL, {"id": 1}, Exception("server closed the connection"))

    monkeypatch.setattr(case_service, "list_cases", broken)
    user = make_user("discharge_team")
    with serve(settings) as c:
        _assert_generic_500(c.get("/api/v1/cases", headers=user.headers))


def test_an_exception_in_a_test_only_route_leaks_nothing(settings) -> None:
    app = create_app(settings)

    @app.get("/api/v1/_boom")
    def boom() -> None:
        raise RuntimeError(f"failed running {SECRET_SQL}")

    try:
        with TestClient(app, raise_server_exceptions=False) as c:
            _assert_generic_500(c.get("/api/v1/_boom"))
    finally:
        dispose(app)


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("/api/v1/reports/chc?to=5.64e-30", ["query", "to"]),
        ("/api/v1/reports/chc?from=1700000000", ["query", "from"]),
        ("/api/v1/panels/1700000000", ["path", "day"]),
        ("/api/v1/cases?opened_from=1700000000", ["query", "opened_from"]),
    ],
)
def test_dates_must_be_written_as_dates(client, make_user, path, loc) -> None:
    """pydantic alone would read a number as a Unix timestamp (1970-01-01 for 5.64e-30)."""
    user = make_user("chc_assessor", "discharge_team")
    r = client.get(path, headers=user.headers)
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == [loc]
    ok = client.get(
        "/api/v1/cases",
        params={"opened_from": "2026-01-01T00:00:00Z", "opened_to": "2026-01-02T00:00:00+01:00"},
        headers=user.headers,
    )
    assert ok.status_code == 200, ok.text


def test_a_clinical_time_in_a_body_must_be_iso_text(client, make_user) -> None:
    user = make_user("discharge_team")
    body = {"workflow": "sample-referral", "data": {"priority": "routine"}}
    for when in (1700000000, "1700000000"):
        r = client.post("/api/v1/cases", json={**body, "occurred_at": when}, headers=user.headers)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["loc"] == ["body", "occurred_at"]
    assert _cases(client, user) == []


@pytest.mark.parametrize(
    ("raw", "loc", "kind"),
    [
        (
            b'{"workflow":"sample-referral","data":{"priority":"routine"},"reason":"a\\u0000b"}',
            ["body", "reason"],
            "string_nul",
        ),
        (
            b'{"workflow":"sample-referral","data":{"priority":"routine","note":["x\\u0000"]}}',
            ["body", "data", "note", "0"],
            "string_nul",
        ),
        (
            b'{"workflow":"sample-referral","data":{"priority":"routine","k\\ud800":1}}',
            ["body", "data", "k\\ud800"],
            "string_unicode",
        ),
    ],
)
def test_text_that_the_database_cannot_store_is_422_not_500(
    client, make_user, raw, loc, kind
) -> None:
    """PostgreSQL refuses NUL characters and unpaired surrogates: the driver would raise."""
    user = make_user("discharge_team")
    r = client.post(
        "/api/v1/cases", content=raw, headers={**user.headers, "content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    (error,) = r.json()["errors"]
    assert (error["loc"], error["type"]) == (loc, kind)
    assert _cases(client, user) == []
    q = client.get("/api/v1/cases", params={"site": "A\x00B"}, headers=user.headers)
    assert q.status_code == 422
    assert q.json()["errors"][0]["type"] == "string_nul"


def test_a_nul_in_a_form_field_is_422(client, make_user) -> None:
    user = make_user("chc_assessor")
    r = client.post(
        "/api/v1/imports/chc-backlog",
        headers=user.headers,
        files={"file": ("mlcsu.csv", (SAMPLES / "mlcsu.csv").read_bytes(), "text/csv")},
        data={"source": "ML\x00CSU"},
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "source"]
    assert client.get("/api/v1/imports/chc-backlog", headers=user.headers).json() == []
