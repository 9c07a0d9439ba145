"""Revision 0010 adds the case's sharing audit and accounts in it for every share already made:
each becomes a `shared` entry with its sharer, time and reason."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import create_engine, text

from app.migrations_state import alembic_config
from tests.conftest import fresh_database_url

AT = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def test_existing_shares_are_copied_into_the_sharing_audit(backend: str, tmp_path, request) -> None:
    url = fresh_database_url(backend, tmp_path, request)
    config = alembic_config(url)
    config.attributes["skip_logging"] = True
    command.upgrade(config, "0009")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (username, display_name, organisation, roles, active,"
                    " created_at) VALUES ('jo', 'Jo', 'TRUST', 'discharge_team', true, :at)"
                ),
                {"at": AT},
            )
            conn.execute(
                text(
                    "INSERT INTO cases (workflow_key, workflow_version, state, is_open, version,"
                    " organisation, opened_at, created_at, updated_at, attributes) VALUES"
                    " ('discharge', 1, 'referred', true, 1, 'TRUST', :at, :at, :at, '{}')"
                ),
                {"at": AT},
            )
            case_id = conn.execute(text("SELECT max(id) FROM cases")).scalar_one()
            conn.execute(
                text(
                    "INSERT INTO case_shares (case_id, organisation, reason, created_at,"
                    " created_by) VALUES (:c, 'HUB', 'hub works it', :at, 'jo'),"
                    " (:c, 'CSU', 'linked from case 1', :at, 'gone.user')"
                ),
                {"c": case_id, "at": AT},
            )
        command.upgrade(config, "0010")
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT case_id, action, organisation, reason, actor_username, actor_org,"
                    " actor_id IS NOT NULL FROM case_share_changes ORDER BY id"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            (case_id, "shared", "HUB", "hub works it", "jo", "TRUST", True),
            (case_id, "shared", "CSU", "linked from case 1", "gone.user", "unknown", False),
        ]
        command.downgrade(config, "0009")
        command.upgrade(config, "head")
    finally:
        engine.dispose()
