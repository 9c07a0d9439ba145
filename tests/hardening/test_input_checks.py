"""The router-wide input checks (`app.security.inputs.check_inputs`) know every route.

What a route accepts is read from its OpenAPI description. These tests hold the check to the
API as documented, route by route, and to routes the application gains later; and they show the
query-parameter model of `GET /cases` refusing an unknown parameter by itself.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from app.auth.access import load_access
from app.auth.actor import Actor
from app.cases import routes as case_routes
from app.config import PROJECT_ROOT
from app.db import get_db
from app.deps import current_actor
from app.problems import install_error_handlers
from app.security.inputs import MAX_ID, UNDESCRIBED, check_inputs, describe

UNKNOWN = "zz_not_a_parameter"


def _errors(r: Any) -> list[dict[str, Any]]:
    assert r.status_code == 422, r.text
    return list(r.json()["errors"])


def _operations(client: TestClient) -> list[tuple[str, str, dict[str, Any]]]:
    paths = client.get("/openapi.json").json()["paths"]
    return [
        (method, path, operation)
        for path, item in paths.items()
        if path.startswith("/api/v1/")
        for method, operation in item.items()
    ]


def _concrete(path: str) -> str:
    """A path of the template: 1 for each path parameter, a date for `{day}`."""
    return "/".join(
        ("2026-03-31" if part == "{day}" else "1") if part.startswith("{") else part
        for part in path.split("/")
    )


def test_an_unknown_query_parameter_is_refused_on_every_documented_route(
    client: TestClient,
) -> None:
    """The check runs before anything else (authentication too): no token needed to see it."""
    operations = _operations(client)
    assert len(operations) > 40
    for method, path, _operation in operations:
        r = client.request(method, _concrete(path), params={UNKNOWN: "1"})
        assert {"loc": ["query", UNKNOWN], "msg": "Unknown query parameter"} in [
            {"loc": e["loc"], "msg": e["msg"]} for e in _errors(r)
        ], (method, path, r.text)


def test_every_documented_query_parameter_is_known(client: TestClient) -> None:
    for method, path, operation in _operations(client):
        names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        if not names:
            continue
        r = client.request(method, _concrete(path), params=dict.fromkeys(names, "1"))
        if r.status_code == 422:
            unknown = [e for e in r.json()["errors"] if e["msg"] == "Unknown query parameter"]
            assert unknown == [], (method, path)
        assert r.status_code != 500, (method, path, r.text)


def test_the_case_list_model_refuses_an_unknown_parameter_by_itself() -> None:
    """Without the router-wide check, `GET /cases` still refuses a misspelt filter (its query
    parameters are a model with `extra="forbid"`)."""
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(case_routes.router)
    # Query parameters are validated once the dependencies have run: stand in for those (a
    # reader the access policy lets list cases).
    app.dependency_overrides[current_actor] = lambda: Actor(1, "u", "ORG-A", frozenset({"manager"}))
    app.dependency_overrides[get_db] = lambda: None
    app.state.access = load_access(PROJECT_ROOT / "pathways" / "config")
    with TestClient(app) as c:
        errors = _errors(c.get("/cases", params={"stat": "received"}))
    assert [(e["loc"], e["type"]) for e in errors] == [(["query", "stat"], "extra_forbidden")]
    assert case_routes.CaseQuery.model_config.get("extra") == "forbid"


class _Window(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: date | None = None
    until: datetime | None = None
    page: int | None = None


async def _api_version(api_version: str | None = None) -> str | None:
    return api_version


def _app() -> tuple[FastAPI, APIRouter]:
    app = FastAPI()
    install_error_handlers(app)
    api = APIRouter(prefix="/api", dependencies=[Depends(check_inputs)])
    return app, api


def test_a_route_added_after_the_first_request_is_checked_too() -> None:
    app, api = _app()

    @api.get("/first")
    def first(n: int = 0) -> int:
        return n

    app.include_router(api)
    with TestClient(app) as c:
        assert c.get("/api/first", params={"n": 2}).json() == 2
        late = APIRouter(prefix="/api/late", dependencies=[Depends(check_inputs)])

        @late.get("/{item_id}")
        def later(item_id: int, window: Annotated[_Window, Query()]) -> dict[str, Any]:
            return {"item_id": item_id, **window.model_dump(mode="json")}

        app.include_router(late)
        ok = c.get("/api/late/3", params={"since": "2026-03-31", "page": 2})
        assert ok.json() == {"item_id": 3, "since": "2026-03-31", "until": None, "page": 2}
        errors = _errors(c.get("/api/late/3", params={"since": "1700000000", "sinse": "x"}))
        assert [(e["loc"], e["type"]) for e in errors] == [
            (["query", "since"], "date_format"),
            (["query", "sinse"], "extra_forbidden"),
        ]
        errors = _errors(c.get(f"/api/late/{MAX_ID + 1}", params={"page": 10**20}))
        assert [(e["loc"], e["type"]) for e in errors] == [
            (["query", "page"], "less_than_equal"),
            (["path", "item_id"], "less_than_equal"),
        ]


def test_query_parameters_a_router_dependency_declares_are_known() -> None:
    app, api = _app()
    versioned = APIRouter(dependencies=[Depends(_api_version)])

    @versioned.get("/things")
    def things() -> list[str]:
        return []

    api.include_router(versioned)
    app.include_router(api)
    with TestClient(app) as c:
        assert c.get("/api/things", params={"api_version": "2"}).status_code == 200
        assert _errors(c.get("/api/things", params={"api_versoin": "2"}))[0]["loc"] == [
            "query",
            "api_versoin",
        ]


def test_a_route_left_out_of_the_api_description_declares_no_query_parameter() -> None:
    app, api = _app()

    @api.get("/hidden", include_in_schema=False)
    def hidden(n: int = 0) -> int:
        return n

    app.include_router(api)
    with TestClient(app) as c:
        assert c.get("/api/hidden").json() == 0
        assert _errors(c.get("/api/hidden", params={"n": 1}))[0]["loc"] == ["query", "n"]
        # Its body is still looked into.
    assert describe(app.routes, _route(app, "/api/hidden")) == UNDESCRIBED


def _route(app: FastAPI, path: str) -> Any:
    from fastapi.routing import iter_route_contexts

    (context,) = [c for c in iter_route_contexts(app.routes) if c.path == path]
    return context.original_route


def test_what_a_route_accepts_is_read_from_its_description() -> None:
    app, api = _app()

    @api.get("/late/{item_id}")
    def later(
        item_id: int,
        window: Annotated[_Window, Query()],
        ids: Annotated[list[int] | None, Query()] = None,
    ) -> None:
        return None

    app.include_router(api)
    spec = describe(app.routes, _route(app, "/api/late/{item_id}"))
    assert spec.query == {"since", "until", "page", "ids"}
    assert spec.dates == {"since": "date", "until": "datetime"}
    assert spec.integers == {"item_id", "page", "ids"}
    assert not spec.has_body
