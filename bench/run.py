"""The whole benchmark, in order: build, dashboard per scale point, transitions, claims, 10M
events, the raw baseline again, replay and SQLite correctness checks, report."""

from __future__ import annotations

import json
import platform
import subprocess
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import select

from app.auth.actor import Actor
from app.auth.service import add_user, create_token
from app.cases.service import encode_cursor
from app.cases.transition import CaseWriter
from app.chc.config import chc_config
from app.chc.metrics import chc_org_figures
from app.chc.worklist import worklist_states
from app.composition import build_engine, build_writer, load_codes
from app.config import PROJECT_ROOT, Settings
from app.dashboard import service as dash_service
from app.dashboard.context import context_for
from app.dashboard.service import check_live_figures
from app.db import UnitOfWork, make_engine, make_sessionmaker
from app.discharge.projection import derive_missing_default, rederive
from app.engine.readmodels import ReadModelRegistry
from app.engine.replay import replay
from app.main import create_app
from app.models import CaseEvent
from app.timeutil import london_date, utcnow
from bench import auth as auth_mod
from bench import claims as claims_mod
from bench import dashboard, load, txn
from bench.server import Server
from bench.stats import Point, ratio, table
from bench.walker import make_templates
from bench.workload import pick_cases, refresh_versions

RESULTS = Path(__file__).parent / "results"
ORG = "BENCH-ORG"
WORKFLOWS = ("discharge", "chc", "sample-referral")
OPEN_SHARE = {"discharge": 0.5, "chc": 0.3, "sample-referral": 0.2}
CLOSED_SHARE = {"discharge": 0.5, "chc": 0.3, "sample-referral": 0.2}
CLINICIAN_ROLES = ["discharge_team", "ward_clinician", "ic_coordinator", "chc_assessor", "analyst"]


@dataclass(frozen=True)
class Mode:
    name: str
    scales: tuple[int, ...]
    events: int
    events_big: int | None
    templates_per_kind: int
    seconds: float
    warmup: float
    clients: tuple[int, ...]
    pool_per_client: int
    claim_backlog: int
    claim_assessors: tuple[int, ...]
    naive_backlog: int
    dashboard_samples: int
    dashboard_budget_s: float
    claim_budget_s: float


QUICK = Mode(
    "quick", (10_000,), 300_000, None, 60, 6, 1, (1, 4, 16), 48, 1_500, (16, 32), 1_000, 15, 30, 120
)
FULL = Mode(
    "full",
    (10_000, 50_000, 100_000),
    2_000_000,
    10_000_000,
    150,
    20,
    2,
    (1, 4, 16),
    64,
    100_000,
    (16, 32),
    3_000,
    30,
    120,
    1_500,
)


