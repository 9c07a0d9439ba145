"""Revocation takes effect at once on every worker: tested as deployed (issue 13, item 5).

Fresh processes, as in `test_fresh_process.py`: `alembic upgrade head` and the `homefirst`
command line in their own processes, then `uvicorn app.asgi:application --workers 2`. Each
worker logs a JSON line per request with its process id (`pid`), so the test knows which
worker answered.

For each way a token stops working (rotation over HTTP, deactivation by an administrator over
HTTP, `homefirst tokens revoke` in another process), the token is first used until both workers
have accepted it (a worker that remembered tokens would now hold it), then the change is made,
then the old token is sent again, each request on a new connection, until both workers have
answered several times: every answer must be a 401.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_database_url
from tests.servers import (
    NOTHING_IN_THE_BACKGROUND,
    UVICORN,
    process_env,
    run_python,
    running_service,
)

ORG = "E2E-REVOKE"
WORKERS = 2
PATH = "/api/v1/pathways"
EACH_WORKER = 5  # answers wanted from every worker after each change
MAX_REQUESTS = 400


USERS = {"e2e.admin": "admin", "e2e.rotate": "analyst", "e2e.deactivate": "analyst"}
USERS["e2e.revoke"] = "analyst"
SETUP = f"""
import json
from typer.testing import CliRunner
from app.cli import cli

runner, tokens = CliRunner(), {{}}
for name, role in {USERS!r}.items():
    added = runner.invoke(cli, ["users", "add", name, "--org", {ORG!r}, "--roles", role])
    assert added.exit_code == 0, added.output
    issued = runner.invoke(cli, ["tokens", "create", name, "--org", {ORG!r}])
    assert issued.exit_code == 0, issued.output
    tokens[name] = issued.stdout.split()[0]
print(json.dumps(tokens))
"""


@dataclass
class Deployed:
    base: str
    log: Path
    env: dict[str, str]
    admin: str
    tokens: dict[str, str]  # username -> token


@pytest.fixture(scope="module")
def deployed(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Deployed]:
    tmp = tmp_path_factory.mktemp(f"revoke-{backend}")
    url = fresh_database_url(backend, tmp, request)
    env = process_env(url, NOTHING_IN_THE_BACKGROUND)
    run_python(["-m", "alembic", "upgrade", "head"], env)
    # The users and their tokens from the command line, in one further process (each start of
    # the interpreter costs seconds on a busy machine).
    tokens = json.loads(run_python(["-c", SETUP], env))
    log = tmp / "uvicorn.log"
    with running_service(
        url,
        env=NOTHING_IN_THE_BACKGROUND,
        command=UVICORN,
        workers=WORKERS,
        log=log,
    ) as server:
        yield Deployed(server.url, log, env, tokens["e2e.admin"], tokens)


def _get(base: str, token: str) -> int:
    """One request on a new connection (so it goes to whichever worker accepts it)."""
    headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
    return httpx.get(f"{base}{PATH}", headers=headers, timeout=30).status_code


def _answers_by_worker(log: Path, offset: int) -> Counter[tuple[str, str]]:
    """(worker pid, status) of each request line for PATH written after `offset`."""
    text = log.read_bytes()[offset:].decode(errors="replace")
    seen: Counter[tuple[str, str]] = Counter()
    for line in text.splitlines():
        if not line.startswith("{"):
            continue
        entry = json.loads(line)
        if entry.get("event") == "request" and entry.get("route") == PATH:
            seen[(str(entry["pid"]), str(entry["status"]))] += 1
    return seen


def _every_worker_answers(d: Deployed, token: str, expect: int) -> Counter[tuple[str, str]]:
    """Send `token` until each worker has answered EACH_WORKER times; every answer must be
    `expect`. The answers by (worker, status)."""
    offset = d.log.stat().st_size
    sent = Counter[int]()
    seen: Counter[tuple[str, str]] = Counter()
    while sum(sent.values()) < MAX_REQUESTS:
        for _ in range(10):
            sent[_get(d.base, token)] += 1
        seen = _answers_by_worker(d.log, offset)
        workers = Counter(pid for pid, _ in seen.elements())
        if len(workers) >= WORKERS and min(workers.values()) >= EACH_WORKER:
            break
    assert sent == Counter({expect: sum(sent.values())}), (expect, sent, seen)
    workers = Counter(pid for pid, _ in seen.elements())
    assert len(workers) == WORKERS, seen
    assert min(workers.values()) >= EACH_WORKER, seen
    return seen


def test_a_rotated_token_is_refused_by_every_worker_at_once(deployed: Deployed) -> None:
    old = deployed.tokens["e2e.rotate"]
    _every_worker_answers(deployed, old, 200)
    r = httpx.post(
        f"{deployed.base}/api/v1/auth/tokens/rotate",
        headers={"Authorization": f"Bearer {old}", "Connection": "close"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    _every_worker_answers(deployed, old, 401)
    _every_worker_answers(deployed, r.json()["token"], 200)


def test_a_deactivated_users_token_is_refused_by_every_worker_at_once(
    deployed: Deployed,
) -> None:
    token = deployed.tokens["e2e.deactivate"]
    _every_worker_answers(deployed, token, 200)
    r = httpx.post(
        f"{deployed.base}/api/v1/admin/users/e2e.deactivate/deactivate",
        headers={"Authorization": f"Bearer {deployed.admin}", "Connection": "close"},
        timeout=30,
    )
    assert (r.status_code, r.json()["active"]) == (200, False), r.text
    _every_worker_answers(deployed, token, 401)


def test_a_token_revoked_from_the_command_line_is_refused_by_every_worker_at_once(
    deployed: Deployed,
) -> None:
    token = deployed.tokens["e2e.revoke"]
    _every_worker_answers(deployed, token, 200)
    # Keep using the token while the command starts (it takes a few seconds to load), so each
    # worker has used it moments before the revocation commits.
    stop = threading.Event()
    during: list[int] = []

    def keep_using() -> None:
        while not stop.is_set():
            during.append(_get(deployed.base, token))

    user = threading.Thread(target=keep_using)
    user.start()
    try:
        out = run_python(["-m", "app.cli", "tokens", "revoke", token[:10]], deployed.env)
    finally:
        stop.set()
        user.join(timeout=60)
    assert "revoked 1 token(s)" in out
    assert during[:1] == [200], during
    _every_worker_answers(deployed, token, 401)
