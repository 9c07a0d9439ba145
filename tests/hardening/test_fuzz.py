"""Schemathesis against /openapi.json: no server errors, answers match the schema, bad data 4xx.

Every operation is fuzzed with schema-valid data and with deliberately invalid data, once with
generated path parameters and once with real ones (a sample case, a discharge case, a CHC case
from a backlog import, an IC service, an import, pathway keys, a panel date), as a user holding
every role, with a real bearer token. Bounded: HOMEFIRST_FUZZ_EXAMPLES per operation, mode and
set of path parameters (default 12); seed HOMEFIRST_FUZZ_SEED (fixed by default, so a failure
reproduces; set another to explore further).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import INTERNAL_ROLES, KNOWN_ROLES
from app.auth.service import create_token
from app.config import Settings
from app.main import create_app
from tests.chc.helpers import ChcApi
from tests.discharge.helpers import NHS, open_case
from tests.hardening.conftest import dispose, register_hl7_bodies
from tests.helpers import Api
from tests.ic.helpers import fresh_site, make_service

register_hl7_bodies()

EXAMPLES = int(os.environ.get("HOMEFIRST_FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("HOMEFIRST_FUZZ_SEED", "20261123"))
# To reproduce one failure: HOMEFIRST_FUZZ_ONLY="POST /api/v1/ic/services" (a label substring).
ONLY = os.environ.get("HOMEFIRST_FUZZ_ONLY", "")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
]
ROTATE = "/api/v1/auth/tokens/rotate"
# Seconds to wait for one answer. A year of daily dashboard figures is computed on first request.
TIMEOUT = 120


@dataclass
class Target:
    schema: Any
    ids: dict[str, Any]


@pytest.fixture(scope="module")
def target(
    settings: Settings, sessions: sessionmaker[Session], make_user_module
) -> Iterator[Target]:
    app = create_app(settings)
    user = make_user_module(*sorted(KNOWN_ROLES - INTERNAL_ROLES))
    with TestClient(app) as client:
        api = Api(client, user.headers)
        sample = api.create().json()["id"]
        discharge = open_case(api, NHS[0], site=f"FZ-{user.org[-6:]}")["id"]
        ChcApi(client, user.headers).import_list("MLCSU", "mlcsu.csv")
        imports = client.get("/api/v1/imports/chc-backlog", headers=user.headers).json()
        queue = client.get("/api/v1/queues/chc", headers=user.headers).json()
        panels = client.get("/api/v1/panels", headers=user.headers).json()["panels"]
        service = make_service(
            client, user.headers, site=fresh_site(), model="reablement", capacity=2
        )
    chc_case = queue["items"][0]["case_id"]

    def fresh_token() -> str:
        with sessions() as session:
            return create_token(session, username=user.actor.username).token

    schema = schemathesis.openapi.from_asgi("/openapi.json", app)

    @schema.auth(refresh_interval=None)
    class Bearer:
        """The user's token on every case; a fresh one to rotate (rotating revokes it)."""

        def get(self, case: Any, _ctx: Any) -> str:
            return fresh_token() if case.operation.path == ROTATE else user.token

        def set(self, case: Any, data: str, _ctx: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    yield Target(
        schema=schema,
        ids={
            "case_id": [sample, discharge, chc_case],
            "service_id": [service["id"]],
            "import_id": [imports[0]["id"]],
            "key": ["discharge", "chc", "sample-referral"],
            "day": [panels[0]["date"]],
        },
    )
    dispose(app)


def _fixed_path_parameters(operation: Any, ids: dict[str, Any]) -> list[dict[str, Any]]:
    names = [p.name for p in operation.path_parameters]
    if not names or not all(n in ids for n in names):
        return []
    return [{n: ids[n][i % len(ids[n])] for n in names} for i in range(len(ids[names[0]]))]


def test_fuzz_the_api(target: Target, backend: str) -> None:
    started = time.monotonic()
    failures: list[str] = []
    counts = {"cases": 0, "operations": 0}
    statuses: dict[int, int] = {}
    slowest: list[tuple[float, str]] = [(0.0, "")]

    for result in target.schema.get_all_operations():
        operation = result.ok()
        if ONLY not in operation.label:
            continue
        counts["operations"] += 1
        runs: list[dict[str, Any] | None] = [None, *_fixed_path_parameters(operation, target.ids)]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in runs:
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=path_parameters
                )

                @hypothesis_settings(
                    max_examples=EXAMPLES,
                    deadline=None,
                    database=None,
                    phases=[Phase.explicit, Phase.generate, Phase.shrink],
                    suppress_health_check=list(HealthCheck),
                )
                @seed(SEED)
                @given(case=strategy)
                def run(case: Any) -> None:
                    counts["cases"] += 1
                    response = case.call_and_validate(checks=CHECKS, timeout=TIMEOUT)
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    slowest[0] = max(slowest[0], (response.elapsed, case.operation.label))

                try:
                    run()
                except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
                    continue
                except (Exception, BaseExceptionGroup) as exc:  # every failure is reported
                    failures.append(
                        f"{operation.label} [{mode.value}, {path_parameters}]: {_describe(exc)}"
                    )

    print(  # noqa: T201 - the figures the hardening issue asks for
        f"\nfuzz [{backend}]: {counts['cases']} cases over {counts['operations']} operations "
        f"in {time.monotonic() - started:.0f}s; statuses {dict(sorted(statuses.items()))}; "
        f"server errors {sum(n for s, n in statuses.items() if s >= 500)}; slowest answer "
        f"{slowest[0][0]:.1f}s ({slowest[0][1]})"
    )
    assert not failures, "\n\n".join(failures)
    assert not any(s >= 500 for s in statuses)
    assert counts["cases"] >= counts["operations"] * EXAMPLES


def _describe(exc: BaseException) -> str:
    """The failure and every failure inside it (Hypothesis and schemathesis group them)."""
    text = f"{type(exc).__name__}: {exc}"
    for inner in getattr(exc, "exceptions", ()):
        text += "\n  " + _describe(inner).replace("\n", "\n  ")
    return text
