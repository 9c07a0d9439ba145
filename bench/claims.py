"""CHC work-queue claims: concurrent assessors drain a backlog over HTTP; a naive control.

Each assessor claims the next case (`POST /api/v1/queues/chc/claim`), then finishes it with a
legal `withdraw` event so the case leaves the working list: the configured claim limit is one
live claim per assessor, so an assessor must finish a case before claiming the next. Claim
latency is the claim request alone; claims/s is the drain rate (claim + finish).

The double-claim check reads the append-only claim log: within one drain, with no releases and
no lapses, each case must be claimed exactly once. The naive control (SELECT, then UPDATE, no
lock) writes the same log, and the same check must find double claims in it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from datetime import datetime
from typing import Any

import psycopg

from bench.httpclient import Conn
from bench.stats import point


def double_claims(dsn: str, organisation: str, since: datetime) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            """
            SELECT count(*), count(DISTINCT case_id),
                   (SELECT count(*) FROM (
                        SELECT case_id FROM chc_claim_log
                        WHERE organisation = %(org)s AND action = 'claimed' AND at >= %(since)s
                        GROUP BY case_id HAVING count(*) > 1) d)
            FROM chc_claim_log
            WHERE organisation = %(org)s AND action = 'claimed' AND at >= %(since)s
            """,
            {"org": organisation, "since": since},
        ).fetchone()
    assert row is not None  # noqa: S101
    return {
        "claims_logged": int(row[0]),
        "cases_claimed": int(row[1]),
        "double_claimed_cases": int(row[2]),
    }


def backlog_versions(dsn: str, organisation: str) -> dict[int, int]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, version FROM cases WHERE organisation = %s AND is_open", (organisation,)
        ).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}


def drain_http(
    port: int, tokens: list[str], versions: dict[int, int], max_seconds: float
) -> dict[str, Any]:
    return asyncio.run(_drain(port, tokens, versions, max_seconds))


async def _drain(
    port: int, tokens: list[str], versions: dict[int, int], max_seconds: float
) -> dict[str, Any]:
    claim_lat: list[float] = []
    finish_lat: list[float] = []
    claimed: list[int] = []
    codes: Counter[str] = Counter()
    start = time.perf_counter()
    deadline = start + max_seconds

    async def assessor(token: str) -> None:
        conn = Conn("127.0.0.1", port)
        auth = {"Authorization": f"Bearer {token}"}
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                status, _h, body = await conn.request("POST", "/api/v1/queues/chc/claim", auth)
                t1 = time.perf_counter()
                codes[f"claim {status}"] += 1
                if status == 404:
                    return  # queue_empty: the backlog is drained
                if status != 200:
                    continue
                claim_lat.append(t1 - t0)
                case_id = int(json.loads(body)["case_id"])
                claimed.append(case_id)
                t2 = time.perf_counter()
                status, _h, body = await conn.request(
                    "POST",
                    f"/api/v1/cases/{case_id}/events",
                    {**auth, "If-Match": f'"{versions.get(case_id, 0)}"'},
                    {"event": "withdraw", "data": {"withdrawal_reason": "bench: assessment done"}},
                )
                codes[f"finish {status}"] += 1
                if status == 200:
                    finish_lat.append(time.perf_counter() - t2)
        finally:
            await conn.close()

    await asyncio.gather(*(assessor(t) for t in tokens))
    elapsed = time.perf_counter() - start
    p = point(
        "claims HTTP",
        len(tokens),
        claim_lat,
        elapsed,
        sum(n for c, n in codes.items() if not c.endswith((" 200", " 404"))),
    )
    dup_client = sum(1 for _c, n in Counter(claimed).items() if n > 1)
    finish = point("finish (withdraw)", len(tokens), finish_lat, elapsed)
    return {
        "point": p.as_dict(),
        "claims": len(claimed),
        "claims_per_s": round(len(claimed) / elapsed, 1) if elapsed else 0,
        "drained": time.perf_counter() < deadline,
        "client_seen_duplicates": dup_client,
        "finish_p50_ms": finish.p50_ms,
        "finish_p99_ms": finish.p99_ms,
        "status_codes": dict(codes),
        "seconds": round(elapsed, 1),
    }


NAIVE_PICK = """
SELECT w.case_id FROM chc_work_items w JOIN cases c ON c.id = w.case_id
WHERE w.organisation = %s AND c.is_open AND w.claimed_by_id IS NULL
ORDER BY w.rag_rank, w.waiting_since, w.case_id LIMIT 1
"""


def naive_drain(
    dsn: str, organisation: str, users: list[tuple[int, str]], max_seconds: float
) -> dict[str, Any]:
    """The control: read the next unclaimed row, then claim it, with no lock between the two."""
    claimed: list[int] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + max_seconds

    def worker(user_id: int, username: str) -> None:
        with psycopg.connect(dsn, autocommit=True) as conn:
            while time.perf_counter() < deadline:
                row = conn.execute(NAIVE_PICK, (organisation,)).fetchone()
                if row is None:
                    return
                case_id = int(row[0])
                conn.execute(
                    "UPDATE chc_work_items SET claimed_by_id = %s, claimed_by = %s, claimed_at = now(), "
                    "claim_expires_at = now() + interval '4 hours' WHERE case_id = %s",
                    (user_id, username, case_id),
                )
                conn.execute(
                    "INSERT INTO chc_claim_log (case_id, organisation, action, assessor_id, assessor, "
                    "by_username, reason, expires_at, at) VALUES (%s, %s, 'claimed', %s, %s, %s, NULL, "
                    "now() + interval '4 hours', now())",
                    (case_id, organisation, user_id, username, username),
                )
                with lock:
                    claimed.append(case_id)

    threads = [threading.Thread(target=worker, args=u, daemon=True) for u in users]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "claims": len(claimed),
        "client_seen_duplicates": sum(1 for _c, n in Counter(claimed).items() if n > 1),
        "seconds": round(time.perf_counter() - t0, 1),
    }
