"""Dashboard reads over HTTP: the day's metrics, the Ready-for-Discharge list and the change
feed.

Sequential requests (one client), so each figure is the latency a person waits for. Bounded by a
sample count and a time budget per endpoint, whichever ends first.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from bench.httpclient import Conn
from bench.stats import point

ENDPOINTS = {
    "metrics": "/api/v1/dashboard/metrics",
    "rfd": "/api/v1/rfd",
}


def measure(
    port: int, token: str, samples: int, budget_s: float, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    return asyncio.run(_measure(port, token, samples, budget_s, {**ENDPOINTS, **(extra or {})}))


async def _measure(
    port: int, token: str, samples: int, budget_s: float, endpoints: dict[str, str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, path in endpoints.items():
        conn = Conn("127.0.0.1", port)
        lats: list[float] = []
        size = 0
        rows: int | None = None
        errors = 0
        first_ms = None
        start = time.perf_counter()
        try:
            # One warm-up request (first plan; for the metrics, the first computation of
            # today's figures, which readers after it get from the live figures), not counted
            # but reported.
            t_first = time.perf_counter()
            await conn.request("GET", path, {"Authorization": f"Bearer {token}"}, timeout=600)
            first_ms = round(1000 * (time.perf_counter() - t_first), 1)
            while len(lats) < samples and time.perf_counter() - start < budget_s:
                t0 = time.perf_counter()
                status, _h, body = await conn.request(
                    "GET", path, {"Authorization": f"Bearer {token}"}, timeout=600
                )
                if status != 200:
                    errors += 1
                    continue
                lats.append(time.perf_counter() - t0)
                size = len(body)
                if name == "rfd":
                    rows = int(json.loads(body).get("count", 0))
        finally:
            await conn.close()
        p = point(name, 1, lats, sum(lats), errors)
        p.extra.update({"response_bytes": size, "rows": rows, "first_ms": first_ms})
        out[name] = p.as_dict()
    return out
