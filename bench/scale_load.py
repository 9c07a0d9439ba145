"""Loading the scale point (`python -m bench scale`): cases and events stamped out set-based in
chunks, and the read models filled to match without deriving a million cases one by one.

The cases of one template have the same events (only the case id, patient and organisation
differ), so they have the same read-model rows. The app's own derivation runs once per template
(`rederive` on one case of each), and the rows of every other case of that template are copied
from it with `INSERT ... SELECT`, the case id and organisation replaced. `spot_check` then derives
a random sample again with the app's code and counts the rows that differ.
"""

from __future__ import annotations

import json
import random
from typing import Any

import psycopg

from app.chc.config import COLOUR_RANK, ChcConfig
from app.chc.worklist import computed as rated
from app.db import UnitOfWork, make_engine, make_sessionmaker
from app.discharge.projection import rederive
from app.models import Case
from bench import load

INSTANCES = """
CREATE UNLOGGED TABLE IF NOT EXISTS bench_scale_instances (
    case_id bigint PRIMARY KEY, tpl int, organisation text, stage int);
CREATE UNLOGGED TABLE IF NOT EXISTS bench_scale_reps (tpl int PRIMARY KEY, case_id bigint);
"""
# Read-model tables copied per template: (table, columns that belong to the instance).
COPIED = ("discharge_spells", "discharge_delay_periods", "chc_work_items")


def stamp_chunk(
    conn: psycopg.Connection[Any],
    stamps: list[load.Stamp],
    walker: int,
    nhs: int,
    stage: int,
) -> dict[str, int]:
    """`load.stamp` for one chunk, remembering which template each new case came from."""
    conn.execute(INSTANCES)
    added = load.stamp(conn, stamps, walker, nhs)
    conn.execute(
        "INSERT INTO bench_scale_instances (case_id, tpl, organisation, stage) "
        "SELECT case_id, tpl, organisation, %s FROM bench_instances",
        (stage,),
    )
    return added


def _columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def fill_read_models(
    conn: psycopg.Connection[Any], url: str, cfg: ChcConfig, stage: int, now: Any
) -> dict[str, int]:
    """The discharge spell projection and the CHC work list for the cases of `stage`."""
    conn.execute(INSTANCES)
    # One case of each discharge and CHC template not represented yet: derived by the app.
    conn.execute(
        """
        INSERT INTO bench_scale_reps (tpl, case_id)
        SELECT i.tpl, min(i.case_id) FROM bench_scale_instances i
        JOIN bench_tpl_cases t ON t.tpl = i.tpl
        WHERE i.stage = %s AND t.workflow IN ('discharge', 'chc')
          AND NOT EXISTS (SELECT 1 FROM bench_scale_reps r WHERE r.tpl = i.tpl)
        GROUP BY i.tpl
        """,
        (stage,),
    )
    new_reps = [
        int(r[0])
        for r in conn.execute(
            "SELECT r.case_id FROM bench_scale_reps r JOIN bench_scale_instances i "
            "ON i.case_id = r.case_id WHERE i.stage = %s",
            (stage,),
        ).fetchall()
    ]
    sa_engine = make_engine(url)
    try:
        with make_sessionmaker(sa_engine)() as session, UnitOfWork(session):
            rederive(session, new_reps)
    finally:
        sa_engine.dispose()
    _rate_chc_reps(conn, cfg, stage, now)
    out: dict[str, int] = {"derived_by_the_app": len(new_reps)}
    for table in COPIED:
        cols = _columns(conn, table)
        picked = ", ".join(f"i.{c}" if c in ("case_id", "organisation") else f"m.{c}" for c in cols)
        cur = conn.execute(
            f"""
            INSERT INTO {table} ({", ".join(cols)})
            SELECT {picked} FROM bench_scale_instances i
            JOIN bench_scale_reps r ON r.tpl = i.tpl
            JOIN {table} m ON m.case_id = r.case_id
            WHERE i.stage = %s AND i.case_id <> r.case_id
            """,  # noqa: S608 - table and column names from the schema, not from input
            (stage,),
        )
        out[table] = cur.rowcount
    return out


