"""Transition throughput: service layer in-process, raw psycopg, pgbench and HTTP, back to back."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from app.auth.actor import Actor
from app.cases import service
from app.cases.schemas import EventCreate
from app.cases.transition import CaseWriter
from app.timeutil import utcnow
from bench.httpclient import Conn
from bench.stats import Point, percentile, point
from bench.workload import CaseSlot, Op, Plan, split

TTL = timedelta(hours=24)


def _run_threads(
    clients: int,
    seconds: float,
    warmup: float,
    body: Callable[[int, Callable[[], bool]], tuple[list[float], int]],
) -> tuple[list[float], int, float]:
    """Run `body(client_index, running)` in threads; keep latencies after the warm-up."""
    lats: list[list[float]] = [[] for _ in range(clients)]
    errs = [0] * clients
    barrier = threading.Barrier(clients + 1)
    start_holder: dict[str, float] = {}
    stop_at = [0.0]

    def running() -> bool:
        return time.perf_counter() < stop_at[0]

    def worker(i: int) -> None:
        barrier.wait()
        lats[i], errs[i] = body(i, running)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.perf_counter() + warmup + seconds
    start_holder["t"] = time.perf_counter()
    barrier.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start_holder["t"]
    # Latencies are recorded as (finish time, latency); drop the warm-up window.
    cutoff = start_holder["t"] + warmup
    kept = [lat for ls in lats for (fin, lat) in ls if fin >= cutoff]  # type: ignore[misc]
    return kept, sum(errs), elapsed - warmup


# -- in-process: the service layer ---------------------------------------------------------------
def inprocess(
    sessions: sessionmaker[Session],
    writer: CaseWriter,
    actor: Actor,
    plans: list[Plan],
    seconds: float,
    warmup: float,
    *,
    idempotency: bool = False,
) -> Point:
    clients = len(plans)

    def body(i: int, running: Callable[[], bool]) -> tuple[list[Any], int]:
        plan, out, errors, n = plans[i], [], 0, 0
        while running():
            slot, op = plan.next()
            request = EventCreate(event=op.event, data=op.data)
            n += 1
            key = f"bench-{i}-{n}-{time.time_ns()}" if idempotency else None
            t0 = time.perf_counter()
            try:
                with sessions() as session:
                    service.fire_event(
                        session,
                        writer=writer,
                        actor=actor,
                        case_id=op.case_id,
                        body=request,
                        if_match=f'"{op.expected_version}"',
                        idempotency_key=key,
                        now=utcnow(),
                        ttl=TTL,
                    )
            except Exception:  # noqa: BLE001 - counted; the run goes on
                errors += 1
                continue
            t1 = time.perf_counter()
            out.append((t1, t1 - t0))
            Plan.done(slot, op)
        return out, errors

    lats, errors, secs = _run_threads(clients, seconds, warmup, body)
    return point("in-process" + (" +idem-key" if idempotency else ""), clients, lats, secs, errors)


def count_statements(
    sessions: sessionmaker[Session], writer: CaseWriter, actor: Actor, plan: Plan, n: int
) -> dict[str, Any]:
    """Statements (cursor executes) and commits per transition, with the SQL of the last one."""
    bind = sessions.kw["bind"]
    seen: list[str] = []
    commits = [0]

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    def on_commit(_conn: Any) -> None:
        commits[0] += 1

    event.listen(bind, "before_cursor_execute", on_execute)
    event.listen(bind, "commit", on_commit)
    last: list[str] = []
    try:
        for _ in range(n):
            slot, op = plan.next()
            before = len(seen)
            with sessions() as session:
                service.fire_event(
                    session,
                    writer=writer,
                    actor=actor,
                    case_id=op.case_id,
                    body=EventCreate(event=op.event, data=op.data),
                    if_match=f'"{op.expected_version}"',
                    idempotency_key=None,
                    now=utcnow(),
                    ttl=TTL,
                )
            Plan.done(slot, op)
            last = seen[before:]
    finally:
        event.remove(bind, "before_cursor_execute", on_execute)
        event.remove(bind, "commit", on_commit)
    return {
        "statements_per_transition": round(len(seen) / n, 2),
        "commits_per_transition": round(commits[0] / n, 2),
        "round_trips_per_transition": round((len(seen) + commits[0]) / n, 2),
        "last_transition_sql": [_short(s) for s in last],
    }


def _short(sql: str) -> str:
    text = " ".join(sql.split())
    m = re.match(
        r"(SELECT|INSERT INTO|UPDATE|DELETE FROM|SAVEPOINT|RELEASE SAVEPOINT)\s+(\S+)", text
    )
    if not m:
        return text[:60]
    if m.group(1) == "SELECT":
        # The statement's own FROM comes after the subqueries in its select list (the time
        # floor, the organisation's visibility).
        tables = re.findall(
            r"(?:FROM|JOIN) (\w+)", re.split(r"\) AS (?:last_same|visible)", text)[-1]
        )
        lock = " FOR UPDATE" if "FOR UPDATE" in text else ""
        return f"SELECT {'+'.join(dict.fromkeys(tables)) or '?'}{lock}"
    return f"{m.group(1)} {m.group(2)}"


# -- raw psycopg: the same statements, by hand ------------------------------------------------------
RAW_INSERT = """
INSERT INTO case_events (case_id, seq, pathway_key, pathway_version, event, from_state, to_state,
    actor_id, actor_username, actor_role, actor_org, reason, data, occurred_at, recorded_at,
    backdated, idempotency_key)
