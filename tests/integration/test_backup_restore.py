"""Backup and restore as docs/operations.md describes it, on PostgreSQL only (pg_dump has no
SQLite counterpart: a SQLite file is copied with `.backup`).

A fresh database is migrated and loaded: the demo (every workflow through the real transition
entry point, CHC lists imported, users and tokens), a few hundred cases with their histories
stamped out from legal walks through the engine (bench/walker.py, bench/load.py), the read
models derived again as `homefirst metrics rebuild` does, stored daily snapshots, today's live
figures and audited reads over HTTP. The real `pg_dump -Fc` and `pg_restore` binaries copy it
into a new database, which must then hold the same schema objects and, in every table of the
schema, the same rows; its sequences must carry on; `homefirst db upgrade` must change nothing
and `homefirst metrics check` must find the read models equal to their events.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from app.chc.config import chc_config
from app.chc.worklist import worklist_states
from app.composition import build_parts, workflows
from app.config import PROJECT_ROOT, Settings
from app.dashboard.context import context_for
from app.dashboard.service import store_day
from app.db import UnitOfWork, make_engine, make_sessionmaker
from app.demo import DEMO_ORG, load_demo
from app.main import create_app
from app.migrations_state import upgrade_to_head
from app.models import Base
from app.timeutil import london_date, utcnow
from bench import load
from bench.walker import make_templates
from tests.conftest import REQUIRE_PG, PostgresDatabases
from tests.db_contents import contents, schema, tables
from tests.discharge.helpers import NHS, london
from tests.servers import NOTHING_IN_THE_BACKGROUND, process_env, run_python

BULK_ORG = "RESTORE-TRUST"
SCRATCH_PREFIX = "bench_"  # the bulk loader's scratch tables, dropped before the dump


def _binary(name: str, major: int) -> str:
    """The client of the server's own major version (pg_dump refuses a newer server)."""
    for candidate in (Path(f"/usr/lib/postgresql/{major}/bin/{name}"), shutil.which(name)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    message = f"{name} (PostgreSQL {major} client) not found: apt-get install postgresql-client"
    if REQUIRE_PG:
        pytest.fail(message)
    pytest.skip(message)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass(frozen=True)
class Loaded:
    url: str
    token: str  # the demo user's: it must work on the restored database too


@pytest.fixture(scope="module")
def loaded(pg_databases: PostgresDatabases, request: pytest.FixtureRequest) -> Loaded:
    """A migrated database with every kind of data in it; dropped at the end."""
    url = pg_databases.create()  # empty: migrated here, as a new installation would be
    pg_databases.drop_when_finished(url, request)
    upgrade_to_head(url)
    settings = Settings(database_url=url, **{k.lower(): 0 for k in NOTHING_IN_THE_BACKGROUND})
    parts = build_parts(settings)
    cfg = chc_config(PROJECT_ROOT / "pathways" / "config")
    sa_engine = make_engine(url)
    sessions = make_sessionmaker(sa_engine)
    now = utcnow()
    demo = load_demo(sessions, parts.writer, workflows(), chc_cfg=cfg, now=now)
    _stamp_bulk(url, parts, now)
    for name in parts.writer.read_models.names():  # what `homefirst metrics rebuild` does
        with sessions() as session, UnitOfWork(session):
            parts.writer.read_models.get(name).rebuild(session, now=now)
    ctx = context_for(settings, parts.engine.catalogue)
    with sessions() as session:
        for days_ago in (1, 2, 3):
            store_day(session, ctx=ctx, day=london_date(now) - timedelta(days=days_ago), now=now)
    sa_engine.dispose()
    # Reads and writes over HTTP: live figures stored, reads audited, an idempotent transition.
    live = Settings(
        database_url=url, clock_sweep_interval_seconds=0, live_figures_max_age_seconds=600
    )
    headers = {"Authorization": f"Bearer {demo.token.token}"}
    with TestClient(create_app(live)) as client:
        for path in ("/api/v1/dashboard/metrics", "/api/v1/rfd", "/api/v1/queues/chc"):
            assert client.get(path, headers=headers).status_code == 200, path
        case_id = _open_and_fire(client, {**headers, "Idempotency-Key": uuid.uuid4().hex}, NHS[5])
        shared = client.post(
            f"/api/v1/cases/{case_id}/shares",
            headers=headers,
            json={"organisation": "CARE-HUB", "reason": "the care transfer hub works it"},
        )
        assert shared.status_code == 201, shared.text
        claimed = client.post("/api/v1/queues/chc/claim", headers=headers)
        assert claimed.status_code == 200, claimed.text
    return Loaded(url, demo.token.token)


def _stamp_bulk(url: str, parts: Any, now: Any) -> None:
    """About 600 cases with legal histories in all three workflows, stamped out set-based."""
    templates = make_templates(
        parts.engine,
        parts.codes,
        now0=now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1),
        per_kind=12,
        seed=20261204,
        workflows=("discharge", "chc", "sample-referral"),
        organisation=BULK_ORG,
        backlog_org=BULK_ORG,
        backlog_states=worklist_states(parts.engine),
    )
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        walker = conn.execute("SELECT id FROM users ORDER BY id LIMIT 1").fetchone()
        assert walker is not None
        load.load_templates(conn, templates)
        load.load_nhs(conn, 2_000)
        stamps = [
            load.Stamp(f"{wf}:{kind}", 100, BULK_ORG)
            for wf in ("discharge", "chc", "sample-referral")
            for kind in ("open", "closed")
        ]
        load.stamp(conn, stamps, int(walker[0]), 2_000)
        scratch = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE %s",
            (SCRATCH_PREFIX + "%",),
        ).fetchall()
        for (table,) in scratch:
            conn.execute(f'DROP TABLE "{table}"')