def _rate_chc_reps(conn: psycopg.Connection[Any], cfg: ChcConfig, stage: int, now: Any) -> None:
    """Work items for the open CHC representatives, rated by the app's own rating code (as
    `app.chc.worklist.refresh` rates them); their copies follow in `fill_read_models`."""
    rows = conn.execute(
        """
        SELECT c.id, c.state, c.attributes, c.opened_at, c.organisation
        FROM bench_scale_reps r JOIN bench_scale_instances i ON i.case_id = r.case_id
        JOIN cases c ON c.id = r.case_id
        WHERE i.stage = %s AND c.workflow_key = 'chc' AND c.is_open
        """,
        (stage,),
    ).fetchall()
    for case_id, state, attrs, opened_at, org in rows:
        v = rated(
            Case(state=state, attributes=attrs, opened_at=opened_at, organisation=org), cfg, now
        )
        conn.execute(
            """
            INSERT INTO chc_work_items (case_id, organisation, cohort, responsible_body,
                waiting_since, computed_rag, rule_ids, reasons, ruleset_version, rated_at,
                rating_seq, rag, rag_rank)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1, %s, %s)
            ON CONFLICT DO NOTHING
            """,
            (
                case_id,
                org,
                v["cohort"],
                v["responsible_body"],
                v["waiting_since"],
                v["computed_rag"],
                json.dumps(v["rule_ids"]),
                json.dumps(v["reasons"]),
                v["ruleset_version"],
                v["rated_at"],
                v["computed_rag"],
                COLOUR_RANK[v["computed_rag"]],
            ),
        )


def _rows(conn: psycopg.Connection[Any], ids: list[int]) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for table in ("discharge_spells", "discharge_delay_periods"):
        cols = ", ".join(_columns(conn, table))
        out[table] = [
            tuple(r)
            for r in conn.execute(
                f"SELECT {cols} FROM {table} WHERE case_id = ANY(%s) ORDER BY 1, 2",  # noqa: S608
                (ids,),
            ).fetchall()
        ]
    return out


def spot_check(conn: psycopg.Connection[Any], url: str, sample: int, seed: int) -> dict[str, Any]:
    """Derive `sample` random copied discharge cases again with the app's code: the rows the
    copy wrote must be the rows the derivation writes."""
    top = conn.execute(
        "SELECT count(*) FROM bench_scale_instances i JOIN cases c ON c.id = i.case_id "
        "WHERE c.workflow_key = 'discharge'"
    ).fetchone()
    n = int(top[0]) if top else 0
    rng = random.Random(seed)
    offsets = sorted(rng.sample(range(n), min(sample, n)))
    ids = [
        int(r[0])
        for r in conn.execute(
            "SELECT i.case_id FROM bench_scale_instances i JOIN cases c ON c.id = i.case_id "
            "WHERE c.workflow_key = 'discharge' AND i.case_id = ANY(("
            "SELECT array_agg(case_id) FROM (SELECT i2.case_id, row_number() OVER "
            "(ORDER BY i2.case_id) - 1 AS k FROM bench_scale_instances i2 JOIN cases c2 "
            "ON c2.id = i2.case_id WHERE c2.workflow_key = 'discharge') s "
            "WHERE k = ANY(%s))::bigint[])",
            (offsets,),
        ).fetchall()
    ]
    before = _rows(conn, ids)
    sa_engine = make_engine(url)
    try:
        with make_sessionmaker(sa_engine)() as session, UnitOfWork(session):
            rederive(session, ids)
    finally:
        sa_engine.dispose()
    after = _rows(conn, ids)
    differing = sum(len(set(before[t]) ^ set(after[t])) for t in before)
    return {"cases": len(ids), "rows": sum(len(v) for v in after.values()), "differ": differing}


def drop_scratch(conn: psycopg.Connection[Any]) -> None:
    conn.execute("DROP TABLE IF EXISTS bench_scale_instances, bench_scale_reps, bench_instances")
