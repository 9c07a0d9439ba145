"""Every screen route declares who may open it, and the declaration holds.

Generated from the application's routes, as the API's authorisation matrix is: a page route
that is neither public (sign-in, health, the API docs) nor declares `page_needs(read)` or
`SIGNED_IN` fails here the day it is added. For each declared page: a browser without a session
is sent to sign in and comes back to the same address; a role without the read gets 403; a
role with it gets the page (200), scoped to its organisation.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from app.auth.access import AccessPolicy
from app.auth.actor import INTERNAL_ROLES, KNOWN_ROLES
from app.timeutil import utcnow
from app.web.access import PageNeeds
from tests.chc.helpers import ChcApi
from tests.discharge.helpers import NHS
from tests.helpers import Api, signed_in
from tests.web.adt_helpers import PasFeed

# Routes anyone may reach: signing in and out, health, the API's own documentation, the
# favicon, and the old dashboard sign-in address (a redirect to `/`).
PUBLIC = {
    ("GET", "/"),
    ("POST", "/sign-in"),
    ("POST", "/sign-in/token"),
    ("POST", "/sign-out"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/dashboard/login"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
    ("GET", "/favicon.ico"),
}
PUBLIC_PREFIXES = ("/sign-in/oidc/",)
# For the monitoring system, not people: the metrics token or a configured network, never a
# session (tests/api/test_metrics_access.py).
MONITORING = {("GET", "/metrics")}


def page_routes(app: Any) -> list[tuple[str, str, APIRoute]]:
    """(method, full path, route) of every route outside the API and FHIR (both covered by the
    authorisation matrix, tests/hardening), as served."""
    out = []
    for context in iter_route_contexts(app.routes):
        route, path = context.original_route, context.path_format or ""
        if not isinstance(route, APIRoute) or path.startswith(("/api/", "/fhir/")):
            continue
        for method in sorted(set(context.methods or ()) - {"HEAD"}):
            out.append((method, path, route))
    return out


def declared_need(route: APIRoute) -> PageNeeds | None:
    found: list[PageNeeds] = []

    def walk(dependant: Any) -> None:
        for dep in dependant.dependencies:
            if isinstance(dep.call, PageNeeds):
                found.append(dep.call)
            walk(dep)

    walk(route.dependant)
    assert len(found) <= 1, f"{route.path} declares {len(found)} page needs"
    return found[0] if found else None


def test_every_page_route_is_public_or_declares_its_need(client: TestClient) -> None:
    undeclared = [
        f"{method} {path}"
        for method, path, route in page_routes(client.app)
        if (method, path) not in PUBLIC | MONITORING
        and not path.startswith(PUBLIC_PREFIXES)
        and declared_need(route) is None
    ]
    assert undeclared == []


@pytest.fixture(scope="module")
def org_with_a_case(client: TestClient, make_user_module) -> dict[str, Any]:  # noqa: ANN001
    owner = make_user_module("discharge_team")
    case = (
        Api(client, owner.headers)
        .create(
            "discharge",
            site="AINTREE",
            patient_ref=NHS[0],
            data={
                "hospital_system": "LUHFT",
                "ward": "Ward 1",
                "admitted_at": "2026-11-30T09:00:00Z",
            },
            occurred_at="2026-11-30T09:00:00Z",
            reason="entered late",
        )
        .json()
    )
    chc_case = Api(client, owner.headers).create("chc", data={"person_name": "A Person"}).json()
    assessor = make_user_module("chc_assessor", org=owner.org)
    job = ChcApi(client, assessor.headers).upload("MLCSU", "mlcsu.csv", expect=202).json()
    # A PAS message refused for the organisation (an A02 for a patient with no spell here).
    now = utcnow()
    refused = PasFeed.for_organisation(client, owner.org).send(
        "A02", NHS[1], at=now - timedelta(minutes=5), received=now
    )
    assert refused.error_code == "no_open_spell"
    # A what-if run of the organisation's manager (queued: its page shows it waiting).
    manager = make_user_module("manager", org=owner.org)
    run = client.post("/api/v1/whatif", json={"runs": 2, "weeks": 1}, headers=manager.headers)
    assert run.status_code == 202, run.text
    return {
        "org": owner.org,
        "case_id": case["id"],
        "chc_case_id": chc_case["id"],
        "import_id": job["id"],
        "message_id": refused.message_id,
        "run_id": run.json()["id"],
    }


def _concrete(path: str, values: dict[str, Any]) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"add a value for path parameter {name!r} to this test"
        return str(values[name])

    return re.sub(r"\{(\w+)(?::\w+)?\}", fill, path)


def test_declared_pages_send_strangers_to_sign_in_and_apply_the_read(
    client: TestClient,
    make_user,
    org_with_a_case,  # noqa: ANN001
) -> None:
    access: AccessPolicy = client.app.state.access
    anonymous = TestClient(client.app)
    anonymous.headers["Origin"] = "http://testserver"
    checked = 0
    for method, path, route in page_routes(client.app):
        need = declared_need(route)
        if need is None or method != "GET":
            continue
        url = _concrete(path, org_with_a_case)
        r = anonymous.get(url, follow_redirects=False)
        assert r.status_code == 303, (path, r.status_code)
        assert r.headers["location"].startswith("/?next=" if url != "/" else "/"), path
        everyone = sorted(KNOWN_ROLES - INTERNAL_ROLES)
        roles_with = [
            role
            for role in everyone
            if need.read is None or access.grant(need.read, {role}) is not None
        ]
        roles_without = sorted(set(everyone) - set(roles_with))
        for role in roles_with[:3]:
            user = make_user(role, org=org_with_a_case["org"])
            assert signed_in(client, user.token).get(url).status_code == 200, (path, role)
        for role in roles_without[:3]:
            user = make_user(role, org=org_with_a_case["org"])
            assert signed_in(client, user.token).get(url).status_code == 403, (path, role)
        checked += 1
    assert checked >= 1  # the dashboard at least; every screen adds itself by declaring
