"""The API's contract holds at its edges (issue 13, items 3 and 10).

- Dates: every date or date-time parameter of every documented route refuses a date outside
  1900-01-01..2199-12-31 with a 422 (date arithmetic on year 1 or 9999 overflowed: a 500);
  so do body date-times and event-data dates.
- Cursors: a cursor naming an id the database cannot hold is a 422 on every paged list.
- Strict bodies: `0` is not `false`, `true` is not a number, `"3"` is not 3; every route's body
  model is a strict `RequestModel`, so a route added later is strict too.
- If-Match: only the exact strong ETag the service sent; `W/"1"`, `1`, `"01"` are 412.
- Control characters: refused in every text (tab and line breaks allowed in free text only).
- OPTIONS and 405 name every method of the path; the OpenAPI document says If-Match is required.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from app.security.inputs import RequestModel
from tests.discharge.helpers import NHS, TEAM, open_case
from tests.helpers import Api
from tests.ic.helpers import IC_TEAM, Ic, fresh_site, make_service

OUT_OF_RANGE = ("0001-01-01", "1899-12-31", "2200-01-01", "9999-12-31")
DATETIMES_OUT_OF_RANGE = ("0001-01-01T00:00:00Z", "9999-12-31T23:00:00-05:00")
BIG_CURSOR = "aWQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk"  # "id:999999999999999999999999"
EVERYONE = ("admin", "manager", "ig_officer", "analyst", "chc_assessor", *TEAM, *IC_TEAM)


def _problem(r: Any, status: int, code: str) -> dict[str, Any]:
    assert (r.status_code, r.headers["content-type"]) == (status, "application/problem+json"), (
        r.status_code,
        r.text,
    )
    body = dict(r.json())
    assert body["code"] == code, body
    return body


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method, path, operation)
        for path, item in paths.items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    ]


def _date_kind(schema: dict[str, Any]) -> str | None:
    for part in [schema, *schema.get("anyOf", [])]:
        if part.get("format") in ("date", "date-time"):
            return str(part["format"])
    return None


def _concrete(path: str, day: str = "2026-03-31") -> str:
    return "/".join(
        (day if part == "{day}" else "1") if part.startswith("{") else part
        for part in path.split("/")
    )


# -- dates ----------------------------------------------------------------------------------------
def test_every_date_parameter_refuses_dates_out_of_range(client: TestClient, make_user) -> None:
    user = make_user(*EVERYONE)
    checked: set[str] = set()
    for method, path, operation in _operations(client):
        for parameter in operation.get("parameters", []):
            kind = _date_kind(parameter.get("schema", {}))
            if kind is None or parameter["in"] not in ("query", "path"):
                continue
            values = OUT_OF_RANGE if kind == "date" else DATETIMES_OUT_OF_RANGE
            for value in values:
                if parameter["in"] == "path":
                    url, params = _concrete(path, day=value), {}
                else:
                    url, params = _concrete(path), {parameter["name"]: value}
                r = client.request(method, url, params=params, headers=user.headers)
                errors = _problem(r, 422, "validation_failed")["errors"]
                assert [parameter["in"], parameter["name"]] in [e["loc"] for e in errors], (
                    method,
                    path,
                    value,
                    errors,
                )
                assert "date_out_of_range" in {e["type"] for e in errors}
            # The edges of the range are taken (or refused by the route, for its own reason).
            edges = ("1900-01-01", "2199-12-31")
            if kind == "date-time":
                edges = ("1900-01-01T00:00:00+14:00", "2199-12-31T23:59:59-12:00")
            for value in edges:
                if parameter["in"] == "path":
                    url, params = _concrete(path, day=value), {}
                else:
                    url, params = _concrete(path), {parameter["name"]: value}
                r = client.request(method, url, params=params, headers=user.headers)
                assert r.status_code < 500, (method, path, value, r.text)
                if r.status_code == 422:
                    types = {e.get("type") for e in r.json().get("errors", [])}
                    assert "date_out_of_range" not in types, (method, path, value, r.text)
            checked.add(f"{path}?{parameter['name']}")
    # The routes the outside test named are among those checked.
    for named in (
        "/api/v1/dashboard/metrics?date",
        "/api/v1/dashboard/series?from",
        "/api/v1/dashboard/exports/acute-discharge-daily.csv?to",
        "/api/v1/ic/report?date_to",
        "/api/v1/ic/follow-ups?due_by",
        "/api/v1/reports/chc?from",
        "/api/v1/panels?from",
        "/api/v1/panels/{day}?day",
        "/api/v1/cases?opened_from",
    ):
        assert named in checked, sorted(checked)


def test_the_metrics_of_the_first_and_last_days_are_a_422_not_a_500(
    client: TestClient, make_user
) -> None:
    user = make_user("manager", "discharge_team")
    for day in ("0001-01-01", "9999-12-31"):
        r = client.get("/api/v1/dashboard/metrics", params={"date": day}, headers=user.headers)
        _problem(r, 422, "validation_failed")
    # The edges are in range: the first day has (no) figures, the last is refused for another
    # reason (the future), by the route itself.
    r = client.get("/api/v1/dashboard/metrics", params={"date": "1900-01-01"}, headers=user.headers)
    assert r.status_code == 200, r.text
    r = client.get("/api/v1/dashboard/metrics", params={"date": "2199-12-31"}, headers=user.headers)
    assert "in the future" in _problem(r, 422, "validation_failed")["detail"]


def test_body_and_event_dates_out_of_range_are_refused(client: TestClient, make_user) -> None:
    api = Api(client, make_user(*TEAM).headers)
    site = f"SITE-{uuid.uuid4().hex[:6].upper()}"
    for at in DATETIMES_OUT_OF_RANGE:
        r = api.client.post(
            "/api/v1/cases",
            json={
                "workflow": "sample-referral",
                "data": {"priority": "routine"},
                "occurred_at": at,
            },
            headers=api.headers,
        )
        errors = _problem(r, 422, "validation_failed")["errors"]
        assert [e["loc"] for e in errors] == [["body", "occurred_at"]], errors
    for day in ("0001-01-01", "9999-12-31"):
        body = open_case(api, NHS[0], site=site, expect=422, expected_discharge_date=day)
        assert body["errors"] == [
            {
                "field": "expected_discharge_date",
                "problem": "must be between 1900-01-01 and 2199-12-31",
            }
        ], body
    assert open_case(api, NHS[0], site=site, expected_discharge_date="2199-12-31")["id"]


# -- cursors --------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/cases", "/api/v1/audit", "/api/v1/dashboard/feed"])
def test_a_cursor_beyond_the_database_is_a_422(client: TestClient, make_user, path: str) -> None:
    user = make_user(*EVERYONE)
    r = client.get(path, params={"cursor": BIG_CURSOR}, headers=user.headers)
    _problem(r, 422, "validation_failed")
    assert client.get(path, headers=user.headers).status_code == 200


# -- strict request bodies ------------------------------------------------------------------------
def test_every_request_body_is_a_strict_request_model(client: TestClient) -> None:
    """Generated from the application's routes: a body model added later must be strict too."""
    models = []
    for context in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue
        for param in route.dependant.body_params:
            annotation = param.field_info.annotation
            for model in (annotation, *getattr(annotation, "__args__", ())):
                if isinstance(model, type) and hasattr(model, "model_config"):
                    models.append((context.path, model))
    assert len(models) >= 15, models
    for path, model in models:
        assert issubclass(model, RequestModel), (path, model)
        assert model.model_config.get("strict") is True, (path, model)
        assert model.model_config.get("extra") == "forbid", (path, model)


