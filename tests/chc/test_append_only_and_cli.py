"""CHC audit tables are append-only in the database; the command line imports with a report."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from app.auth.service import add_user
from app.cli import cli
from app.config import get_settings
from app.db import get_engine, get_sessionmaker
from tests.chc.helpers import SAMPLES, ChcApi

TABLES = (
    "chc_source_records",
    "chc_import_rejections",
    "chc_rag_ratings",
    "chc_rag_overrides",
    "chc_claim_log",
)


def test_database_refuses_changes_to_chc_audit_rows(
    client: TestClient, make_user, sessions: sessionmaker[Session]
) -> None:
    user = make_user("chc_assessor")
    api = ChcApi(client, user.headers)
    api.import_list("MLCSU", "mlcsu.csv")
    claimed = api.post("/queues/chc/claim").json()["case_id"]
    api.post(f"/chc/cases/{claimed}/rag-override", rag="amber", reason="family visiting daily")
    refused = []
    with sessions() as session:
        for table in TABLES:
            assert session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() > 0  # noqa: S608
            for verb in ("UPDATE {t} SET id = id", "DELETE FROM {t}"):
                with pytest.raises(DBAPIError, match="append-only"):
                    session.execute(text(verb.format(t=table)))
                session.rollback()
                refused.append(verb.split()[0])
    assert refused == ["UPDATE", "DELETE"] * len(TABLES)


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("DATABASE_URL", db_url)
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()
    yield CliRunner()
    get_engine().dispose()
    for cached in (get_settings, get_engine, get_sessionmaker):
        cached.cache_clear()


def test_import_from_the_command_line_twice(cli_env: CliRunner, sessions) -> None:
    name = f"cli_{uuid.uuid4().hex[:8]}"
    with sessions() as session:
        add_user(
            session,
            username=name,
            display_name=name,
            organisation=f"ORG-{name}",
            roles=["chc_assessor"],
        )
    path = str(SAMPLES / "sefton_mbc.csv")
    first = cli_env.invoke(cli, ["chc", "import", path, "--source", "Sefton MBC", "--user", name])
    assert first.exit_code == 0, first.output
    assert (
        "SEFTON-MBC (cp1252): accepted 6, merged 0, conflicts 0, rejected 2, unchanged 0"
        in first.output
    )
    assert "rejected row 9: date_of_birth '2020-13-01' is not a date" in first.output
    again = cli_env.invoke(cli, ["chc", "import", path, "--source", "Sefton MBC", "--user", name])
    assert again.exit_code == 0, again.output
    assert "already imported" in again.output
    missing = cli_env.invoke(cli, ["chc", "import", path, "--source", "X", "--user", "nobody"])
    assert missing.exit_code == 1
    assert "no active user 'nobody'" in missing.output

    panels = cli_env.invoke(cli, ["chc", "panel", "--user", name])
    assert panels.exit_code == 0, panels.output
    assert len(panels.stdout.splitlines()) == 6
    refreshed = cli_env.invoke(cli, ["chc", "refresh", "--org", f"ORG-{name}"])
    assert refreshed.exit_code == 0, refreshed.output
    assert refreshed.stdout.startswith("examined 6, new 0, re-rated 0")


def test_chc_check_command() -> None:
    result = CliRunner().invoke(cli, ["chc", "check"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok  CHC configuration (tools provisional, RAG provisional")
