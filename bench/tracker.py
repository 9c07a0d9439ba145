"""`python -m bench tracker`: the discharge team's tracker on PostgreSQL at 100k open cases.

- **Data**: legal discharge histories walked through the real engine (`bench.walker`), stamped
  out in bulk (`bench.load`, as every bench builds its data): `--open` (100,000) open discharge
  cases in the database, `--measured` (2,000) of them inpatients of the measured organisation
  and the rest spread over `--orgs` other organisations, plus `--closed` finished spells
  (history) and `--shared` cases of another organisation shared with the measured one. The spell
  read model is derived from the stamped events by the service's own code
  (`derive_missing_default`), then the tables are analysed.
- **Server time of the tracker's data** (in-process, one caller, a fresh session per request as a
  route has): `tracker_page` for typical filter and sort combinations, `tracker_options`, and
  both together as the page reads them: p50/p95/p99.
- **The page over HTTP**: `/tracker` at the same addresses (and the CSV download), signed in
  through the sign-in page, against the service (uvicorn, one worker) on this machine: the
  query, the filter options, the access audit's insert and the template, plus a local round
  trip.
- **Raw baseline** (same run, before and after for drift): a plain indexed SELECT of the same
  page on a prepared psycopg connection (the organisation's open inpatient spells joined to
  their cases, sorted, a page of 50), its count and the page's open delays: what the database
  alone costs for the same rows. Ratios are the tracker's p50 over the raw p50.
- The plan PostgreSQL chose for the default page (EXPLAIN ANALYZE), kept in the JSON.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import event

from app.auth.access import Grant
from app.auth.service import add_user, create_token
from app.composition import build_engine, load_codes
from app.config import Settings
from app.db import UnitOfWork, make_engine, make_sessionmaker
from app.discharge.projection import derive_missing_default
from app.discharge.tracker import (
    MAX_PAGE_SIZE,
    TrackerQuery,
    tracker_options,
    tracker_page,
    vocabulary,
)
from app.timeutil import utcnow
from bench import load
from bench.server import Server
from bench.stats import percentile
from bench.walker import SITES, WARDS, Template, TemplateSet, walk

RESULTS = Path(__file__).parent / "results"
MEASURED = "BENCH-TRACKER"
TARGET_P95_MS = 300.0
GRANT = Grant("rfd.read", "full")

# Typical screens, as the page's addresses: the default list, a site by ward, a ward, a
# pathway, a state, a huddle's escalations, the long waits, deep pages of other sorts, and the
# whole list printed.
COMBOS: dict[str, dict[str, str]] = {
    "default (most delayed first, 50)": {},
    "site, by ward": {"site": SITES[0], "sort": "ward"},
    "site and ward": {"site": SITES[1], "ward": WARDS[2]},
    "pathway P1": {"pathway": "P1"},
    "state awaiting support": {"state": "awaiting_support"},
    "escalated": {"escalated": "yes"},
    "7+ days since DRD": {"min_days": "7"},
    "by person desc, page 20": {"sort": "-responsible_person", "page": "20"},
    "by expected date, page 10": {"sort": "expected_discharge_date", "page": "10"},
    "print: every row": {"print": "1"},
}


def as_query(address: dict[str, str]) -> TrackerQuery:
    """The tracker query a page address asks for (as /tracker reads it)."""
    values: dict[str, Any] = {}
    for name, value in address.items():
        if name == "print":
            values["page_size"] = MAX_PAGE_SIZE
        elif name == "escalated":
            values[name] = value == "yes"
        elif name in ("min_days", "max_days", "page"):
            values[name] = int(value)
        else:
            values[name] = value
    return TrackerQuery(**values)


RAW_PAGE = """
SELECT s.case_id, c.patient_ref, s.site, c.attributes->>'ward', c.state, s.nctr_last_start,
       s.nctr_last_end, s.drd_day, c.attributes->>'pathway', s.open_delays,
       c.attributes->>'expected_discharge_date', c.attributes->>'responsible_person',
       s.escalated, c.attributes->>'escalation_reason'