@pytest.mark.parametrize("active", [0, 1, "false", "true", None])
def test_a_boolean_is_true_or_false_only(client: TestClient, make_user, active: Any) -> None:
    user = make_user("manager", *IC_TEAM)
    service = make_service(client, user.headers, site=fresh_site(), model="reablement", capacity=2)
    url = f"/api/v1/ic/services/{service['id']}"
    r = client.patch(url, json={"active": active, "reason": "closing"}, headers=user.headers)
    if active is None:  # null: "no change", as before
        assert r.status_code == 200, r.text
    else:
        errors = _problem(r, 422, "validation_failed")["errors"]
        assert [e["loc"] for e in errors] == [["body", "active"]], errors
    assert client.get(url, headers=user.headers).json()["active"] is True
    r = client.patch(url, json={"active": False, "reason": "closing"}, headers=user.headers)
    assert (r.status_code, r.json()["active"]) == (200, False)


@pytest.mark.parametrize("days", [True, False, "3", 3.0, 3.5])
def test_an_integer_is_a_json_integer_only(client: TestClient, make_user, days: Any) -> None:
    admin = make_user("admin")
    name = f"u{uuid.uuid4().hex[:10]}"
    r = client.post(
        "/api/v1/admin/users",
        json={"username": name, "display_name": "Ann Lee", "roles": ["manager"]},
        headers=admin.headers,
    )
    assert r.status_code == 201, r.text
    url = f"/api/v1/admin/users/{name}/tokens"
    r = client.post(url, json={"expires_in_days": days}, headers=admin.headers)
    errors = _problem(r, 422, "validation_failed")["errors"]
    assert [e["loc"] for e in errors] == [["body", "expires_in_days"]], errors
    r = client.post(url, json={"expires_in_days": 3}, headers=admin.headers)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("value", [0, 1, "true", "yes"])