@dataclass
class Ctx:
    mode: Mode
    pg_url: str
    db_name: str
    workers: int
    keep_db: bool
    seed: int
    skip: set[str]
    out: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    @property
    def dsn(self) -> str:
        return load.db_dsn(self.pg_url, self.db_name)

    @property
    def url(self) -> str:
        return load.sa_url(self.pg_url, self.db_name)

    def say(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        line = f"[{stamp}] {text}"
        print(line, flush=True)
        self.log.append(line)


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        mem = Path("/proc/meminfo").read_text().splitlines()[0].split(":", 1)[1].strip()
    except OSError:
        pass
    with_pg = ""
    try:
        with_pg = subprocess.run(
            ["pgbench", "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()  # noqa: S607
    except OSError:
        pass
    import os

    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "pgbench": with_pg,
        "platform": platform.platform(),
    }


def run(ctx: Ctx) -> dict[str, Any]:
    t_start = time.perf_counter()
    mode = ctx.mode
    ctx.out = {
        "mode": mode.name,
        "started_at": utcnow().isoformat(),
        "machine": machine(),
        "seed": ctx.seed,
    }
    settings = Settings(database_url=ctx.url, clock_sweep_interval_seconds=0)
    codes = load_codes(settings)
    engine = build_engine(settings, codes)
    cfg = chc_config(settings.pathways_dir / "config")
    with psycopg.connect(load.admin_dsn(ctx.pg_url)) as c:
        ctx.out["machine"]["postgres"] = c.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]

    # -- templates -------------------------------------------------------------------------
    now0 = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    t0 = time.perf_counter()
    templates = make_templates(
        engine,
        codes,
        now0=now0,
        per_kind=mode.templates_per_kind,
        seed=ctx.seed,
        workflows=WORKFLOWS,
        organisation=ORG,
        backlog_org="BENCH-CLAIMS",
        backlog_states=worklist_states(engine),
    )
    n_tpl = sum(len(v) for v in templates.by_kind.values()) + len(templates.backlog)
    ctx.say(
        f"walked {n_tpl} legal histories through the engine (each replayed) in {time.perf_counter() - t0:.1f}s"
    )

    # -- schema and bulk load ----------------------------------------------------------------
    load.recreate_database(ctx.pg_url, ctx.db_name)
    ctx.out["schema_seconds"] = round(load.build_schema(ctx.url), 1)
    ctx.say(f"alembic upgrade head on {ctx.db_name}: {ctx.out['schema_seconds']}s")
    sa_engine = make_engine(ctx.url)
    sessions = make_sessionmaker(sa_engine)
    users = _users(sessions)
    server = Server(ctx.url, ctx.workers, RESULTS / "server.log")
    loads: list[dict[str, Any]] = []
    try:
        with psycopg.connect(ctx.dsn, autocommit=True) as conn:
            load.load_templates(conn, templates)
            nhs = min(900_000, 2 * (mode.events_big or mode.events) // 5 + 400_000)
            load.load_nhs(conn, nhs)
            ranges = {}
            closed = _closed_stamps(conn, mode.events, mode.scales[0])
            opened = _open_stamps(mode.scales[0])
            loads.append(_stamp(ctx, conn, closed + opened, users["walker"], nhs, ranges))
        ctx.say(f"loaded: {loads[-1]}")
        server.start()
        ctx.out["server"] = {
            "workers": ctx.workers,
            "uvicorn": "app.asgi:application",
            "port": server.port,
        }
        ctx.out["dashboard"] = []
        ctx.out["dashboard"].append(_dashboard(ctx, server, users, mode.scales[0], loads[-1]))
        previous = mode.scales[0]
        for scale in mode.scales[1:]:
            with psycopg.connect(ctx.dsn, autocommit=True) as conn:
                loads.append(
                    _stamp(ctx, conn, _open_stamps(scale - previous), users["walker"], nhs, ranges)
                )
            previous = scale
            ctx.out["dashboard"].append(_dashboard(ctx, server, users, scale, loads[-1]))

        if "transitions" not in ctx.skip:
            started = utcnow()
            ctx.out["transitions"] = _transitions(
                ctx,
                sessions,
                build_writer(settings, engine, codes),
                users,
                server,
                ranges,
                settings,
            )
            # The raw psycopg loop and pgbench write cases and events with plain SQL, past the
            # service and so past the projection's hooks: derive those cases' rows again.
            ctx.out["transitions"]["spells_rederived"] = _rederive_spells(ctx, started)
        if "auth" not in ctx.skip:
            ctx.out["auth"] = auth_mod.measure(
                ctx.dsn, sessions, users["clinician_token"], mode.seconds, mode.warmup
            )
            for r in ctx.out["auth"]["ratios"]:
                ctx.say(f"authentication per request: {r}")
        if "claims" not in ctx.skip:
            ctx.out["claims"] = _claims(ctx, users, server, cfg, nhs, ranges)
        ctx.out["memory"] = {"peak_rss_mb_per_worker": server.peak_rss_mb(), "workers": ctx.workers}
        if mode.events_big and "big" not in ctx.skip:
            with psycopg.connect(ctx.dsn, autocommit=True) as conn:
                have = load.counts(conn)["case_events"]
                more = _closed_stamps(conn, mode.events_big - have, 0)
                t0 = time.perf_counter()
                loads.append(_stamp(ctx, conn, more, users["walker"], nhs, ranges))
            ctx.out["dashboard"].append(_dashboard(ctx, server, users, mode.scales[-1], loads[-1]))
            ctx.out["memory"] = {
                "peak_rss_mb_per_worker": server.peak_rss_mb(),
                "workers": ctx.workers,
            }
        if "transitions" not in ctx.skip:
            started = utcnow()
            ctx.out["transitions"]["drift"] = _drift(ctx, users, ranges)
            ctx.out["transitions"]["spells_rederived"] += _rederive_spells(ctx, started)
        if "dashboard" not in ctx.skip:
            # After every run: the projection must still equal the plain derivation.
            ctx.out["projection_after_runs"] = _projection_check(ctx)
        ctx.out["replay_check"] = _replay_check(sessions, engine, ctx)
    finally:
        server.stop()
        sa_engine.dispose()
        if not ctx.keep_db:
            load.drop_database(ctx.pg_url, ctx.db_name)
    ctx.out["loads"] = loads
    if "sqlite" not in ctx.skip:
        from bench.sqlite_check import sqlite_correctness

        ctx.out["sqlite"] = sqlite_correctness(engine, codes, templates, ctx.seed)
        ctx.say(f"sqlite correctness: {ctx.out['sqlite']}")
    ctx.out["total_seconds"] = round(time.perf_counter() - t_start, 1)
    ctx.out["targets"] = _targets(ctx.out)
    return ctx.out


# -- users ------------------------------------------------------------------------------------
def _users(sessions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with sessions() as s:
        walker = add_user(
            s,
            username=load.WALKER_USER,
            display_name="Bench walker",
            organisation=ORG,
            roles=["system"],
            allow_internal_roles=True,
        )
        out["walker"] = walker.id
        clin = add_user(
            s,
            username="bench-clinician",
            display_name="Bench clinician",
            organisation=ORG,
            roles=CLINICIAN_ROLES,
        )
        out["clinician"] = Actor(clin.id, clin.username, ORG, frozenset(CLINICIAN_ROLES))
        out["clinician_token"] = create_token(s, username="bench-clinician").token
    return out


def _assessors(sessions: Any, org: str, n: int) -> list[str]:
    tokens = []
    with sessions() as s:
        for i in range(n):
            name = f"bench-assessor-{org.lower()}-{i:02d}"
            add_user(s, username=name, display_name=name, organisation=org, roles=["chc_assessor"])
            tokens.append(create_token(s, username=name).token)
    return tokens


# -- data ---------------------------------------------------------------------------------------
def _closed_stamps(conn: psycopg.Connection[Any], events: int, open_cases: int) -> list[load.Stamp]:
    """Closed (historical) cases so the events reach `events`, after `open_cases` open ones."""
    open_events = sum(
        load.avg_events(conn, f"{wf}:open") * open_cases * OPEN_SHARE[wf] for wf in WORKFLOWS
    )
    budget = max(events - open_events, 0)
    per_case = sum(load.avg_events(conn, f"{wf}:closed") * CLOSED_SHARE[wf] for wf in WORKFLOWS)
    total_cases = int(budget / per_case) if per_case else 0
    return [
        load.Stamp(f"{wf}:closed", int(total_cases * CLOSED_SHARE[wf]), ORG) for wf in WORKFLOWS
    ]


def _open_stamps(n: int) -> list[load.Stamp]:
    return [load.Stamp(f"{wf}:open", int(n * OPEN_SHARE[wf]), ORG) for wf in WORKFLOWS]


def _stamp(
    ctx: Ctx,
    conn: psycopg.Connection[Any],
    stamps: list[load.Stamp],
    walker: int,
    nhs: int,
    ranges: dict[str, Any],
) -> dict[str, Any]:
    t0 = time.perf_counter()
    first = load.next_case_id(conn)
    added = load.stamp(conn, stamps, walker, nhs)
    for s in stamps:
        if s.count > 0:
            ranges.setdefault(s.grp + "@" + s.organisation, []).append((first, first + s.count - 1))
            first += s.count
    secs = round(time.perf_counter() - t0, 1)
    spells = _derive_spells(ctx)
    load.analyze(conn)
    c = load.counts(conn)
    ctx.say(f"stamped {added} in {secs}s, {spells}; database now {c}")
    return {"added": added, "seconds": secs, "spells": spells, "totals": c}


def _derive_spells(ctx: Ctx) -> dict[str, Any]:
    """COPY bypasses the service, so the discharge spell projection of the stamped cases is
    derived from their events afterwards, by the same code the service runs at commit."""
    t0 = time.perf_counter()
    sa_engine = make_engine(ctx.url)
    try:
        with make_sessionmaker(sa_engine)() as session, UnitOfWork(session):
            written = derive_missing_default(session)
    finally:
        sa_engine.dispose()
    return {"derived": written, "seconds": round(time.perf_counter() - t0, 1)}


# -- dashboard ----------------------------------------------------------------------------------
def _dashboard(
    ctx: Ctx, server: Server, users: dict[str, Any], scale: int, loaded: dict[str, Any]
) -> dict[str, Any]:
    if "dashboard" in ctx.skip:
        return {}
    m = ctx.mode
    with psycopg.connect(ctx.dsn) as conn:
        last = conn.execute("SELECT coalesce(max(id), 0) FROM case_events").fetchone()
    # A dashboard tailing the change feed: the page after a cursor 500 events back.
    feed_cursor = encode_cursor(max(int(last[0]) - 500, 0) if last else 0)
    res = dashboard.measure(
        server.port,
        users["clinician_token"],
        m.dashboard_samples,
        m.dashboard_budget_s,
        extra={"feed": f"/api/v1/dashboard/feed?limit=200&cursor={feed_cursor}"},
    )
    with psycopg.connect(ctx.dsn) as conn:
        found = conn.execute(
            "SELECT count(*) FROM cases WHERE is_open AND organisation = %s", (ORG,)
        ).fetchone()
    row = {
        # The dashboard is scoped to the caller's organisation: the open cases it reads over
        # (claim backlogs live in organisations of their own).
        "open_cases": int(found[0]) if found else 0,
        "scale": scale,
        "events": loaded["totals"]["case_events"],
        **res,
        "projection_check": _projection_check(ctx),
    }
    ctx.say(
        f"dashboard @ {row['open_cases']} open / {row['events']} events: "
        f"metrics p50 {res['metrics']['p50_ms']} ms p99 {res['metrics']['p99_ms']} ms "
        f"(computing them: {res['metrics']['extra']['first_ms']} ms); "
        f"rfd p50 {res['rfd']['p50_ms']} ms p99 {res['rfd']['p99_ms']} ms ({res['rfd']['extra']['rows']} rows); "
        f"feed p50 {res['feed']['p50_ms']} ms p99 {res['feed']['p99_ms']} ms"
    )
    return row


def _rederive_spells(ctx: Ctx, since: datetime) -> int:
    """Derive again the spell rows of the discharge cases written to since `since`."""
    with psycopg.connect(ctx.dsn) as conn:
        ids = [
            int(r[0])
            for r in conn.execute(
                "SELECT DISTINCT case_id FROM case_events WHERE recorded_at >= %s "
                "AND pathway_key = 'discharge'",
                (since,),
            ).fetchall()
        ]
    sa_engine = make_engine(ctx.url)
    try:
        with make_sessionmaker(sa_engine)() as session, UnitOfWork(session):
            rederive(session, ids)
    finally:
        sa_engine.dispose()
    ctx.say(f"spell projection derived again for {len(ids)} cases the raw loops wrote")
    return len(ids)


def _projection_check(ctx: Ctx) -> dict[str, Any]:
    """Today's figures from the projection against the plain derivation over the raw events,
    at one instant, for every site and all sites: they must be equal."""
    settings = Settings(database_url=ctx.url, clock_sweep_interval_seconds=0)
    mctx = context_for(settings, build_engine(settings).catalogue)
    sa_engine = make_engine(ctx.url)
    out: dict[str, Any] = {"differences": 0, "first": [], "views": 0}
    t0 = time.perf_counter()
    try:
        with make_sessionmaker(sa_engine)() as session:
            for site in (None, *dash_service.sites(session, ORG)):
                found = check_live_figures(
                    session, site=site, organisation=ORG, now=utcnow(), ctx=mctx
                )
                out["views"] += 1
                out["differences"] += len(found)
                out["first"] += found[: 5 - len(out["first"])]
                session.rollback()
            out["compute_ms"] = _compute_cost(session, mctx, settings)
    finally:
        sa_engine.dispose()
    out["seconds"] = round(time.perf_counter() - t0, 1)
    ctx.say(
        f"projection check: {out['differences']} differences over {out['views']} views; "
        f"computing today's figures (what the refresher does): {out['compute_ms']}"
    )
    return out


def _compute_cost(session: Any, mctx: Any, settings: Settings) -> dict[str, float]:
    """What computing today's figures costs (the refresher's work, which readers no longer
    wait for), best of three, in ms: discharge and IC for all sites, and the CHC figures."""
    engine = build_engine(settings)
    cfg = chc_config(settings.pathways_dir / "config")
    out: dict[str, float] = {}
    for name in ("daily", "chc"):
        best = float("inf")
        for _ in range(3):
            now = utcnow()
            t0 = time.perf_counter()
            if name == "daily":
                dash_service.compute_metrics(
                    session, day=london_date(now), site=None, organisation=ORG, now=now, ctx=mctx
                )
            else:
                chc_org_figures(
                    session, engine=engine, cfg=cfg, organisation=ORG, day=london_date(now), now=now
                )
            best = min(best, time.perf_counter() - t0)
            session.rollback()
        out[name] = round(1000 * best, 1)
    return out


# -- transitions ----------------------------------------------------------------------------------
def _transitions(
    ctx: Ctx,
    sessions: Any,
    writer: Any,
    users: dict[str, Any],
    server: Server,
    ranges: dict[str, Any],
    settings: Settings,
) -> dict[str, Any]:
    m = ctx.mode
    actor: Actor = users["clinician"]
    token = users["clinician_token"]
    biggest = max(m.clients)
    slots = pick_cases(ctx.dsn, "update", biggest * m.pool_per_client, ORG)
    mix_slots = pick_cases(ctx.dsn, "mix", biggest * m.pool_per_client, ORG)
    lo, hi = ranges[f"discharge:open@{ORG}"][0]
    rows: list[Point] = []
    out: dict[str, Any] = {
        "workload": "discharge update_details (lock, version check, update, one event)"
    }
    for clients in m.clients:
        for name in ("raw", "inproc", "http", "pgbench"):
            refresh_versions(ctx.dsn, slots)
            plans = txn.splits(slots, clients, "update")
            if name == "raw":
                p = txn.raw(ctx.dsn, actor, plans, m.seconds, m.warmup)
            elif name == "inproc":
                p = txn.inprocess(sessions, writer, actor, plans, m.seconds, m.warmup)
            elif name == "http":
                p = txn.http(server.port, token, plans, m.seconds, m.warmup)
            else:
                p = txn.pgbench(
                    "127.0.0.1", "postgres", ctx.db_name, lo, hi, actor.user_id, clients, m.seconds
                )
            rows.append(p)
            ctx.say(
                f"transitions {p.name:<12} x{clients:<2}: {p.ops_per_s:8.1f}/s p50 {p.p50_ms} ms p99 {p.p99_ms} ms errors {p.errors}"
            )
    out["points"] = [p.as_dict() for p in rows]
    out["ratios"] = _ratios(rows, m.clients)
    # Idempotency keys cost, and the state-change mix (clocks and effects), at the top client count.
    refresh_versions(ctx.dsn, slots)
    p = txn.inprocess(
        sessions,
        writer,
        actor,
        txn.splits(slots, biggest, "update"),
        m.seconds,
        m.warmup,
        idempotency=True,
    )
    ctx.say(
        f"transitions in-process +Idempotency-Key x{biggest}: {p.ops_per_s:.1f}/s p99 {p.p99_ms} ms"
    )
    out["idempotency_key_point"] = p.as_dict()
    mix_rows = []
    for name in ("raw", "inproc", "http"):
        refresh_versions(ctx.dsn, mix_slots)
        plans = txn.splits(mix_slots, biggest, "mix")
        if name == "raw":
            q = txn.raw(ctx.dsn, actor, plans, m.seconds, m.warmup)
        elif name == "inproc":
            q = txn.inprocess(sessions, writer, actor, plans, m.seconds, m.warmup)
        else:
            q = txn.http(server.port, token, plans, m.seconds, m.warmup)
        q.name = q.name + " (mix)"
        mix_rows.append(q)
        ctx.say(
            f"transitions {q.name:<18} x{biggest}: {q.ops_per_s:8.1f}/s p50 {q.p50_ms} ms p99 {q.p99_ms} ms errors {q.errors}"
        )
    out["mix"] = {
        "workload": "discharge assessing<->ready_for_discharge, sample-referral active<->on_hold, chc allocated<->deferred",
        "points": [q.as_dict() for q in mix_rows],
        "inproc_vs_raw": ratio(mix_rows[1].ops_per_s, mix_rows[0].ops_per_s),
        "http_vs_raw": ratio(mix_rows[2].ops_per_s, mix_rows[0].ops_per_s),
        "projection_cost": _projection_cost(ctx, sessions, writer, actor, mix_slots, biggest),
    }
    refresh_versions(ctx.dsn, slots)
    out["statements"] = txn.count_statements(
        sessions, writer, actor, txn.Plan("update", slots[:50]), 50
    )
    refresh_versions(ctx.dsn, mix_slots)
    out["statements_mix"] = txn.count_statements(
        sessions, writer, actor, txn.Plan("mix", mix_slots[:60]), 60
    )
    refresh_versions(ctx.dsn, slots)
    out["statements"].update(
        txn.http_statements(lambda: create_app(settings), token, txn.Plan("update", slots[:30]), 30)
    )
    ctx.say(
        f"statements per transition: update {out['statements']}, mix {out['statements_mix']['statements_per_transition']}"
    )
    out["baseline_raw_first"] = next(
        p.ops_per_s for p in rows if p.name == "raw psycopg" and p.clients == biggest
    )
    return out


def _projection_cost(
    ctx: Ctx, sessions: Any, writer: CaseWriter, actor: Actor, slots: Any, clients: int
) -> dict[str, Any]:
    """What keeping every read model costs the state-change mix, in-process: runs through the
    transition entry point with the registered read models and with none, alternated so drift
    hits both alike."""
    bare = CaseWriter(writer.engine, ReadModelRegistry())
    rates: dict[str, list[float]] = {"with": [], "without": []}
    for _ in range(2):
        for name, chosen in (("with", writer), ("without", bare)):
            refresh_versions(ctx.dsn, slots)
            plans = txn.splits(slots, clients, "mix")
            q = txn.inprocess(sessions, chosen, actor, plans, ctx.mode.seconds, ctx.mode.warmup)
            rates[name].append(q.ops_per_s)
    with_, without = (sum(v) / len(v) for v in (rates["with"], rates["without"]))
    cost = 1 - with_ / without if without else None
    ctx.say(
        f"projection cost (mix, in-process x{clients}): {with_:.1f}/s with, "
        f"{without:.1f}/s without: {cost:.1%}"
        if cost is not None
        else "projection cost: n/a"
    )
    return {
        "with_ops_per_s": round(with_, 1),
        "without_ops_per_s": round(without, 1),
        "runs": rates,
        "cost": round(cost, 4) if cost is not None else None,
    }


def _ratios(rows: list[Point], clients: tuple[int, ...]) -> list[dict[str, Any]]:
    out = []
    for c in clients:
        by = {p.name: p for p in rows if p.clients == c}
        raw_ = by.get("raw psycopg")
        out.append(
            {
                "clients": c,
                "inproc_vs_raw": ratio(by["in-process"].ops_per_s, raw_.ops_per_s)
                if raw_
                else None,
                "http_vs_raw": ratio(by["HTTP"].ops_per_s, raw_.ops_per_s) if raw_ else None,
                "raw_vs_pgbench": ratio(raw_.ops_per_s, by["pgbench"].ops_per_s)
                if raw_ and "pgbench" in by
                else None,
                "inproc_vs_pgbench": ratio(by["in-process"].ops_per_s, by["pgbench"].ops_per_s)
                if "pgbench" in by
                else None,
            }
        )
    return out


def _drift(ctx: Ctx, users: dict[str, Any], ranges: dict[str, Any]) -> dict[str, Any]:
    m = ctx.mode
    biggest = max(m.clients)
    slots = pick_cases(ctx.dsn, "update", biggest * m.pool_per_client, ORG)
    p = txn.raw(
        ctx.dsn, users["clinician"], txn.splits(slots, biggest, "update"), m.seconds, m.warmup
    )
    first = ctx.out["transitions"]["baseline_raw_first"]
    drift = abs(p.ops_per_s - first) / first if first else None
    noisy = drift is not None and drift > 0.15
    ctx.say(
        f"raw baseline again x{biggest}: {p.ops_per_s:.1f}/s (first {first:.1f}/s): drift {drift:.1%}{' NOISY' if noisy else ''}"
    )
    return {
        "raw_first": round(first, 1),
        "raw_last": round(p.ops_per_s, 1),
        "drift": round(drift or 0, 3),
        "noisy": noisy,
    }


# -- claims ---------------------------------------------------------------------------------------
def _claims(
    ctx: Ctx, users: dict[str, Any], server: Server, cfg: Any, nhs: int, ranges: dict[str, Any]
) -> dict[str, Any]:
    m = ctx.mode
    sessions = make_sessionmaker(make_engine(ctx.url))
    out: dict[str, Any] = {
        "backlog": m.claim_backlog,
        "claim_limit_per_assessor": cfg.local.claims.max_active_per_assessor,
        "runs": [],
    }
    for n in m.claim_assessors:
        org = f"BENCH-CLAIMS-{n}"
        _backlog(ctx, org, m.claim_backlog, users, nhs, ranges, cfg)
        tokens = _assessors(sessions, org, n)
        versions = claims_mod.backlog_versions(ctx.dsn, org)
        since = utcnow() - timedelta(seconds=1)
        res = claims_mod.drain_http(server.port, tokens, versions, m.claim_budget_s)
        res["check"] = claims_mod.double_claims(ctx.dsn, org, since)
        res["assessors"] = n
        out["runs"].append(res)
        p = res["point"]
        ctx.say(
            f"claims x{n}: {res['claims']} claims in {res['seconds']}s = {res['claims_per_s']}/s, claim p50 {p['p50_ms']} ms "
            f"p99 {p['p99_ms']} ms, drained={res['drained']}, double-claimed cases {res['check']['double_claimed_cases']}"
        )
    org = "BENCH-NAIVE"
    _backlog(ctx, org, m.naive_backlog, users, nhs, ranges, cfg)
    since = utcnow() - timedelta(seconds=1)
    fake_users = [(900_000 + i, f"naive-{i:02d}") for i in range(16)]
    res = claims_mod.naive_drain(ctx.dsn, org, fake_users, m.claim_budget_s)
    res["check"] = claims_mod.double_claims(ctx.dsn, org, since)
    res["control_detects_double_claims"] = res["check"]["double_claimed_cases"] > 0
    out["naive_control"] = res
    ctx.say(
        f"naive control x16: {res['claims']} claims, double-claimed cases {res['check']['double_claimed_cases']} (the check can see them: {res['control_detects_double_claims']})"
    )
    sessions.kw["bind"].dispose()
    return out


def _backlog(
    ctx: Ctx,
    org: str,
    count: int,
    users: dict[str, Any],
    nhs: int,
    ranges: dict[str, Any],
    cfg: Any,
) -> None:
    with psycopg.connect(ctx.dsn, autocommit=True) as conn:
        _stamp(ctx, conn, [load.Stamp("chc:backlog", count, org)], users["walker"], nhs, ranges)
        n = load.add_work_items(conn, cfg, org, utcnow())
        conn.execute("VACUUM ANALYZE chc_work_items")
    ctx.say(f"backlog {org}: {n} work items")


# -- checks ---------------------------------------------------------------------------------------
def _replay_check(sessions: Any, engine: Any, ctx: Ctx) -> dict[str, Any]:
    """Replay the cases the bench wrote to (and a sample of loaded ones): history == projection."""
    with psycopg.connect(ctx.dsn) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "(SELECT id FROM cases WHERE version > 1 ORDER BY updated_at DESC LIMIT 300) UNION "
                "(SELECT id FROM cases ORDER BY id LIMIT 200)"
            ).fetchall()
        ]
    bad = []
    with sessions() as s:
        for cid in ids:
            events = list(
                s.execute(
                    select(CaseEvent).where(CaseEvent.case_id == cid).order_by(CaseEvent.seq)
                ).scalars()
            )
            case_row = s.execute(
                select(CaseEvent.case_id).where(CaseEvent.case_id == cid).limit(1)
            ).scalar()
            proj = replay(engine.catalogue, events)
            from app.models import Case

            case = s.get(Case, cid)
            if (
                proj.problems
                or case is None
                or proj.state != case.state
                or proj.version != case.version
            ):
                bad.append({"case": cid, "problems": proj.problems[:3], "case_row": case_row})
    ctx.say(f"replay check: {len(ids)} cases, {len(bad)} disagree")
    return {"cases": len(ids), "disagree": len(bad), "examples": bad[:5]}


# -- targets ---------------------------------------------------------------------------------------
def _targets(out: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, target: str, value: Any, ok: bool | None, note: str = "") -> None:
        rows.append({"target": name, "goal": target, "measured": value, "met": ok, "note": note})

    t = out.get("transitions")
    if t:
        top = max(r["clients"] for r in t["ratios"])
        r = next(x for x in t["ratios"] if x["clients"] == top)
        best = max((x["inproc_vs_raw"] or 0) for x in t["ratios"])
        add(
            "in-process vs raw psycopg",
            ">= 0.6x (stretch 0.8x)",
            f"{r['inproc_vs_raw']}x at {top} clients (best {best}x)",
            (r["inproc_vs_raw"] or 0) >= 0.6,
        )
        http16 = next(p for p in t["points"] if p["name"] == "HTTP" and p["clients"] == top)
        add(
            "HTTP transitions at 16 clients",
            ">= 500/s, p99 <= 50 ms (stretch 800/s)",
            f"{http16['ops_per_s']}/s, p99 {http16['p99_ms']} ms",
            http16["ops_per_s"] >= 500 and (http16["p99_ms"] or 1e9) <= 50,
        )
        st = t["statements"]
        add(
            "DB round trips per transition",
            "<= 4",
            f"{st['statements_per_transition']} statements + {st['commits_per_transition']} commit "
            f"(+BEGIN); {st.get('statements_per_http_request')} statements per HTTP request",
            st["round_trips_per_transition"] <= 4,
        )
        d = t.get("drift")
        if d:
            add(
                "raw baseline drift",
                "<= 15%",
                f"{d['drift']:.1%}",
                not d["noisy"],
                "run marked noisy" if d["noisy"] else "",
            )
    c = out.get("claims")
    if c:
        doubles = sum(r["check"]["double_claimed_cases"] for r in c["runs"])
        total = sum(r["claims"] for r in c["runs"])
        add(
            "double claims",
            "0 over >= 100k claims",
            f"{doubles} over {total} claims",
            doubles == 0 and total >= 100_000 if out["mode"] == "full" else doubles == 0,
            "" if total >= 100_000 else "quick mode: fewer than 100k claims",
        )
        worst = max((r["point"]["p99_ms"] or 0) for r in c["runs"])
        add("HTTP claim p99", "<= 100 ms", f"{worst} ms (worst run)", worst <= 100)
        add(
            "naive control sees double claims",
            "> 0",
            c["naive_control"]["check"]["double_claimed_cases"],
            c["naive_control"]["control_detects_double_claims"],
        )
    dash = [d for d in out.get("dashboard", []) if d]
    if dash:
        at2m = [d for d in dash if d["events"] < 5_000_000]
        big = max(at2m, key=lambda d: d["open_cases"])
        small = min(at2m, key=lambda d: d["open_cases"])
        p99 = big["metrics"]["p99_ms"]
        add(
            "dashboard metrics p99 at the largest scale, 2M events",
            "<= 50 ms (stretch 20 ms)",
            f"{p99} ms at {big['open_cases']} open",
            (p99 or 1e9) <= 50,
        )
        if big is not small:
            g = ratio(big["metrics"]["p50_ms"], small["metrics"]["p50_ms"])
            add("metrics growth 10k -> 100k open", "<= 2x", f"{g}x (p50)", (g or 1e9) <= 2)
        tenm = [d for d in dash if d["events"] >= 5_000_000]
        if tenm:
            same = max(at2m, key=lambda d: d["open_cases"])
            g = ratio(tenm[0]["metrics"]["p50_ms"], same["metrics"]["p50_ms"])
            add("metrics growth 2M -> 10M events", "<= 1.2x", f"{g}x (p50)", (g or 1e9) <= 1.2)
        checks = [d.get("projection_check", {}) for d in dash]
        checks.append(out.get("projection_after_runs") or {})
        diffs = sum(c.get("differences", 0) for c in checks)
        views = sum(c.get("views", 0) for c in checks)
        add(
            "projection equals the plain derivation over the raw tables",
            "0 differences after every run",
            f"{diffs} differences over {views} views",
            diffs == 0 and views > 0,
        )
    mix = (out.get("transitions") or {}).get("mix") or {}
    cost = (mix.get("projection_cost") or {}).get("cost")
    if cost is not None:
        add(
            "cost of keeping the dashboard fast",
            "<= 15% of transition throughput",
            f"{cost:.1%} of the state-change mix (in-process, with vs without the projection)",
            cost <= 0.15,
        )
    mem = out.get("memory")
    if mem and mem["peak_rss_mb_per_worker"]:
        peak = max(mem["peak_rss_mb_per_worker"].values())
        add("peak RSS of one service process", "< 300 MB", f"{peak} MB", peak < 300)
    return rows


# -- report -----------------------------------------------------------------------------------------
def report(out: dict[str, Any]) -> str:
    lines = [
        f"HomeFirst bench ({out['mode']}), {out['started_at'][:19]}Z, {out['machine']['cpus']} cores, PostgreSQL {out['machine'].get('postgres')}"
    ]
    t = out.get("transitions")
    if t:
        rows = [
            (p["name"], p["clients"], p["ops_per_s"], p["p50_ms"], p["p99_ms"], p["errors"])
            for p in t["points"]
        ]
        rows.append(
            (
                t["idempotency_key_point"]["name"],
                t["idempotency_key_point"]["clients"],
                t["idempotency_key_point"]["ops_per_s"],
                t["idempotency_key_point"]["p50_ms"],
                t["idempotency_key_point"]["p99_ms"],
                t["idempotency_key_point"]["errors"],
            )
        )
        rows += [
            (p["name"], p["clients"], p["ops_per_s"], p["p50_ms"], p["p99_ms"], p["errors"])
            for p in t["mix"]["points"]
        ]
        lines += [
            "",
            "Transitions (" + t["workload"] + ")",
            table(("runner", "clients", "ops/s", "p50 ms", "p99 ms", "errors"), rows),
        ]
        lines += [
            "",
            table(
                ("clients", "in-proc/raw", "HTTP/raw", "raw/pgbench", "in-proc/pgbench"),
                [
                    (
                        r["clients"],
                        r["inproc_vs_raw"],
                        r["http_vs_raw"],
                        r["raw_vs_pgbench"],
                        r["inproc_vs_pgbench"],
                    )
                    for r in t["ratios"]
                ],
            ),
        ]
        lines.append(
            f"mix: in-proc/raw {t['mix']['inproc_vs_raw']}, HTTP/raw {t['mix']['http_vs_raw']}"
        )
        lines.append(
            f"statements per transition: {t['statements']['statements_per_transition']} (+{t['statements']['commits_per_transition']} commit): {', '.join(t['statements']['last_transition_sql'])}"
        )
        lines.append(
            f"statements per HTTP request: {t['statements'].get('statements_per_http_request')}; mix: {t['statements_mix']['statements_per_transition']}"
        )
        if t.get("drift"):
            d = t["drift"]
            lines.append(
                f"raw baseline first {d['raw_first']}/s, last {d['raw_last']}/s: drift {d['drift']:.1%}{' -> NOISY RUN' if d['noisy'] else ''}"
            )
    if out.get("auth"):
        lines += auth_mod.report_lines(out["auth"])
    c = out.get("claims")
    if c:
        rows = [
            (
                r["assessors"],
                r["claims"],
                r["claims_per_s"],
                r["point"]["p50_ms"],
                r["point"]["p99_ms"],
                r["finish_p99_ms"],
                r["drained"],
                r["check"]["double_claimed_cases"],
            )
            for r in c["runs"]
        ]
        nc = c["naive_control"]
        rows.append(
            (
                "naive x16",
                nc["claims"],
                None,
                None,
                None,
                None,
                True,
                nc["check"]["double_claimed_cases"],
            )
        )
        lines += [
            "",
            f"Queue claims (backlog {c['backlog']} per run, claim limit {c['claim_limit_per_assessor']}: each claim is followed by a withdraw)",
            table(
                (
                    "assessors",
                    "claims",
                    "claims/s",
                    "claim p50",
                    "claim p99",
                    "finish p99",
                    "drained",
                    "double-claimed",
                ),
                rows,
            ),
        ]
    dash = [d for d in out.get("dashboard", []) if d]
    if dash:
        rows = [
            (
                d["open_cases"],
                d["events"],
                d["metrics"]["p50_ms"],
                d["metrics"]["p99_ms"],
                d["metrics"]["extra"].get("first_ms"),
                d["rfd"]["p50_ms"],
                d["rfd"]["p99_ms"],
                d["rfd"]["extra"]["rows"],
                d.get("feed", {}).get("p50_ms"),
                d.get("feed", {}).get("p99_ms"),
                d["metrics"]["ops"],
                d.get("projection_check", {}).get("differences"),
                (d.get("projection_check", {}).get("compute_ms") or {}).get("daily"),
                (d.get("projection_check", {}).get("compute_ms") or {}).get("chc"),
            )
            for d in dash
        ]
        lines += [
            "",
            "Dashboard (sequential GETs)",
            table(
                (
                    "open cases",
                    "events",
                    "metrics p50",
                    "metrics p99",
                    "computing them",
                    "rfd p50",
                    "rfd p99",
                    "rfd rows",
                    "feed p50",
                    "feed p99",
                    "samples",
                    "projection vs plain: differences",
                    "computing daily ms",
                    "computing chc ms",
                ),
                rows,
            ),
        ]
    if out.get("memory"):
        lines.append(
            f"\npeak RSS per worker (MB): {out['memory']['peak_rss_mb_per_worker']} with {out['memory']['workers']} worker(s)"
        )
    if out.get("replay_check"):
        lines.append(
            f"replay check: {out['replay_check']['cases']} cases, {out['replay_check']['disagree']} disagree"
        )
    if out.get("sqlite"):
        lines.append(f"sqlite correctness: {out['sqlite']}")
    lines += [
        "",
        "Targets",
        table(
            ("target", "goal", "measured", "met"),
            [
                (r["target"], r["goal"], str(r["measured"]), "yes" if r["met"] else "NO")
                for r in out.get("targets", [])
            ],
        ),
    ]
    lines.append(f"\ntotal {out.get('total_seconds')}s")
    return "\n".join(lines)


def save(out: dict[str, Any]) -> Path:
    """The full record (ignored by git) and the committed summary `latest.json` (per mode)."""
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-{out['mode']}.json"
    text = json.dumps(out, indent=2, default=str)
    path.write_text(text)
    (RESULTS / f"latest-{out['mode']}.json").write_text(text)
    latest = RESULTS / "latest.json"
    merged = json.loads(latest.read_text()) if latest.exists() else {}
    merged[out["mode"]] = summary(out)
    latest.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    return path


def summary(out: dict[str, Any]) -> dict[str, Any]:
    """Headline figures only: what the README table quotes."""
    keep = ("name", "clients", "ops_per_s", "p50_ms", "p99_ms", "errors")
    t = out.get("transitions") or {}
    c = out.get("claims") or {}
    return {
        "date": out["started_at"][:19] + "Z",
        "machine": out["machine"],
        "server": out.get("server"),
        "transitions": {
            "points": [{k: p[k] for k in keep} for p in t.get("points", [])],
            "ratios": t.get("ratios"),
            "mix": {k: v for k, v in (t.get("mix") or {}).items() if k != "points"},
            "idempotency_key_point": {k: t["idempotency_key_point"][k] for k in keep}
            if t.get("idempotency_key_point")
            else None,
            "statements": dict(t.get("statements") or {}),
            "drift": t.get("drift"),
        },
        "auth": {
            "points": [{k: p[k] for k in keep} for p in (out.get("auth") or {}).get("points", [])],
            "ratios": (out.get("auth") or {}).get("ratios"),
        },
        "claims": {
            "backlog": c.get("backlog"),
            "runs": [
                {
                    "assessors": r["assessors"],
                    "claims": r["claims"],
                    "claims_per_s": r["claims_per_s"],
                    "p50_ms": r["point"]["p50_ms"],
                    "p99_ms": r["point"]["p99_ms"],
                    "drained": r["drained"],
                    "double_claimed_cases": r["check"]["double_claimed_cases"],
                }
                for r in c.get("runs", [])
            ],
            "naive_control_double_claimed": (c.get("naive_control") or {}).get("check"),
        },
        "dashboard": [
            {
                "open_cases": d["open_cases"],
                "events": d["events"],
                "metrics_p50_ms": d["metrics"]["p50_ms"],
                "metrics_p99_ms": d["metrics"]["p99_ms"],
                "metrics_compute_ms": d["metrics"]["extra"].get("first_ms"),
                "projection_differences": d.get("projection_check", {}).get("differences"),
                "rfd_p50_ms": d["rfd"]["p50_ms"],
                "rfd_p99_ms": d["rfd"]["p99_ms"],
                "feed_p50_ms": d.get("feed", {}).get("p50_ms"),
                "feed_p99_ms": d.get("feed", {}).get("p99_ms"),
                "samples": d["metrics"]["ops"],
            }
            for d in out.get("dashboard", [])
            if d
        ],
        "memory": out.get("memory"),
        "replay_check": {
            k: v for k, v in (out.get("replay_check") or {}).items() if k != "examples"
        },
        "sqlite": out.get("sqlite"),
        "targets": out.get("targets"),
        "total_seconds": out.get("total_seconds"),
    }


def project_root() -> Path:
    return PROJECT_ROOT
