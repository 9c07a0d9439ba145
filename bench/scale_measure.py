"""Measuring one point of `python -m bench scale`: sequential HTTP requests against the
running service, the refresher's work in-process, and the baselines of the same run."""

from __future__ import annotations

import os
import random
import time
from typing import Any

import httpx
import psycopg

from app.composition import build_engine
from app.config import Settings
from app.dashboard.context import context_for
from app.db import make_engine, make_sessionmaker
from bench.run import ORG, _compute_cost
from bench.server import Server
from bench.stats import percentile, ratio
from bench.txn import _raw_one
from bench.workload import CaseSlot, Op


def _summary(lats: list[float], **extra: Any) -> dict[str, Any]:
    def ms(p: float) -> float | None:
        v = percentile(lats, p)
        return round(v * 1000, 2) if v is not None else None

    return {"samples": len(lats), "p50_ms": ms(50), "p95_ms": ms(95), **extra}


def _select1(dsn: str, samples: int) -> dict[str, Any]:
    lats = []
    with psycopg.connect(dsn, autocommit=True) as conn:
        for i in range(samples + 5):
            t0 = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            if i >= 5:
                lats.append(time.perf_counter() - t0)
    return _summary(lats)


def _get(client: httpx.Client, path: str, samples: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    first = client.get(path)
    first_ms = round(1000 * (time.perf_counter() - t0), 1)
    first.raise_for_status()
    lats = []
    body: Any = None
    for _ in range(samples):
        t0 = time.perf_counter()
        r = client.get(path)
        lats.append(time.perf_counter() - t0)
        r.raise_for_status()
        body = r.json()
    rows = body.get("count") if isinstance(body, dict) else None
    return _summary(lats, first_ms=first_ms, rows=rows, response_bytes=len(r.content))


def _spread_cases(dsn: str, n: int, seed: int) -> list[CaseSlot]:
    """Open discharge cases spread over the whole table (not the lowest ids)."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, workflow_key, state, version FROM cases TABLESAMPLE SYSTEM (1) "
            "REPEATABLE (%s) WHERE is_open AND workflow_key = 'discharge' "
            "AND organisation = %s LIMIT %s",
            (seed, ORG, n),
        ).fetchall()
        if len(rows) < n:
            rows = conn.execute(
                "SELECT id, workflow_key, state, version FROM cases WHERE is_open AND "
                "workflow_key = 'discharge' AND organisation = %s ORDER BY random() LIMIT %s",
                (ORG, n),
            ).fetchall()
    return [CaseSlot(int(r[0]), r[1], r[2], int(r[3])) for r in rows]


def _update(slot: CaseSlot, n: int, queue: str | None = None) -> Op:
    data = {"ward": "WARD-SCALE", "responsible_person": f"bench scale {n}"}
    return Op(slot.case_id, "update_details", data, slot.version, slot.state, queue, "discharge")


def _transitions(
    client: httpx.Client, dsn: str, actor: Any, samples: int, seed: int
) -> dict[str, Any]:
    slots = _spread_cases(dsn, 2 * samples + 5, seed)
    random.Random(seed).shuffle(slots)
    http_slots, raw_slots = slots[: samples + 5], slots[samples + 5 :]
    lats, errors = [], 0
    for i, s in enumerate(http_slots):
        t0 = time.perf_counter()
        r = client.post(
            f"/api/v1/cases/{s.case_id}/events",
            headers={"If-Match": f'"{s.version}"'},
            json={"event": "update_details", "data": _update(s, i).data},
        )
        if r.status_code != 200:
            errors += 1
        elif i >= 5:
            lats.append(time.perf_counter() - t0)
    raw_lats = []
    with psycopg.connect(dsn) as conn:
        queues = dict(
            conn.execute(
                "SELECT id, queue FROM cases WHERE id = ANY(%s)", ([s.case_id for s in raw_slots],)
            ).fetchall()
        )
        for i, s in enumerate(raw_slots):
            op = _update(s, i, queues[s.case_id])
            t0 = time.perf_counter()
            _raw_one(conn, actor, s, op)
            raw_lats.append(time.perf_counter() - t0)
    return {"http": _summary(lats, errors=errors), "raw_same_statements": _summary(raw_lats)}


def _ward(dsn: str) -> tuple[str, str]:
    """The site and ward with the most patients on the RFD list."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT c.site, c.attributes->>'ward' AS ward FROM discharge_spells s "
            "JOIN cases c ON c.id = s.case_id WHERE s.closed_at IS NULL AND s.left_at IS NULL "
            "AND s.nctr_last_start IS NOT NULL AND s.nctr_last_end IS NULL "
            "AND c.attributes ? 'ward' GROUP BY 1, 2 ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
    if row is None:
        raise SystemExit("no patient on the RFD list: the templates walked none there")
    return str(row[0]), str(row[1])


def _ward_rfd_count(dsn: str, site: str, ward: str, states: list[str]) -> int:
    """How many patients the ward's RFD list should hold: every open discharge case of the
    organisation in a Ready-for-Discharge state at that site and ward."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*) FROM cases WHERE workflow_key = 'discharge' AND organisation = %s "
            "AND site = %s AND attributes->>'ward' = %s AND state = ANY(%s)",
            (ORG, site, ward, states),
        ).fetchone()
    return int(row[0]) if row else 0


def measure_point(
    dsn: str, samples: int, seed: int, ctx: dict[str, Any], server: Server
) -> dict[str, Any]:
    """The operations and their baselines at one point (see bench/scale.py)."""
    site, ward = _ward(dsn)
    out: dict[str, Any] = {"load_average": os.getloadavg()[0], "site": site, "ward": ward}
    out["rfd_ward_patients"] = _ward_rfd_count(dsn, site, ward, ctx["rfd_states"])
    headers = {"Authorization": f"Bearer {ctx['users']['clinician_token']}"}
    out["raw_select_1"] = _select1(dsn, 200)
    with httpx.Client(base_url=server.base, headers=headers, timeout=600) as client:
        out["http_noop"] = _get(client, "/api/v1/pathways", samples)
        out["metrics"] = _get(client, "/api/v1/dashboard/metrics", samples)
        out["rfd_ward"] = _get(client, f"/api/v1/rfd?site={site}&ward={ward}", samples)
        out["transition"] = _transitions(client, dsn, ctx["users"]["clinician"], samples, seed)
    settings = Settings(database_url=ctx["url"], clock_sweep_interval_seconds=0)
    mctx = context_for(settings, build_engine(settings).catalogue)
    sa_engine = make_engine(ctx["url"])
    try:
        with make_sessionmaker(sa_engine)() as session:
            out["figures_compute_ms_best_of_3"] = _compute_cost(session, mctx, settings)
    finally:
        sa_engine.dispose()
    base_http = out["http_noop"]["p50_ms"]
    out["ratios_p50"] = {
        "metrics / http no-op": ratio(out["metrics"]["p50_ms"], base_http),
        "rfd ward / http no-op": ratio(out["rfd_ward"]["p50_ms"], base_http),
        "transition / http no-op": ratio(out["transition"]["http"]["p50_ms"], base_http),
        "transition / raw same statements": ratio(
            out["transition"]["http"]["p50_ms"], out["transition"]["raw_same_statements"]["p50_ms"]
        ),
        "http no-op / raw SELECT 1": ratio(base_http, out["raw_select_1"]["p50_ms"]),
    }
    out["load_average_after"] = os.getloadavg()[0]
    return out