VALUES (%s, %s, %s, 1, %s, %s, %s, %s, %s, %s, %s, NULL, %s, %s, %s, false, NULL)
"""
RAW_UPDATE = """
UPDATE cases SET state = %s, queue = %s, version = %s, updated_at = %s,
    attributes = attributes || %s::jsonb WHERE id = %s
"""


def raw(dsn: str, actor: Actor, plans: list[Plan], seconds: float, warmup: float) -> Point:
    clients = len(plans)

    def body(i: int, running: Callable[[], bool]) -> tuple[list[Any], int]:
        plan, out, errors = plans[i], [], 0
        with psycopg.connect(dsn) as conn:
            while running():
                slot, op = plan.next()
                t0 = time.perf_counter()
                try:
                    _raw_one(conn, actor, slot, op)
                except Exception:  # noqa: BLE001
                    conn.rollback()
                    errors += 1
                    continue
                t1 = time.perf_counter()
                out.append((t1, t1 - t0))
                Plan.done(slot, op)
        return out, errors

    lats, errors, secs = _run_threads(clients, seconds, warmup, body)
    return point("raw psycopg", clients, lats, secs, errors)


def _raw_one(conn: psycopg.Connection[Any], actor: Actor, slot: CaseSlot, op: Op) -> None:
    now = utcnow()
    with conn.transaction():
        row = conn.execute(
            "SELECT version, state FROM cases WHERE id = %s FOR UPDATE", (op.case_id,)
        ).fetchone()
        if row is None or row[0] != op.expected_version:
            raise RuntimeError("stale")
        data = json.dumps(op.data)
        conn.execute(
            RAW_UPDATE,
            (op.next_state, op.next_queue, op.expected_version + 1, now, data, op.case_id),
        )
        conn.execute(
            RAW_INSERT,
            (
                op.case_id,
                op.expected_version + 1,
                op.workflow,
                op.event,
                row[1],
                op.next_state,
                actor.user_id,
                actor.username,
                "discharge_team",
                actor.organisation,
                data,
                now,
                now,
            ),
        )


# -- pgbench: the same SQL in C -----------------------------------------------------------------
PGBENCH_SCRIPT = """\\set cid random({lo}, {hi})
BEGIN;
SELECT version FROM cases WHERE id = :cid FOR UPDATE;
UPDATE cases SET version = version + 1, updated_at = now(), attributes = attributes || '{{"ward": "WARD-7"}}'::jsonb WHERE id = :cid;
INSERT INTO case_events (case_id, seq, pathway_key, pathway_version, event, from_state, to_state, actor_id, actor_username, actor_role, actor_org, reason, data, occurred_at, recorded_at, backdated, idempotency_key) SELECT id, version, 'discharge', 1, 'update_details', state, state, {actor_id}, 'bench-pgbench', 'discharge_team', organisation, NULL, '{{"ward": "WARD-7"}}'::jsonb, now(), now(), false, NULL FROM cases WHERE id = :cid;
END;
"""


def pgbench(
    host: str, user: str, dbname: str, lo: int, hi: int, actor_id: int, clients: int, seconds: float
) -> Point:
    with tempfile.TemporaryDirectory(prefix="hf-pgbench-") as tmp:
        script = Path(tmp) / "transition.sql"
        script.write_text(PGBENCH_SCRIPT.format(lo=lo, hi=hi, actor_id=actor_id))
        cmd = [
            "pgbench",
            "-h",
            host,
            "-U",
            user,
            "-n",
            "-M",
            "prepared",
            "-c",
            str(clients),
            "-j",
            str(min(clients, 2)),
            "-T",
            str(max(int(seconds), 1)),
            "-f",
            str(script),
            "-l",
            "--log-prefix",
            str(Path(tmp) / "log"),
            dbname,
        ]
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=seconds + 120, check=False
        )  # noqa: S603
        if out.returncode != 0:
            return Point("pgbench", clients, 0, seconds, 1, extra={"error": out.stderr[-500:]})
        lats: list[float] = []
        for log in Path(tmp).glob("log*"):
            for line in log.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3:
                    lats.append(int(parts[2]) / 1e6)
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.stdout)
        p = point("pgbench", clients, lats, seconds)
        if tps:
            p.seconds = len(lats) / float(tps.group(1)) if float(tps.group(1)) else seconds
        return p


# -- HTTP: the running service ---------------------------------------------------------------------
def http(
    port: int, token: str, plans: list[Plan], seconds: float, warmup: float, path: str = "events"
) -> Point:
    return asyncio.run(_http(port, token, plans, seconds, warmup))


async def _http(port: int, token: str, plans: list[Plan], seconds: float, warmup: float) -> Point:
    clients = len(plans)
    start = time.perf_counter()
    stop_at = start + warmup + seconds
    cutoff = start + warmup
    lats: list[float] = []
    codes: Counter[int] = Counter()

    async def client(plan: Plan) -> None:
        conn = Conn("127.0.0.1", port)
        try:
            while time.perf_counter() < stop_at:
                slot, op = plan.next()
                t0 = time.perf_counter()
                status, _h, body = await conn.request(
                    "POST",
                    f"/api/v1/cases/{op.case_id}/events",
                    {"Authorization": f"Bearer {token}", "If-Match": f'"{op.expected_version}"'},
                    {"event": op.event, "data": op.data},
                )
                t1 = time.perf_counter()
                codes[status] += 1
                if status == 200:
                    Plan.done(slot, op)
                    if t1 >= cutoff:
                        lats.append(t1 - t0)
                elif status == 412:
                    slot.version = json.loads(body).get("current_version", slot.version)
        finally:
            await conn.close()

    await asyncio.gather(*(client(p) for p in plans))
    errors = sum(n for c, n in codes.items() if c != 200)
    p = point("HTTP", clients, lats, time.perf_counter() - cutoff, errors)
    p.extra["status_codes"] = dict(codes)
    return p


def http_statements(
    app_factory: Callable[[], Any], token: str, plan: Plan, n: int
) -> dict[str, Any]:
    """Statements per HTTP request (authentication included), through the ASGI app in-process."""
    from fastapi.testclient import TestClient

    application = app_factory()
    bind = application.state.sessions.kw["bind"]
    seen: list[str] = []

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    with TestClient(application) as tc:
        event.listen(bind, "before_cursor_execute", on_execute)
        try:
            for _ in range(n):
                slot, op = plan.next()
                r = tc.post(
                    f"/api/v1/cases/{op.case_id}/events",
                    headers={
                        "Authorization": f"Bearer {token}",
                        "If-Match": f'"{op.expected_version}"',
                    },
                    json={"event": op.event, "data": op.data},
                )
                if r.status_code != 200:
                    raise RuntimeError(
                        f"statement count request failed: {r.status_code} {r.text[:200]}"
                    )
                Plan.done(slot, op)
        finally:
            event.remove(bind, "before_cursor_execute", on_execute)
    bind.dispose()
    return {"statements_per_http_request": round(len(seen) / n, 2)}


def summarise(points: list[Point]) -> dict[str, Any]:
    return {"p99_all_ms": percentile([p.p99_ms or 0 for p in points], 100)}


def splits(slots: list[CaseSlot], clients: int, kind: str) -> list[Plan]:
    return [Plan(kind, s) for s in split(slots, clients)]
