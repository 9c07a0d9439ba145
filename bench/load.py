"""Building the bench database: `alembic upgrade head`, then set-based bulk loads.

Templates (legal histories from `bench.walker`) are copied into scratch tables with COPY, and
cases are stamped out from them with `INSERT ... SELECT` over `generate_series`: no ORM loops.
Case i of a group uses template `i mod n` of that group, so the data set is deterministic for
a seed (times are relative to the run's reference instant).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from app.chc.config import COLOUR_RANK, ChcConfig
from app.chc.worklist import computed as _computed
from app.migrations_state import upgrade_to_head
from app.models import Case
from bench.nhs import nhs_numbers
from bench.walker import Template, TemplateSet

CLOCK_SLOTS = 32  # a stamped case's clocks take CLOCK_SLOTS ids from the next free one
WALKER_USER = "bench-walker"


def admin_dsn(pg_url: str) -> str:
    return (
        make_url(pg_url)
        .set(drivername="postgresql", database="postgres")
        .render_as_string(hide_password=False)
    )


def db_dsn(pg_url: str, name: str) -> str:
    return (
        make_url(pg_url)
        .set(drivername="postgresql", database=name)
        .render_as_string(hide_password=False)
    )


def sa_url(pg_url: str, name: str) -> str:
    return (
        make_url(pg_url)
        .set(drivername="postgresql+psycopg", database=name)
        .render_as_string(hide_password=False)
    )


def recreate_database(pg_url: str, name: str) -> None:
    with psycopg.connect(admin_dsn(pg_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(pg_url: str, name: str) -> None:
    with psycopg.connect(admin_dsn(pg_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build_schema(url: str) -> float:
    t0 = time.perf_counter()
    upgrade_to_head(url)
    return time.perf_counter() - t0


# -- templates into scratch tables ----------------------------------------------------------------
SCRATCH = """
CREATE UNLOGGED TABLE IF NOT EXISTS bench_tpl_cases (
    tpl int PRIMARY KEY, grp text, workflow text, wf_version int, state text, queue text,
    is_open bool, version int, site text, opened_at timestamptz, created_at timestamptz,
    updated_at timestamptz, closed_at timestamptz, attributes jsonb, n_events int);
CREATE UNLOGGED TABLE IF NOT EXISTS bench_tpl_events (
    tpl int, seq int, pathway_key text, pathway_version int, event text, from_state text,
    to_state text, actor_role text, reason text, data jsonb, occurred_at timestamptz,
    recorded_at timestamptz, backdated bool);
CREATE UNLOGGED TABLE IF NOT EXISTS bench_tpl_clocks (
    tpl int, local_id int, name text, cycle int, calendar text, budget_seconds bigint,
    warning_seconds jsonb, warnings_fired int, consumed_seconds float8, state text,
    running_since timestamptz, started_at timestamptz, stopped_at timestamptz,
    due_at timestamptz, warn_at timestamptz, next_check_at timestamptz,
    warned_at timestamptz, breached_at timestamptz);
CREATE UNLOGGED TABLE IF NOT EXISTS bench_tpl_clock_events (
    tpl int, clock_local_id int, kind text, at timestamptz, recorded_at timestamptz,
    case_event_seq int);
CREATE UNLOGGED TABLE IF NOT EXISTS bench_nhs (n int PRIMARY KEY, number text);
CREATE UNLOGGED TABLE IF NOT EXISTS bench_groups (
    grp text PRIMARY KEY, first_tpl int, n_tpl int);