def test_an_event_data_boolean_is_true_or_false_only(
    client: TestClient, make_user, value: Any
) -> None:
    api = Api(client, make_user(*TEAM).headers)
    site = f"SITE-{uuid.uuid4().hex[:6].upper()}"
    body = open_case(api, NHS[1], site=site, expect=422, mh_known_to_services=value)
    assert body["errors"] == [
        {"field": "mh_known_to_services", "problem": "must be true or false"}
    ], body
    assert open_case(api, NHS[1], site=site, mh_known_to_services=True)["id"]


@pytest.mark.parametrize("service_id", [True, "7", 7.0, 2**63, -(2**63) - 1])
def test_an_event_data_integer_is_a_json_integer_the_database_can_hold(
    client: TestClient, make_user, service_id: Any
) -> None:
    user = make_user(*IC_TEAM)
    ic = Ic(client, user.headers, fresh_site())
    case = ic.refer(NHS[2])
    r = client.post(
        f"/api/v1/cases/{case['id']}/events",
        json={"event": "start_crisis_response", "data": {"service_id": service_id}},
        headers={**user.headers, "If-Match": '"1"'},
    )
    errors = _problem(r, 422, "validation_failed")["errors"]
    assert [e["field"] for e in errors] == ["service_id"], errors


# -- If-Match -------------------------------------------------------------------------------------
def _escaped(body: dict[str, Any]) -> str:
    """The same JSON with a `\\u` escape in it: the transition then takes the full way."""
    return json.dumps(body).replace('"triage"', '"\\u0074riage"')


@pytest.mark.parametrize("way", ["short", "full"])
@pytest.mark.parametrize("sent", ['W/"1"', "1", '"01"', '"1", "2"', "*", '" 1"', "'1'"])
def test_if_match_is_the_exact_strong_etag_only(
    client: TestClient, make_user, way: str, sent: str
) -> None:
    api = Api(client, make_user(*TEAM).headers)
    case_id = int(api.create().json()["id"])
    body = {"event": "triage"}
    headers = {**api.headers, "If-Match": sent, "content-type": "application/json"}
    content = json.dumps(body) if way == "short" else _escaped(body)
    r = client.post(f"/api/v1/cases/{case_id}/events", content=content, headers=headers)
    _problem(r, 412, "if_match_invalid")
    assert api.get(case_id).json()["version"] == 1  # nothing changed
    headers["If-Match"] = api.get(case_id).headers["ETag"]
    assert headers["If-Match"] == '"1"'
    r = client.post(f"/api/v1/cases/{case_id}/events", content=content, headers=headers)
    assert (r.status_code, r.headers["ETag"]) == (200, '"2"'), r.text
    r = client.post(f"/api/v1/cases/{case_id}/events", content=content, headers=headers)
    _problem(r, 412, "stale_case")  # a version that was: stale, as before


# -- control characters ---------------------------------------------------------------------------
def _raw_json(body: dict[str, Any]) -> bytes:
    """JSON with every character as itself (no `\\u` escape): a C1 or DEL arrives raw."""
    return json.dumps(body, ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("Ann\u0002Lee", False),  # C0, escaped as JSON must
        ("Ann\u0085Lee", True),  # C1 (NEL), raw UTF-8
        ("Ann\u009bLee", False),  # C1 (CSI), escaped
        ("Ann\u007fLee", True),  # DEL, raw
        ("Ann\tLee", False),  # a name is one line
        ("Ann\nLee", False),
    ],
)
def test_a_name_refuses_control_characters(
    client: TestClient, make_user, name: str, raw: bool
) -> None:
    admin = make_user("admin")
    body = {"username": f"u{uuid.uuid4().hex[:10]}", "display_name": name, "roles": ["manager"]}
    content = _raw_json(body) if raw else json.dumps(body).encode()
    r = client.post(
        "/api/v1/admin/users",
        content=content,
        headers={**admin.headers, "content-type": "application/json"},
    )
    errors = _problem(r, 422, "validation_failed")["errors"]
    assert [e["loc"] for e in errors] == [["body", "display_name"]], errors
    users = client.get("/api/v1/admin/users", headers=admin.headers).json()
    assert body["username"] not in {u["username"] for u in users}


