"""Migrations are safe on live data: upgrading a database that holds cases loses nothing.

The data is real: users, tokens, cases and their events, clocks, idempotency keys, a linked
case, a CHC backlog import (cases, provenance, reconciliation) and an IC service, written
through the HTTP API into a scratch database at head. It is then loaded, column by column, into
a database at the previous revision (the columns that revision has), and that database is
upgraded to head. Every row of every table the previous revision has must come through
unchanged; a downgrade and upgrade again must keep it too (the newest migration is reversible
for the tables that existed before it); and the service must work on the upgraded data: the
same tokens authenticate, every case reads, replays to its stored state and takes an event.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, Table, create_engine, select, text
from sqlalchemy.engine import Engine

from app.auth.service import add_user, create_token
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.engine.catalogue import PathwayCatalogue
from app.engine.replay import replay
from app.migrations_state import alembic_config, head_revision
from app.models import Case, CaseEvent
from tests.chc.helpers import ChcApi
from tests.conftest import fresh_database_url
from tests.discharge.helpers import NHS, open_case
from tests.hardening.conftest import serve
from tests.helpers import Api
from tests.ic.helpers import fresh_site, make_service

Snapshot = dict[str, list[dict[str, Any]]]


def _previous_revision() -> str:
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_revision(head_revision())
    assert head is not None
    previous = head.down_revision
    assert isinstance(previous, str), "the newest migration should have one parent"
    return previous


def _alembic(url: str, action: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["skip_logging"] = True
    getattr(command, action)(config, revision)


def _write_live_data(url: str) -> dict[str, str]:
    """Real use of the service at head; returns the tokens, by role."""
    settings = Settings(database_url=url, clock_sweep_interval_seconds=0)
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        add_user(
            session,
            username="mig_clinician",
            display_name="Mig Clinician",
            organisation="MIG-ORG",
            roles=["discharge_team", "ward_clinician", "ic_coordinator", "manager"],
        )
        add_user(
            session,
            username="mig_assessor",
            display_name="Mig Assessor",
            organisation="MIG-ORG",
            roles=["chc_assessor", "chc_panel", "chc_decision_maker"],
        )
        tokens = {
            "clinician": create_token(session, username="mig_clinician").token,
            "assessor": create_token(session, username="mig_assessor").token,
        }
    engine.dispose()
    clinician = {"Authorization": f"Bearer {tokens['clinician']}"}
    assessor = {"Authorization": f"Bearer {tokens['assessor']}"}
    with serve(settings) as client:
        api = Api(client, clinician)
        for n in range(4):
            case_id = api.create(key=f"mig-open-{n}").json()["id"]
            if n >= 1:
                api.fire(case_id, "triage", key=f"mig-triage-{n}", data={"triage_note": "ok"})
            if n >= 2:
                api.fire(case_id, "accept", data={"named_clinician": "Dr Lee"})
            if n >= 3:
                api.fire(case_id, "hold", data={"hold_reason": "patient_request"})
        discharge = open_case(api, NHS[3], site="MIGSITE")["id"]
        r = client.post(
            f"/api/v1/cases/{discharge}/links",
            headers={**clinician, "Idempotency-Key": "mig-link"},
            json={
                "workflow": "sample-referral",
                "link_type": "related",
                "data": {"priority": "urgent"},
            },
        )
        assert r.status_code == 201, r.text
        make_service(client, clinician, site=fresh_site(), model="reablement", capacity=3)
        ChcApi(client, assessor).import_list("MLCSU", "mlcsu.csv")
        ChcApi(client, assessor).import_list("LSCFT", "lscft.csv")
    return tokens


def _tables(engine: Engine) -> dict[str, Table]:
    metadata = MetaData()
    metadata.reflect(engine)
    return {t.name: t for t in metadata.sorted_tables if t.name != "alembic_version"}


def _copy(source_url: str, target_url: str) -> None:
    """Every row of the source, into the target's tables and columns (foreign keys first)."""
    source, target = create_engine(source_url), create_engine(target_url)
    try:
        source_tables, target_tables = _tables(source), _tables(target)
        with source.connect() as read, target.begin() as write:
            for name, table in target_tables.items():
                if name not in source_tables:
                    continue
                shared = [c.name for c in table.columns if c.name in source_tables[name].c]
                missing = [
                    c.name
                    for c in table.columns
                    if c.name not in shared and not c.nullable and c.server_default is None
                ]
                assert not missing, f"{name}: previous revision needs {missing}; teach _copy"
                src = source_tables[name]
                rows = [dict(r._mapping) for r in read.execute(select(*(src.c[c] for c in shared)))]
                if rows:
                    write.execute(table.insert(), rows)
                if target.dialect.name == "postgresql" and rows and "id" in table.c:
                    write.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                            f"(SELECT max(id) FROM {name}))"
                        )
                    )
    finally:
        source.dispose()
        target.dispose()