"""


def _copy(
    conn: psycopg.Connection[Any], table: str, cols: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load_templates(
    conn: psycopg.Connection[Any], templates: TemplateSet
) -> dict[str, tuple[int, int]]:
    """Copy every template into the scratch tables; returns group -> (first template, count)."""
    conn.execute(SCRATCH)
    for t in (
        "bench_tpl_cases",
        "bench_tpl_events",
        "bench_tpl_clocks",
        "bench_tpl_clock_events",
        "bench_groups",
    ):
        conn.execute(f"TRUNCATE {t}")
    groups: dict[str, list[Template]] = {
        f"{wf}:{'open' if is_open else 'closed'}": ts
        for (wf, is_open), ts in templates.by_kind.items()
    }
    groups["chc:backlog"] = templates.backlog
    case_rows, event_rows, clock_rows, clock_event_rows = [], [], [], []
    spans: dict[str, tuple[int, int]] = {}
    tpl = 0
    for grp, ts in groups.items():
        spans[grp] = (tpl + 1, len(ts))
        for t in ts:
            tpl += 1
            c = t.case
            case_rows.append(
                (
                    tpl,
                    grp,
                    t.workflow,
                    t.version,
                    c["state"],
                    c["queue"],
                    c["is_open"],
                    c["version"],
                    c["site"],
                    c["opened_at"],
                    c["created_at"],
                    c["updated_at"],
                    c["closed_at"],
                    json.dumps(c["attributes"]),
                    len(t.events),
                )
            )
            for e in t.events:
                event_rows.append(
                    (
                        tpl,
                        e["seq"],
                        e["pathway_key"],
                        e["pathway_version"],
                        e["event"],
                        e["from_state"],
                        e["to_state"],
                        e["actor_role"],
                        e["reason"],
                        json.dumps(e["data"]),
                        e["occurred_at"],
                        e["recorded_at"],
                        e["backdated"],
                    )
                )
            for k in t.clocks:
                if k["local_id"] >= CLOCK_SLOTS:
                    raise SystemExit("a template has too many clock cycles; raise CLOCK_SLOTS")
                clock_rows.append(
                    (
                        tpl,
                        k["local_id"],
                        k["name"],
                        k["cycle"],
                        k["calendar"],
                        k["budget_seconds"],
                        json.dumps(k["warning_seconds"]),
                        k["warnings_fired"],
                        k["consumed_seconds"],
                        k["state"],
                        k["running_since"],
                        k["started_at"],
                        k["stopped_at"],
                        k["due_at"],
                        k["warn_at"],
                        k["next_check_at"],
                        k["warned_at"],
                        k["breached_at"],
                    )
                )
            for ev in t.clock_events:
                clock_event_rows.append(
                    (
                        tpl,
                        ev["clock_local_id"],
                        ev["kind"],
                        ev["at"],
                        ev["recorded_at"],
                        ev["case_event_seq"],
                    )
                )
    _copy(
        conn,
        "bench_tpl_cases",
        (
            "tpl",
            "grp",
            "workflow",
            "wf_version",
            "state",
            "queue",
            "is_open",
            "version",
            "site",
            "opened_at",
            "created_at",
            "updated_at",
            "closed_at",
            "attributes",
            "n_events",
        ),
        case_rows,
    )
    _copy(
        conn,
        "bench_tpl_events",
        (
            "tpl",
            "seq",
            "pathway_key",
            "pathway_version",
            "event",
            "from_state",
            "to_state",
            "actor_role",
            "reason",
            "data",
            "occurred_at",
            "recorded_at",
            "backdated",
        ),
        event_rows,
    )
    _copy(
        conn,
        "bench_tpl_clocks",
        (
            "tpl",
            "local_id",
            "name",
            "cycle",
            "calendar",
            "budget_seconds",
            "warning_seconds",
            "warnings_fired",
            "consumed_seconds",
            "state",
            "running_since",
            "started_at",
            "stopped_at",
            "due_at",
            "warn_at",
            "next_check_at",
            "warned_at",
            "breached_at",
        ),
        clock_rows,
    )
    _copy(
        conn,
        "bench_tpl_clock_events",
        ("tpl", "clock_local_id", "kind", "at", "recorded_at", "case_event_seq"),
        clock_event_rows,
    )
    _copy(
        conn,
        "bench_groups",
        ("grp", "first_tpl", "n_tpl"),
        [(g, a, n) for g, (a, n) in spans.items()],
    )
    conn.execute("ANALYZE bench_tpl_cases; ANALYZE bench_tpl_events; ANALYZE bench_tpl_clocks")
    return spans


def load_nhs(conn: psycopg.Connection[Any], count: int) -> None:
    conn.execute(SCRATCH)
    have = conn.execute("SELECT count(*) FROM bench_nhs").fetchone()
    if have and have[0] >= count:
        return
    conn.execute("TRUNCATE bench_nhs")
    _copy(conn, "bench_nhs", ("n", "number"), enumerate(nhs_numbers(start=0, count=count)))


def avg_events(conn: psycopg.Connection[Any], grp: str) -> float:
    row = conn.execute(
        "SELECT avg(n_events) FROM bench_tpl_cases WHERE grp = %s", (grp,)
    ).fetchone()
    return float(row[0]) if row and row[0] is not None else 0.0


# -- stamping cases out -------------------------------------------------------------------------
@dataclass
class Stamp:
    grp: str
    count: int
    organisation: str


def next_case_id(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute("SELECT coalesce(max(id), 0) FROM cases").fetchone()
    return int(row[0]) + 1 if row else 1


def stamp(
    conn: psycopg.Connection[Any], stamps: Sequence[Stamp], walker_id: int, nhs_count: int
) -> dict[str, int]:
    """Insert cases, events, clocks and clock evidence for each stamp; returns rows added."""
    conn.execute(
        "SET session_replication_role = replica"
    )  # skip FK checks: consistent by construction
    conn.execute("SET synchronous_commit = off")
    conn.execute("DROP TABLE IF EXISTS bench_instances")
    conn.execute(
        "CREATE UNLOGGED TABLE bench_instances (case_id bigint PRIMARY KEY, tpl int, patient_ref text, organisation text)"
    )
    first = base_case = next_case_id(conn)
    row = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM clocks").fetchone()
    clock_base = int(row[0]) if row else 1
    for s in stamps:
        if s.count <= 0:
            continue
        conn.execute(
            """
            INSERT INTO bench_instances (case_id, tpl, patient_ref, organisation)
            SELECT %(first)s + i, g.first_tpl + (i %% g.n_tpl), n.number, %(org)s
            FROM generate_series(0, %(count)s - 1) AS i
            JOIN bench_groups g ON g.grp = %(grp)s
            JOIN bench_nhs n ON n.n = (%(first)s + i) %% %(nhs)s
            """,
            {
                "first": first,
                "count": s.count,
                "grp": s.grp,
                "org": s.organisation,
                "nhs": nhs_count,
            },
        )
        first += s.count
    conn.execute("ANALYZE bench_instances")
    added: dict[str, int] = {}
    cur = conn.execute(
        """
        INSERT INTO cases (id, workflow_key, workflow_version, state, queue, is_open, version,
                           patient_ref, organisation, site, opened_at, created_at, updated_at,
                           closed_at, attributes)
        SELECT i.case_id, t.workflow, t.wf_version, t.state, t.queue, t.is_open, t.version,
               i.patient_ref,
               i.organisation, t.site, t.opened_at, t.created_at, t.updated_at, t.closed_at,
               t.attributes
        FROM bench_instances i JOIN bench_tpl_cases t ON t.tpl = i.tpl
        ORDER BY i.case_id
        """
    )
    added["cases"] = cur.rowcount
    cur = conn.execute(
        """
        INSERT INTO case_events (case_id, seq, pathway_key, pathway_version, event, from_state,
                                 to_state, actor_id, actor_username, actor_role, actor_org, reason,
                                 data, occurred_at, recorded_at, backdated, idempotency_key)
        SELECT i.case_id, e.seq, e.pathway_key, e.pathway_version, e.event, e.from_state,
               e.to_state, %(walker)s, %(walker_name)s, e.actor_role, i.organisation, e.reason,
               e.data, e.occurred_at, e.recorded_at, e.backdated, NULL
        FROM bench_instances i JOIN bench_tpl_events e ON e.tpl = i.tpl
        ORDER BY e.recorded_at, i.case_id, e.seq
        """,
        {"walker": walker_id, "walker_name": WALKER_USER},
    )
    added["case_events"] = cur.rowcount
    cur = conn.execute(
        f"""
        INSERT INTO clocks (id, case_id, name, cycle, calendar, budget_seconds, warning_seconds,
                            warnings_fired, consumed_seconds, state, running_since, started_at,
                            stopped_at, due_at, warn_at, next_check_at, warned_at, breached_at)
        SELECT {clock_base} + (i.case_id - {base_case}) * {CLOCK_SLOTS} + k.local_id, i.case_id, k.name, k.cycle, k.calendar,
               k.budget_seconds, k.warning_seconds, k.warnings_fired, k.consumed_seconds, k.state,
               k.running_since, k.started_at, k.stopped_at, k.due_at, k.warn_at, k.next_check_at,
               k.warned_at, k.breached_at
        FROM bench_instances i JOIN bench_tpl_clocks k ON k.tpl = i.tpl
        """
    )
    added["clocks"] = cur.rowcount
    cur = conn.execute(
        f"""
        INSERT INTO clock_events (clock_id, case_id, kind, at, recorded_at, case_event_seq,
                                  dedupe_key, threshold_seconds)
        SELECT {clock_base} + (i.case_id - {base_case}) * {CLOCK_SLOTS} + ce.clock_local_id, i.case_id, ce.kind, ce.at,
               ce.recorded_at, ce.case_event_seq, NULL, NULL
        FROM bench_instances i JOIN bench_tpl_clock_events ce ON ce.tpl = i.tpl
        """
    )
    added["clock_events"] = cur.rowcount
    conn.execute("SET session_replication_role = origin")
    for table in ("cases", "case_events", "clocks", "clock_events"):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"
        )
    return added


def add_work_items(
    conn: psycopg.Connection[Any], cfg: ChcConfig, organisation: str, now: datetime
) -> int:
    """Work items for the backlog, rated exactly as `app.chc.worklist.refresh` would rate them."""
    rows = conn.execute(
        """
        SELECT t.tpl, t.state, t.attributes, t.opened_at
        FROM bench_tpl_cases t WHERE t.grp = 'chc:backlog'
        """
    ).fetchall()
    values: list[tuple[Any, ...]] = []
    for tpl, state, attrs, opened_at in rows:
        case = Case(state=state, attributes=attrs, opened_at=opened_at, organisation=organisation)
        v = _computed(case, cfg, now)
        values.append(
            (
                tpl,
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
            )
        )
    conn.execute(
        """CREATE UNLOGGED TABLE IF NOT EXISTS bench_tpl_rating (
            tpl int PRIMARY KEY, cohort text, responsible_body text, waiting_since timestamptz,
            computed_rag text, rule_ids jsonb, reasons jsonb, ruleset_version text,
            rated_at timestamptz, rag text, rag_rank int)"""
    )
    conn.execute("TRUNCATE bench_tpl_rating")
    _copy(
        conn,
        "bench_tpl_rating",
        (
            "tpl",
            "cohort",
            "responsible_body",
            "waiting_since",
            "computed_rag",
            "rule_ids",
            "reasons",
            "ruleset_version",
            "rated_at",
            "rag",
            "rag_rank",
        ),
        values,
    )
    cur = conn.execute(
        """
        INSERT INTO chc_work_items (case_id, organisation, cohort, responsible_body, waiting_since,
            computed_rag, rule_ids, reasons, ruleset_version, rated_at, rating_seq, override_rag,
            override_reason, override_by, override_at, rag, rag_rank, claimed_by_id, claimed_by,
            claimed_at, claim_expires_at)
        SELECT c.id, c.organisation, r.cohort, r.responsible_body, r.waiting_since, r.computed_rag,
               r.rule_ids, r.reasons, r.ruleset_version, r.rated_at, 1, NULL, NULL, NULL, NULL,
               r.rag, r.rag_rank, NULL, NULL, NULL, NULL
        FROM cases c
        JOIN bench_instances i ON i.case_id = c.id
        JOIN bench_tpl_rating r ON r.tpl = i.tpl
        WHERE c.organisation = %s
        ON CONFLICT DO NOTHING
        """,
        (organisation,),
    )
    return cur.rowcount


def analyze(conn: psycopg.Connection[Any]) -> None:
    conn.execute("VACUUM ANALYZE cases")
    conn.execute("VACUUM ANALYZE case_events")
    conn.execute("ANALYZE clocks")
    conn.execute("ANALYZE clock_events")
    conn.execute("ANALYZE chc_work_items")


def counts(conn: psycopg.Connection[Any]) -> dict[str, int]:
    out = {}
    for name, sql in {
        "cases": "SELECT count(*) FROM cases",
        "open_cases": "SELECT count(*) FROM cases WHERE is_open",
        "case_events": "SELECT count(*) FROM case_events",
        "clocks": "SELECT count(*) FROM clocks",
    }.items():
        row = conn.execute(sql).fetchone()
        out[name] = int(row[0]) if row else 0
    return out