def test_free_text_keeps_tabs_and_line_breaks_and_refuses_other_controls(
    client: TestClient, make_user
) -> None:
    api = Api(client, make_user(*TEAM).headers)
    reason = "Seen on the ward round.\r\n\tFamily told by phone."
    r = api.create(reason=reason, occurred_at="2026-01-05T10:00:00Z")
    assert api.history(int(r.json()["id"]))[0]["reason"] == reason
    for bad, raw in (("\u0007bell", False), ("next\u0085line", True), ("del\u007f", True)):
        body = {"workflow": "sample-referral", "data": {"priority": "routine"}, "reason": bad}
        content = _raw_json(body) if raw else json.dumps(body).encode()
        r = client.post(
            "/api/v1/cases",
            content=content,
            headers={**api.headers, "content-type": "application/json"},
        )
        errors = _problem(r, 422, "validation_failed")["errors"]
        assert [(e["loc"], e["type"]) for e in errors] == [(["body", "reason"], "string_control")]


def test_event_data_text_and_keys_refuse_control_characters_on_the_short_way_too(
    client: TestClient, make_user
) -> None:
    """The transition's short way skips the input checks only for a body that cannot hold a
    control character; a raw C1 character sends it the full way."""
    api = Api(client, make_user(*TEAM, "ic_coordinator").headers)
    case_id = int(api.create().json()["id"])
    url = f"/api/v1/cases/{case_id}/events"
    headers = {**api.headers, "If-Match": '"1"', "content-type": "application/json"}
    for data, where in (
        ({"triage_note": "one\u0085two"}, ["body", "data", "triage_note"]),
        ({"triage_note": "ok", "pri\u0008ority": "urgent"}, ["body", "data", "pri\bority"]),
    ):
        r = client.post(url, content=_raw_json({"event": "triage", "data": data}), headers=headers)
        errors = _problem(r, 422, "validation_failed")["errors"]
        assert [e["loc"] for e in errors] == [where], errors
    # A `string` field of a pathway is one line; a `text` field may hold line breaks.
    api.fire(case_id, "triage", data={"triage_note": "line one\nline two"})
    r = api.fire(case_id, "accept", data={"named_clinician": "Dr\tLee"}, expect=422)
    assert r.json()["errors"] == [
        {"field": "named_clinician", "problem": "may not contain the control character U+0009"}
    ]


@pytest.mark.parametrize("value", ["A\u0002B", "A\tB", "A\u0085B"])
def test_query_parameters_refuse_control_characters(
    client: TestClient, make_user, value: str
) -> None:
    user = make_user(*TEAM)
    r = client.get("/api/v1/cases", params={"site": value}, headers=user.headers)
    errors = _problem(r, 422, "validation_failed")["errors"]
    assert [(e["loc"], e["type"]) for e in errors] == [(["query", "site"], "string_control")]


# -- OPTIONS, 405 and the OpenAPI document --------------------------------------------------------
def test_options_names_every_method_of_every_documented_path(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert len(paths) > 40
    for path, item in paths.items():
        r = client.options(_concrete(path))
        assert r.status_code == 204, (path, r.status_code, r.text)
        allowed = [m.strip() for m in r.headers["allow"].split(",")]
        documented = {method.upper() for method in item}
        assert set(allowed) == documented | {"OPTIONS"}, (path, allowed, documented)
        assert r.content == b""
    r = client.options("/api/v1/cases")
    assert r.headers["allow"] == "GET, POST, OPTIONS"
    assert r.headers["x-content-type-options"] == "nosniff"  # the security headers too
    assert client.options("/api/v1/no-such-path").status_code == 404


def test_a_405_names_every_method_of_the_path(client: TestClient) -> None:
    r = client.delete("/api/v1/cases")
    _problem(r, 405, "method_not_allowed")
    assert r.headers["allow"] == "GET, POST, OPTIONS"
    r = client.put("/api/v1/cases/1/events")
    assert (r.status_code, r.headers["allow"]) == (405, "GET, POST, OPTIONS")


def test_the_openapi_document_says_if_match_is_required(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/cases/{case_id}/events"]["post"]
    [if_match] = [p for p in operation["parameters"] if p["name"] == "If-Match"]
    assert (if_match["in"], if_match["required"]) == ("header", True)
    assert if_match["schema"]["type"] == "string"
    assert {"412", "428"} <= set(operation["responses"])
    for path, item in schema["paths"].items():
        for method, op in item.items():
            for parameter in op.get("parameters", []):
                if parameter["name"].lower() == "if-match":
                    assert parameter["required"] is True, (method, path)
                    assert "428" in op["responses"], (method, path)