FROM discharge_spells s JOIN cases c ON c.id = s.case_id
WHERE s.organisation = %s AND s.closed_at IS NULL AND s.left_at IS NULL
ORDER BY s.drd_day NULLS LAST, s.case_id LIMIT 50
"""
RAW_COUNT = """
SELECT count(*) FROM discharge_spells s JOIN cases c ON c.id = s.case_id
WHERE s.organisation = %s AND s.closed_at IS NULL AND s.left_at IS NULL
"""
RAW_DELAYS = """
SELECT case_id, code, started_at, marked_primary FROM discharge_delay_periods
WHERE case_id = ANY(%s) AND ended_at IS NULL ORDER BY case_id, ordinal
"""


@dataclass(frozen=True)
class TrackerArgs:
    pg_url: str
    db_name: str
    open_cases: int
    measured: int
    orgs: int
    closed: int
    shared: int
    samples: int
    seed: int
    keep_db: bool
    reuse_db: bool


# -- data ---------------------------------------------------------------------------------------
def templates(engine: Any, codes: Any, now0: datetime, seed: int, per_kind: int) -> TemplateSet:
    """Open and finished discharge histories; the open ones with the patient still in hospital
    come first (the measured organisation's group is that leading span)."""
    rng = random.Random(seed)  # noqa: S311 - test data
    loaded = engine.catalogue.latest("discharge")
    inpatient_states = set(vocabulary(engine.catalogue).states)
    found: dict[bool, list[Template]] = {True: [], False: []}
    for is_open in (True, False):
        attempts = 0
        while len(found[is_open]) < per_kind and attempts < per_kind * 20:
            attempts += 1
            if is_open:
                start = now0 - timedelta(days=rng.uniform(0.5, 60))
                end, steps = now0, rng.randint(1, 10)
            else:
                start = now0 - timedelta(days=rng.uniform(61, 330))
                end = min(start + timedelta(days=rng.uniform(3, 45)), now0)
                steps = rng.randint(3, 14)
            t = walk(
                engine,
                loaded,
                codes,
                rng,
                start=start,
                end=end,
                open_case=is_open,
                steps=steps,
                organisation=MEASURED,
            )
            if t is not None:
                found[is_open].append(t)
    found[True].sort(key=lambda t: t.case["state"] not in inpatient_states)
    out = TemplateSet()
    out.by_kind[("discharge", True)] = found[True]
    out.by_kind[("discharge", False)] = found[False]
    return out


def build(args: TrackerArgs, say: Callable[[str], None]) -> dict[str, Any]:
    settings = Settings(database_url=load.sa_url(args.pg_url, args.db_name))
    codes = load_codes(settings)
    engine = build_engine(settings, codes)
    now0 = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    t0 = time.perf_counter()
    tset = templates(engine, codes, now0, args.seed, per_kind=300)
    inpatient_states = set(vocabulary(engine.catalogue).states)
    opened = tset.by_kind[("discharge", True)]
    inpatient = sum(1 for t in opened if t.case["state"] in inpatient_states)
    say(
        f"walked {len(opened)} open ({inpatient} in hospital) and "
        f"{len(tset.by_kind[('discharge', False)])} finished discharge histories "
        f"in {time.perf_counter() - t0:.1f}s"
    )
    load.recreate_database(args.pg_url, args.db_name)
    url, dsn = settings.database_url, load.db_dsn(args.pg_url, args.db_name)
    load.build_schema(url)
    sessions = make_sessionmaker(make_engine(url))
    with sessions() as s:
        walker = add_user(
            s,
            username=load.WALKER_USER,
            display_name="Bench walker",
            organisation=MEASURED,
            roles=["system"],
            allow_internal_roles=True,
        ).id
    others = [f"BENCH-OTHER-{i}" for i in range(1, args.orgs + 1)]
    rest = args.open_cases - args.measured
    stamps = [load.Stamp("discharge:inpatient", args.measured, MEASURED)]
    stamps += [load.Stamp("discharge:open", rest // len(others), o) for o in others]
    stamps += [load.Stamp("discharge:closed", args.closed // (len(others) + 1), MEASURED)]
    stamps += [load.Stamp("discharge:closed", args.closed // (len(others) + 1), o) for o in others]
    out: dict[str, Any] = {"templates": {"open": len(opened), "in_hospital": inpatient}}
    with psycopg.connect(dsn, autocommit=True) as conn:
        spans = load.load_templates(conn, tset)
        first, _n = spans["discharge:open"]
        conn.execute(
            "INSERT INTO bench_groups (grp, first_tpl, n_tpl) VALUES ('discharge:inpatient', %s, %s)",
            (first, inpatient),
        )
        nhs = args.open_cases + args.closed
        load.load_nhs(conn, nhs)
        t0 = time.perf_counter()
        out["added"] = load.stamp(conn, stamps, walker, nhs)
        out["stamp_s"] = round(time.perf_counter() - t0, 1)
        say(f"stamped {out['added']} in {out['stamp_s']}s")
    t0 = time.perf_counter()
    with sessions() as session, UnitOfWork(session):
        out["spells_derived"] = derive_missing_default(session)
    out["derive_s"] = round(time.perf_counter() - t0, 1)
    say(f"derived {out['spells_derived']:,} spell rows from the events in {out['derive_s']}s")
    with psycopg.connect(dsn, autocommit=True) as conn:
        # Another organisation refers some of its patients to the measured one.
        cur = conn.execute(
            """
            INSERT INTO case_shares (case_id, organisation, reason, created_at, created_by)
            SELECT id, %s, 'bench: referred to the hub', now(), 'bench' FROM cases
            WHERE organisation = %s AND workflow_key = 'discharge' AND is_open
            ORDER BY id LIMIT %s
            """,
            (MEASURED, others[0], args.shared),
        )
        out["shared"] = cur.rowcount
        for table in ("cases", "case_events", "discharge_spells", "discharge_delay_periods"):
            conn.execute(f"VACUUM ANALYZE {table}")
        conn.execute("ANALYZE case_shares")
    return out


def census(dsn: str) -> dict[str, int]:
    queries = {
        "open_discharge_cases": "SELECT count(*) FROM cases WHERE is_open AND workflow_key = 'discharge'",
        "spells": "SELECT count(*) FROM discharge_spells",
        "measured_open_cases": f"SELECT count(*) FROM cases WHERE is_open AND organisation = '{MEASURED}'",
        "measured_in_hospital": "SELECT count(*) FROM discharge_spells WHERE organisation = "
        f"'{MEASURED}' AND closed_at IS NULL AND left_at IS NULL",
        "case_events": "SELECT count(*) FROM case_events",
        "organisations": "SELECT count(DISTINCT organisation) FROM cases",
    }
    with psycopg.connect(dsn) as conn:
        return {k: int(conn.execute(q).fetchone()[0]) for k, q in queries.items()}  # type: ignore[index]


# -- measuring ----------------------------------------------------------------------------------
def _summary(lats: list[float], **extra: Any) -> dict[str, Any]:
    def ms(p: float) -> float | None:
        v = percentile(lats, p)
        return round(v * 1000, 2) if v is not None else None

    return {"samples": len(lats), "p50_ms": ms(50), "p95_ms": ms(95), "p99_ms": ms(99), **extra}


def raw(dsn: str, samples: int) -> dict[str, Any]:
    """The same page with plain SQL on a prepared psycopg connection: page, count, delays."""
    lats: list[float] = []
    with psycopg.connect(dsn, autocommit=True, prepare_threshold=0) as conn:
        for i in range(samples + 5):
            t0 = time.perf_counter()
            rows = conn.execute(RAW_PAGE, (MEASURED,)).fetchall()
            conn.execute(RAW_COUNT, (MEASURED,)).fetchone()
            conn.execute(RAW_DELAYS, ([r[0] for r in rows],)).fetchall()
            if i >= 5:
                lats.append(time.perf_counter() - t0)
    return _summary(lats)


def measure(url: str, samples: int, say: Callable[[str], None]) -> dict[str, Any]:
    settings = Settings(database_url=url)
    codes = load_codes(settings)
    vocab = vocabulary(build_engine(settings, codes).catalogue)
    sa_engine = make_engine(url)
    sessions = make_sessionmaker(sa_engine)
    out: dict[str, Any] = {}

    def page(query: TrackerQuery) -> tuple[float, int, int]:
        with sessions() as session:
            t0 = time.perf_counter()
            result = tracker_page(
                session,
                query,
                organisation=MEASURED,
                grant=GRANT,
                vocab=vocab,
                codes=codes,
                now=utcnow(),
            )
            return time.perf_counter() - t0, result.count, len(result.rows)

    def options() -> float:
        with sessions() as session:
            t0 = time.perf_counter()
            tracker_options(session, organisation=MEASURED, grant=GRANT, vocab=vocab)
            return time.perf_counter() - t0

    def both() -> float:
        with sessions() as session:
            t0 = time.perf_counter()
            tracker_page(
                session,
                TrackerQuery(),
                organisation=MEASURED,
                grant=GRANT,
                vocab=vocab,
                codes=codes,
                now=utcnow(),
            )
            tracker_options(session, organisation=MEASURED, grant=GRANT, vocab=vocab)
            return time.perf_counter() - t0

    for name, params in COMBOS.items():
        query = as_query(params)
        for _ in range(3):  # warm-up: plans, pools, code-list caches
            page(query)
        lats, count, rows = [], 0, 0
        for _ in range(samples):
            seconds, count, rows = page(query)
            lats.append(seconds)
        out[name] = _summary(lats, count=count, rows=rows)
        say(
            f"  {name:34s} p50 {out[name]['p50_ms']:7.2f} ms  p95 {out[name]['p95_ms']:7.2f} ms  "
            f"({count:,} match, {rows:,} shown)"
        )
    for label, fn in (("filter options", options), ("page data (default + options)", both)):
        for _ in range(3):
            fn()
        out[label] = _summary([fn() for _ in range(samples)])
        say(f"  {label:34s} p50 {out[label]['p50_ms']:7.2f} ms  p95 {out[label]['p95_ms']:7.2f} ms")
    out["plan"] = _plan(sa_engine, sessions, vocab, codes)
    sa_engine.dispose()
    return out


def measure_http(url: str, dsn: str, samples: int, say: Callable[[str], None]) -> dict[str, Any]:
    """The page itself over HTTP: a signed-in browser session against the service (uvicorn, one
    worker) on this machine, so each time is the server's answer plus a local round trip:
    the query, the filter options, the access audit's insert, the template."""
    sessions = make_sessionmaker(make_engine(url))
    with sessions() as s:
        name = f"bench-tracker-{int(time.time())}"
        add_user(
            s,
            username=name,
            display_name="Bench discharge team",
            organisation=MEASURED,
            roles=["discharge_team"],
        )
        token = create_token(s, username=name).token
    server = Server(url, 1, RESULTS / "tracker-server.log")
    server.start()
    out: dict[str, Any] = {}
    try:
        with httpx.Client(base_url=server.base, timeout=60) as http:
            r = http.post(
                "/sign-in/token",
                data={"token": token},
                headers={"Origin": server.base},
                follow_redirects=False,
            )
            if r.status_code != 303:
                raise RuntimeError(f"sign-in answered {r.status_code}: {r.text[:300]}")
            # The home page first: what any page costs here (the session, the layout).
            pages: dict[str, tuple[str, dict[str, str]]] = {
                "page: home (/), for comparison": ("/", {})
            }
            pages |= {f"page: {k}": ("/tracker", v) for k, v in COMBOS.items()}
            pages["page: CSV download (site)"] = ("/tracker/rfd.csv", {"site": SITES[0]})
            for label, (path, params) in pages.items():
                for _ in range(3):
                    http.get(path, params=params)
                server_pids = [*server.worker_pids(), *_backends(dsn)]
                cpu_before = _cpu_seconds(server_pids)
                lats, size = [], 0
                for _ in range(samples):
                    t0 = time.perf_counter()
                    r = http.get(path, params=params)
                    lats.append(time.perf_counter() - t0)
                    if r.status_code != 200:
                        raise RuntimeError(f"{path} answered {r.status_code}: {r.text[:300]}")
                    size = len(r.content)
                cpu_ms = (_cpu_seconds(server_pids) - cpu_before) * 1000 / samples
                out[label] = _summary(lats, bytes=size, server_cpu_ms=round(cpu_ms, 1))
                say(
                    f"  {label:40s} p50 {out[label]['p50_ms']:7.2f} ms  "
                    f"p95 {out[label]['p95_ms']:7.2f} ms  CPU {cpu_ms:6.1f} ms  "
                    f"({size / 1000:.0f} kB)"
                )
        out["worker_peak_rss_mb"] = max(server.peak_rss_mb().values())
    finally:
        server.stop()
    return out


def _backends(dsn: str) -> list[int]:
    """The PostgreSQL processes serving the bench database's other connections (the
    worker's pool)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return [int(r[0]) for r in rows]


def _cpu_seconds(pids: list[int]) -> float:
    """User and system CPU time the processes have used (Linux /proc): the server's own work,
    whatever else the shared machine is doing."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick


def _plan(sa_engine: Any, sessions: Any, vocab: Any, codes: Any) -> list[str]:
    """EXPLAIN ANALYZE of the default page's statement, as the service sends it."""
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cur: Any, statement: str, params: Any, *_a: Any) -> None:
        seen.append((statement, params))

    event.listen(sa_engine, "before_cursor_execute", capture)
    try:
        with sessions() as session:
            tracker_page(
                session,
                TrackerQuery(),
                organisation=MEASURED,
                grant=GRANT,
                vocab=vocab,
                codes=codes,
                now=utcnow(),
            )
    finally:
        event.remove(sa_engine, "before_cursor_execute", capture)
    statement, params = next((s, p) for s, p in seen if "LIMIT" in s)
    raw_conn = sa_engine.raw_connection()
    try:
        cur = raw_conn.cursor()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
        lines = [r[0] for r in cur.fetchall()]
        raw_conn.rollback()
    finally:
        raw_conn.close()
    return lines


# -- the run ------------------------------------------------------------------------------------
def run_tracker(args: TrackerArgs, say: Callable[[str], None] = print) -> dict[str, Any]:
    from bench.run import machine

    out: dict[str, Any] = {
        "mode": "tracker",
        "started_at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "args": {k: v for k, v in args.__dict__.items() if k != "pg_url"},
        # The machine is shared: how busy it was says how far to trust the absolute figures.
        "load_average_at_start": os.getloadavg(),
    }
    url, dsn = load.sa_url(args.pg_url, args.db_name), load.db_dsn(args.pg_url, args.db_name)
    try:
        if not args.reuse_db:
            out["build"] = build(args, say)
        with psycopg.connect(dsn) as c:
            out["machine"]["postgres"] = c.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        out["census"] = census(dsn)
        say(f"database: {out['census']}")
        out["raw_before"] = raw(dsn, args.samples)
        say(f"raw page + count + delays: p50 {out['raw_before']['p50_ms']} ms")
        say("tracker, in-process (a fresh session per request):")
        out["tracker"] = measure(url, args.samples, say)
        say("the page over HTTP (signed in, one uvicorn worker):")
        out["page"] = measure_http(url, dsn, args.samples, say)
        out["raw_after"] = raw(dsn, args.samples)
        before, after = out["raw_before"]["p50_ms"], out["raw_after"]["p50_ms"]
        out["raw_drift"] = round(abs(before - after) / ((before + after) / 2), 3)
        say(f"raw again: p50 {after} ms (drift {out['raw_drift']:.0%})")
        raw_p50 = (before + after) / 2
        timed = {k: v for k, v in out["tracker"].items() if k != "plan"}
        timed |= {k: v for k, v in out["page"].items() if k != "worker_peak_rss_mb"}
        out["ratios_to_raw_p50"] = {k: round(v["p50_ms"] / raw_p50, 1) for k, v in timed.items()}
        scale = (
            f"{out['census']['open_discharge_cases']:,} open cases, "
            f"{out['census']['measured_in_hospital']:,} the organisation's inpatients"
        )
        out["targets"] = [
            _target(
                f"the page of 50 over HTTP, every address, p95 under 300 ms at {scale}",
                {
                    k: v
                    for k, v in out["page"].items()
                    if k.startswith("page: ")
                    and "print" not in k
                    and "home" not in k
                    and "CSV" not in k
                },
            ),
            _target(
                "the print view (every matching row) over HTTP, p95 under 300 ms",
                {k: v for k, v in out["page"].items() if "print" in k},
            ),
            _target(
                "the tracker's data in-process (page of 50 and options), p95 under 300 ms",
                {k: v for k, v in out["tracker"].items() if k != "plan" and "print" not in k},
            ),
        ]
    finally:
        if not args.keep_db:
            load.drop_database(args.pg_url, args.db_name)
    out["finished_at"] = datetime.now(UTC).isoformat()
    out["load_average_at_end"] = os.getloadavg()
    return out


def _target(target: str, timed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    worst = max(timed.items(), key=lambda kv: kv[1]["p95_ms"])
    return {
        "target": target,
        "figure": f"worst p95 {worst[1]['p95_ms']} ms ({worst[0]})",
        "met": worst[1]["p95_ms"] < TARGET_P95_MS,
    }


def report(out: dict[str, Any]) -> str:
    c = out["census"]
    lines = [
        f"Tracker (PostgreSQL {out['machine'].get('postgres')}; {c['open_discharge_cases']:,} open "
        f"discharge cases in {c['organisations']} organisations, {c['spells']:,} spells, "
        f"{c['case_events']:,} events; the measured organisation: {c['measured_in_hospital']:,} "
        "inpatients plus the cases shared with it)",
        f"  load average (1, 5, 15 min) at start {out['load_average_at_start']}, "
        f"at end {out['load_average_at_end']} ({out['machine']['cpus']} CPUs)",
        f"  raw page + count + delays (psycopg, prepared): p50 {out['raw_before']['p50_ms']} ms "
        f"before, {out['raw_after']['p50_ms']} ms after (drift {out['raw_drift']:.0%})",
        f"  {'':40s} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'x raw':>6} {'CPU ms':>7}",
    ]
    for name, s in [*out["tracker"].items(), *out["page"].items()]:
        if name in ("plan", "worker_peak_rss_mb"):
            continue
        lines.append(
            f"  {name:40s} {s['p50_ms']:8.2f} {s['p95_ms']:8.2f} {s['p99_ms']:8.2f} "
            f"{out['ratios_to_raw_p50'][name]:6.1f} {s.get('server_cpu_ms', ''):>7}"
        )
    lines.append(
        "  (CPU ms: the uvicorn worker's and its PostgreSQL backends' CPU time per request)"
    )
    for t in out["targets"]:
        lines.append(f"  {'met ' if t['met'] else 'MISSED'}  {t['target']}: {t['figure']}")
    return "\n".join(lines)


def save(out: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{stamp}-tracker.json"
    text = json.dumps(out, indent=2, default=str)
    path.write_text(text)
    (RESULTS / "latest-tracker.json").write_text(text)
    latest = RESULTS / "latest.json"
    merged = json.loads(latest.read_text()) if latest.exists() else {}
    merged["tracker"] = {k: v for k, v in out.items() if k not in ("build",)}
    merged["tracker"]["tracker"] = {k: v for k, v in out["tracker"].items() if k != "plan"}
    latest.write_text(json.dumps(merged, indent=2, default=str) + "\n")
    return path
