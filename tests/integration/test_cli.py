"""The command line against a real database: users, tokens, sweep, demo data."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.db import get_engine, get_sessionmaker


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("DATABASE_URL", db_url)
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    yield CliRunner()
    get_engine().dispose()
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()


def test_users_and_tokens_from_the_command_line(cli_env: CliRunner, client: TestClient) -> None:
    import uuid

    name = f"cli_{uuid.uuid4().hex[:8]}"
    result = cli_env.invoke(
        cli,
        [
            "users",
            "add",
            name,
            "--org",
            "LUHFT",
            "--roles",
            "discharge_team,ward_clinician",
            "--name",
            "Sam Ward",
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"added {name} (LUHFT): discharge_team ward_clinician" in result.output
    bad = cli_env.invoke(cli, ["users", "add", name + "x", "--org", "LUHFT", "--roles", "wizard"])
    assert bad.exit_code == 1
    assert "unknown roles: wizard" in bad.output

    issued = cli_env.invoke(cli, ["tokens", "create", name, "--label", "laptop"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[0]
    assert token.startswith("hf_")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/pathways", headers=headers).status_code == 200

    revoked = cli_env.invoke(cli, ["tokens", "revoke", token[:10]])
    assert revoked.exit_code == 0
    assert "revoked 1 token(s)" in revoked.output
    assert client.get("/api/v1/pathways", headers=headers).status_code == 401


def test_clock_sweep_command_runs(cli_env: CliRunner) -> None:
    result = cli_env.invoke(cli, ["clocks", "sweep"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("warnings: ")
