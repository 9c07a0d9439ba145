"""The command line against a real database: users, tokens, sweep, demo data."""

from __future__ import annotations

import re

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


def test_metrics_check_and_rebuild_from_the_command_line(
    cli_env: CliRunner, client: TestClient, sessions, make_user
) -> None:
    from sqlalchemy import update

    from app.models.spell import DischargeSpell
    from tests.discharge.helpers import NHS, TEAM, fire, open_case
    from tests.helpers import Api

    user = make_user(*TEAM)
    api = Api(client, user.headers)
    case = open_case(api, NHS[5], site="AINTREE")
    fire(api, case["id"], "accept")
    fire(api, case["id"], "not_meeting_ctr")
    ok = cli_env.invoke(cli, ["metrics", "check", "--org", user.org])
    assert ok.exit_code == 0, ok.output
    assert "equal the plain derivation" in ok.output
    assert "discharge_spells: 0 difference(s)" in ok.output
    # A projection row that no longer matches its events is found, and a rebuild mends it.
    with sessions() as session:
        session.execute(
            update(DischargeSpell)
            .where(DischargeSpell.case_id == case["id"])
            .values(nctr_last_start=None, drd_day=None)
        )
        session.commit()
    broken = cli_env.invoke(cli, ["metrics", "check", "--org", user.org])
    assert broken.exit_code == 1
    assert "nctr_remaining: 1 != 0" in broken.output
    assert f"discharge case {case['id']}: drd_day is None" in broken.output
    rebuilt = cli_env.invoke(cli, ["metrics", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert re.search(r"^discharge_spells: [1-9]\d* row\(s\) derived", rebuilt.output, re.M)
    assert cli_env.invoke(cli, ["metrics", "check", "--org", user.org]).exit_code == 0


def test_the_system_role_is_granted_only_when_asked_for_in_so_many_words(
    cli_env: CliRunner,
) -> None:
    import uuid

    name = f"svc_{uuid.uuid4().hex[:8]}"
    add = ["users", "add", name, "--org", "LUHFT", "--roles", "system"]
    refused = cli_env.invoke(cli, add)
    assert refused.exit_code == 1
    assert "system is internal to the service" in refused.output
    granted = cli_env.invoke(cli, [*add, "--allow-internal-roles"])
    assert granted.exit_code == 0, granted.output
    assert f"added {name} (LUHFT): system" in granted.output


def test_a_username_in_two_organisations_needs_the_organisation(
    cli_env: CliRunner, client: TestClient
) -> None:
    import uuid

    name = f"twin_{uuid.uuid4().hex[:8]}"
    for org, roles in (("LUHFT", "analyst"), ("MLCSU", "manager")):
        added = cli_env.invoke(cli, ["users", "add", name, "--org", org, "--roles", roles])
        assert added.exit_code == 0, added.output
    ambiguous = cli_env.invoke(cli, ["tokens", "create", name])
    assert ambiguous.exit_code == 1
    assert "exists in 2 organisations (LUHFT, MLCSU)" in ambiguous.output
    issued = cli_env.invoke(cli, ["tokens", "create", name, "--org", "MLCSU"])
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[0]
    listed = client.get("/api/v1/admin/users", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 403  # the MLCSU manager's token, not the LUHFT analyst's
    r = client.get("/api/v1/pathways", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    # Commands acting as a user by name say so too, rather than pick one.
    acted = cli_env.invoke(cli, ["chc", "panel", "--user", name])
    assert acted.exit_code == 1
    assert "exists in 2 organisations" in acted.output