def _open_and_fire(client: TestClient, headers: dict[str, str], nhs: str) -> int:
    """Open a discharge case and mark it not meeting the criteria to reside, through the
    API; returns the case's id."""
    opened = client.post(
        "/api/v1/cases",
        headers=headers,
        json={
            "workflow": "discharge",
            "site": "AINTREE",
            "patient_ref": nhs,
            "data": {"hospital_system": "LUHFT", "ward": "Ward 7", "admitted_at": london(3, 9)},
            "occurred_at": london(3, 10),
            "reason": "referral entered from the ward",
        },
    )
    assert opened.status_code == 201, opened.text
    case_id = int(opened.json()["id"])
    fired = client.post(
        f"/api/v1/cases/{case_id}/events",
        headers={**headers, "If-Match": '"1"', "Idempotency-Key": uuid.uuid4().hex},
        json={"event": "not_meeting_ctr", "data": {"ctr_note": "medically optimised"}},
    )
    assert fired.status_code == 200, fired.text
    return case_id


def _max_ids(conn: psycopg.Connection[Any]) -> tuple[int, int]:
    row = conn.execute(
        "SELECT (SELECT max(id) FROM cases), (SELECT max(id) FROM case_events)"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


# -- the test -------------------------------------------------------------------------------------
def test_a_restored_dump_holds_every_row_and_carries_on(
    loaded: Loaded,
    pg_databases: PostgresDatabases,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    with psycopg.connect(_dsn(loaded.url)) as conn:
        major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10_000  # type: ignore[index]
    dump = tmp_path / "homefirst.dump"
    _client([_binary("pg_dump", major), "--format=custom", f"--file={dump}", _dsn(loaded.url)])
    restored = pg_databases.create()  # a new, empty database, as the guide says
    pg_databases.drop_when_finished(restored, request)
    _client(
        [
            _binary("pg_restore", major),
            "--exit-on-error",
            "--no-owner",
            f"--dbname={_dsn(restored)}",
            str(dump),
        ]
    )
    _check_restored(loaded, restored)


def _client(args: list[str]) -> None:
    """Run a PostgreSQL client program; it must exit 0 (its messages are the failure's)."""
    done = subprocess.run(  # noqa: S603 - the PostgreSQL client, our own arguments
        args, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{args[0]}: exit {done.returncode}\n{done.stderr}"


def _check_restored(loaded: Loaded, restored: str) -> None:
    with psycopg.connect(_dsn(loaded.url)) as a, psycopg.connect(_dsn(restored)) as b:
        names = tables(a)
        # Every table the application's models declare, and Alembic's own: nothing else.
        assert set(names) == {*Base.metadata.tables, "alembic_version"}
        assert tables(b) == names
        schema_a, schema_b = schema(a), schema(b)
        for kind, objects in schema_a.items():
            assert schema_b[kind] == objects, (kind, set(objects) ^ set(schema_b[kind]))
        filled = []
        for table in names:
            rows = contents(a, table)
            assert contents(b, table) == rows, f"{table} differs after the restore"
            if rows:
                filled.append(table)
        counts = {
            t: int(a.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])  # type: ignore[index]  # noqa: S608
            for t in ("cases", "case_events", "discharge_spells", "chc_work_items")
        }
        before = _max_ids(a)
    # The comparison covered the data that matters: every case and event, every read model.
    assert counts["cases"] >= 600, counts
    assert counts["case_events"] >= 5_000, counts
    for table in (
        "users",
        "api_tokens",
        "case_events",
        "clocks",
        "clock_events",
        "discharge_spells",
        "discharge_delay_periods",
        "chc_work_items",
        "chc_imports",
        "ic_placements",
        "ic_services",
        "live_figures",
        "metric_snapshots",
        "idempotency_keys",
        "access_records",
        "case_shares",
        "case_share_changes",
        "chc_claim_log",
        "alembic_version",
    ):
        assert table in filled, f"{table} was empty: the comparison proved nothing about it"

    env = process_env(restored, NOTHING_IN_THE_BACKGROUND)
    assert "database at head" in run_python(["-m", "app.cli", "db", "upgrade"], env)
    # Sequences carry on: a new case and a transition through the service get new ids.
    settings = Settings(database_url=restored, clock_sweep_interval_seconds=0)
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {loaded.token}"}  # the demo token, restored
        case_id = _open_and_fire(client, headers, NHS[6])
    with psycopg.connect(_dsn(restored)) as b:
        new_case, new_event = _max_ids(b)
        fresh = b.execute(
            "SELECT count(*) FROM case_events WHERE case_id = %s AND id > %s", (case_id, before[1])
        ).fetchone()
    assert new_case == case_id > before[0]
    assert new_event > before[1]
    assert fresh == (2,)
    checked = run_python(["-m", "app.cli", "metrics", "check", "--org", DEMO_ORG], env)
    assert "the read models (and figures) equal the plain derivation" in checked, checked