def _snapshot(url: str, only: Snapshot | None = None) -> Snapshot:
    """Every row of every table (or of the tables and columns in `only`), in key order."""
    engine = create_engine(url)
    try:
        tables = _tables(engine)
        out: Snapshot = {}
        with engine.connect() as conn:
            for name, table in tables.items():
                if only is not None and name not in only:
                    continue
                columns = list(table.columns)
                if only is not None and only[name]:
                    columns = [c for c in columns if c.name in only[name][0]]
                order = list(table.primary_key.columns) or columns
                rows = conn.execute(select(*columns).order_by(*order))
                out[name] = [dict(r._mapping) for r in rows]
        return out
    finally:
        engine.dispose()


def _assert_same(before: Snapshot, after: Snapshot, step: str) -> None:
    assert set(after) == set(before), step
    for name, rows in before.items():
        assert len(after[name]) == len(rows), f"{step}: {name} has {len(after[name])} rows"
        assert after[name] == rows, f"{step}: {name} changed"


def test_upgrading_a_database_with_cases_loses_nothing(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest, catalogue: PathwayCatalogue
) -> None:
    previous, head = _previous_revision(), head_revision()
    assert head is not None
    scratch = fresh_database_url(backend, tmp_path, request)
    _alembic(scratch, "upgrade", "head")
    tokens = _write_live_data(scratch)

    live = fresh_database_url(backend, tmp_path, request)
    _alembic(live, "upgrade", previous)
    _copy(scratch, live)
    before = _snapshot(live)
    assert len(before["cases"]) >= 10
    assert len(before["case_events"]) > len(before["cases"])

    _alembic(live, "upgrade", "head")
    _assert_same(before, _snapshot(live, only=before), f"upgrade {previous} -> {head}")
    _alembic(live, "downgrade", previous)
    _assert_same(before, _snapshot(live, only=before), f"downgrade {head} -> {previous}")
    _alembic(live, "upgrade", "head")
    _assert_same(before, _snapshot(live, only=before), f"upgrade {previous} -> {head} again")

    _assert_service_works_on(live, tokens, catalogue, [r["id"] for r in before["cases"]])
    print(  # noqa: T201 - figures for the closing note
        f"\nmigrations [{backend}]: {previous} -> {head} -> {previous} -> {head} with "
        f"{len(before['cases'])} cases, {len(before['case_events'])} events, "
        f"{sum(map(len, before.values()))} rows in {len(before)} tables; lost: 0"
    )


def _assert_service_works_on(
    url: str, tokens: dict[str, str], catalogue: PathwayCatalogue, case_ids: list[int]
) -> None:
    engine = make_engine(url)
    try:
        with make_sessionmaker(engine)() as session:
            for case in session.execute(select(Case).order_by(Case.id)).scalars():
                events = list(
                    session.execute(
                        select(CaseEvent)
                        .where(CaseEvent.case_id == case.id)
                        .order_by(CaseEvent.seq)
                    ).scalars()
                )
                projection = replay(catalogue, events)
                assert projection.problems == [], case.id
                assert (projection.state, projection.version, projection.attributes) == (
                    case.state,
                    case.version,
                    case.attributes,
                ), case.id
    finally:
        engine.dispose()
    settings = Settings(database_url=url, clock_sweep_interval_seconds=0)
    with serve(settings) as client:
        assert client.get("/readyz").json()["status"] == "ready"
        readable = 0
        for token in tokens.values():
            headers = {"Authorization": f"Bearer {token}"}
            for case_id in case_ids:
                r = client.get(f"/api/v1/cases/{case_id}", headers=headers)
                assert r.status_code in (200, 403, 404), r.text
                readable += r.status_code == 200
        assert readable >= len(case_ids)  # every case reads for one of its users
        clinician = Api(client, {"Authorization": f"Bearer {tokens['clinician']}"})
        listed = clinician.client.get(
            "/api/v1/cases",
            params={"workflow": "sample-referral", "state": "received"},
            headers=clinician.headers,
        )
        assert listed.status_code == 200, listed.text
        received = listed.json()["items"]
        assert received, "a migrated case waiting for triage"
        fired = clinician.fire(received[0]["id"], "triage")
        assert fired.json()["event"]["seq"] == 2
        # The stored idempotent answer survived too: the same key replays, writing nothing.
        again = clinician.client.post(
            "/api/v1/cases",
            json={"workflow": "sample-referral", "data": {"priority": "routine"}},
            headers={**clinician.headers, "Idempotency-Key": "mig-open-0"},
        )
        assert again.status_code == 201, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
