"""`python -m bench scale`: the one-database ceiling, by default 1 million open cases and 20
million events in one organisation (the worst case for one database: every read is scoped to it).

Two points in one run: a small one (10k open cases, 200k events) and the big one, loaded in
chunks (open cases first, then closed history up to the event target) within a time budget; if
the budget runs out the big point is measured at what was loaded, and says so. At each point,
sequentially over HTTP against uvicorn: the managers' metrics endpoint, the RFD list of one ward,
and one transition (`update_details`) on open cases spread over the whole table; the refresher's
work (computing today's figures) in-process. Baselines of the same run: `SELECT 1` on a raw
psycopg connection, an authenticated no-op route over HTTP, and the transition's own four
statements on a raw psycopg connection (bench/txn.py).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from app.chc.config import chc_config
from app.chc.worklist import worklist_states
from app.composition import build_engine, load_codes
from app.config import Settings
from app.db import make_engine, make_sessionmaker
from app.discharge.service import _rfd_states
from app.timeutil import utcnow
from bench import load, scale_load
from bench.run import OPEN_SHARE, ORG, RESULTS, WORKFLOWS, _closed_stamps, _users
from bench.run import machine as machine_info
from bench.scale_measure import measure_point
from bench.server import Server
from bench.stats import ratio
from bench.walker import make_templates


@dataclass(frozen=True)
class ScaleArgs:
    pg_url: str
    db_name: str
    open_cases: int
    events: int
    small_open: int
    small_events: int
    chunk: int
    load_minutes: float
    samples: int
    seed: int
    keep_db: bool


# -- loading --------------------------------------------------------------------------------------
def _chunks(total: int, size: int) -> list[int]:
    return [min(size, total - k) for k in range(0, total, size)] if total > 0 else []


def _stamp_stage(
    conn: psycopg.Connection[Any],
    a: ScaleArgs,
    ctx: dict[str, Any],
    open_cases: int,
    events: int,
    stage: int,
    deadline: float,
) -> dict[str, Any]:
    """Open cases, then closed ones up to `events` in all, a chunk at a time, until done or
    the deadline passes (then what was loaded is measured, and the record says so)."""
    t0 = time.perf_counter()
    plan = [
        [load.Stamp(f"{wf}:open", int(n * OPEN_SHARE[wf]), ORG) for wf in WORKFLOWS]
        for n in _chunks(open_cases, a.chunk)
    ]
    done_all = True
    for i, stamps in enumerate(plan):
        if time.perf_counter() > deadline:
            done_all = False
            break
        added = scale_load.stamp_chunk(conn, stamps, ctx["walker"], ctx["nhs"], stage)
        print(f"[{time.strftime('%H:%M:%S')}] open chunk {i + 1}/{len(plan)}: {added}", flush=True)
    if done_all:
        have = load.counts(conn)["case_events"]
        closed = _closed_stamps(conn, events - have, 0)
        total_closed = sum(s.count for s in closed)
        for n in _chunks(total_closed, a.chunk):
            if time.perf_counter() > deadline:
                done_all = False
                break
            stamps = [load.Stamp(s.grp, round(n * s.count / total_closed), ORG) for s in closed]
            added = scale_load.stamp_chunk(conn, stamps, ctx["walker"], ctx["nhs"], stage)
            print(f"[{time.strftime('%H:%M:%S')}] closed chunk: {added}", flush=True)
    stamped_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    read_models = scale_load.fill_read_models(conn, ctx["url"], ctx["cfg"], stage, utcnow())
    read_models_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    load.analyze(conn)
    conn.execute("VACUUM ANALYZE discharge_spells")
    conn.execute("VACUUM ANALYZE discharge_delay_periods")
    return {
        "complete": done_all,
        "stamp_seconds": round(stamped_s, 1),
        "read_models": read_models,
        "read_models_seconds": round(read_models_s, 1),
        "vacuum_analyze_seconds": round(time.perf_counter() - t2, 1),
        "totals": {**load.counts(conn), **_sizes(conn)},
    }


def _sizes(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    row = conn.execute(
        "SELECT pg_database_size(current_database()), pg_total_relation_size('case_events'), "
        "pg_total_relation_size('cases')"
    ).fetchone()
    gb = [round(int(v) / 1e9, 2) for v in row] if row else [None] * 3
    return {"database_gb": gb[0], "case_events_gb": gb[1], "cases_gb": gb[2]}


# -- the run ---------------------------------------------------------------------------------------
def run_scale(a: ScaleArgs) -> dict[str, Any]:
    started = time.perf_counter()
    out: dict[str, Any] = {
        "mode": "scale",
        "started_at": utcnow().isoformat(),
        "machine": machine_info(),
        "args": a.__dict__,
    }
    settings = Settings(database_url=load.sa_url(a.pg_url, a.db_name))
    codes = load_codes(settings)
    engine = build_engine(settings, codes)
    now0 = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    templates = make_templates(
        engine,
        codes,
        now0=now0,
        per_kind=60,
        seed=a.seed,
        workflows=WORKFLOWS,
        organisation=ORG,
        backlog_org="BENCH-CLAIMS",
        backlog_states=worklist_states(engine),
    )
    url = load.sa_url(a.pg_url, a.db_name)
    dsn = load.db_dsn(a.pg_url, a.db_name)
    load.recreate_database(a.pg_url, a.db_name)
    load.build_schema(url)
    sa_engine = make_engine(url)
    users = _users(make_sessionmaker(sa_engine))
    sa_engine.dispose()
    nhs = min(900_000, a.open_cases + a.events // 20)
    ctx = {
        "url": url,
        "walker": users["walker"],
        "nhs": nhs,
        "cfg": chc_config(settings.pathways_dir / "config"),
        "users": users,
        "rfd_states": _rfd_states(engine.catalogue),
    }
    server = Server(url, 1, RESULTS / "server-scale.log")
    deadline = started + 60 * a.load_minutes
    out["points"] = []
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            load.load_templates(conn, templates)
            load.load_nhs(conn, nhs)
            small = _stamp_stage(conn, a, ctx, a.small_open, a.small_events, 1, deadline)
        _say(f"small point loaded: {small}")
        server.start()
        out["points"].append({"load": small, **measure_point(dsn, a.samples, a.seed, ctx, server)})
        _say(f"small point measured: {json.dumps(out['points'][-1]['ratios_p50'])}")
        server.stop()
        with psycopg.connect(dsn, autocommit=True) as conn:
            big = _stamp_stage(conn, a, ctx, a.open_cases - a.small_open, a.events, 2, deadline)
            big["spot_check"] = scale_load.spot_check(conn, url, 500, a.seed)
            scale_load.drop_scratch(conn)
            conn.execute("CHECKPOINT")
        _say(f"big point loaded: {big}")
        server.start()
        out["points"].append({"load": big, **measure_point(dsn, a.samples, a.seed, ctx, server)})
    finally:
        server.stop()
        if not a.keep_db:
            load.drop_database(a.pg_url, a.db_name)
    out["growth_p50"] = _growth(out["points"])
    out["total_seconds"] = round(time.perf_counter() - started, 1)
    out["finished_at"] = datetime.now(UTC).isoformat()
    return out


def _say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def _growth(points: list[dict[str, Any]]) -> dict[str, Any]:
    if len(points) < 2:
        return {}
    s, b = points[0], points[-1]
    return {
        "metrics": ratio(b["metrics"]["p50_ms"], s["metrics"]["p50_ms"]),
        "rfd_ward": ratio(b["rfd_ward"]["p50_ms"], s["rfd_ward"]["p50_ms"]),
        "transition": ratio(b["transition"]["http"]["p50_ms"], s["transition"]["http"]["p50_ms"]),
        "http_noop": ratio(b["http_noop"]["p50_ms"], s["http_noop"]["p50_ms"]),
    }


def report(out: dict[str, Any]) -> str:
    lines = [f"scale run {out['started_at'][:19]}Z, {out['total_seconds']} s"]
    for p in out["points"]:
        t = p["load"]["totals"]
        lines.append(
            f"\n{t['open_cases']:,} open cases, {t['case_events']:,} events, "
            f"{t['database_gb']} GB (complete: {p['load']['complete']}; "
            f"load average {p['load_average']:.1f} -> {p['load_average_after']:.1f})"
        )
        rows = [
            ("raw SELECT 1", p["raw_select_1"]),
            ("HTTP no-op (GET /api/v1/pathways)", p["http_noop"]),
            ("GET /api/v1/dashboard/metrics", p["metrics"]),
            (
                f"GET /api/v1/rfd ward {p['ward']} ({p['rfd_ward']['rows']} rows of "
                f"{p['rfd_ward_patients']})",
                p["rfd_ward"],
            ),
            ("transition update_details (HTTP)", p["transition"]["http"]),
            ("  same four statements, raw psycopg", p["transition"]["raw_same_statements"]),
        ]
        for name, r in rows:
            lines.append(f"  {name:55} p50 {r['p50_ms']:>8} ms  p95 {r['p95_ms']:>8} ms")
        lines.append(f"  today's figures computed (refresher): {p['figures_compute_ms_best_of_3']}")
        lines.append(f"  ratios (p50): {p['ratios_p50']}")
    if out.get("growth_p50"):
        lines.append(f"\ngrowth small -> big (p50): {out['growth_p50']}")
    return "\n".join(lines)


def save(out: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-scale.json"
    text = json.dumps(out, indent=2, default=str)
    path.write_text(text)
    (RESULTS / "latest-scale.json").write_text(text)
    latest = RESULTS / "latest.json"
    merged = json.loads(latest.read_text()) if latest.exists() else {}
    merged["scale"] = out
    latest.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    return path
